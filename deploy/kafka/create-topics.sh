#!/usr/bin/env bash
# create-topics.sh: create the Kafka topics Aegis publishes to.
#
# Aegis never creates topics: at start-up its Kafka sink checks that the
# brokers answer and that every configured topic exists, and stops with a
# message if one is missing. Run this once per cluster (it is idempotent:
# existing topics are left as they are), with Apache Kafka's
# kafka-topics.sh or Redpanda's rpk, whichever is found.
#
# Usage:
#   BOOTSTRAP=kafka-1:9092 ./create-topics.sh
#   TOOL=rpk BOOTSTRAP=redpanda:9092 REPLICATION=1 ./create-topics.sh
#   DRY_RUN=1 ./create-topics.sh          # print the commands only
#
# Settings (environment):
#   BOOTSTRAP        bootstrap servers, host:port[,host:port]   (localhost:9092)
#   TOOL             kafka-topics.sh or rpk                      (found in PATH)
#   KAFKA_BIN        directory of kafka-topics.sh if not in PATH (/opt/kafka/bin)
#   COMMAND_CONFIG   kafka-topics.sh --command-config file (TLS/SASL client
#                    properties); for rpk use its own profile or RPK_* variables
#   PARTITIONS       partitions per topic                        (12)
#   REPLICATION      replication factor                          (3)
#   MIN_INSYNC       min.insync.replicas       (2, at most REPLICATION)
#   RETENTION_MS     retention of detections and couplings       (1209600000 = 14 d)
#   LONG_RETENTION_MS retention of verdicts and campaigns        (7776000000 = 90 d)
#   CLEANUP_POLICY   cleanup.policy                              (delete)
#   MAX_MESSAGE_BYTES max.message.bytes                          (1048588)
#   PREFIX           prepended to every topic name               (none)
#
# The topic names are the defaults of outputs.<name>.kafka.topics in
# aegis.yaml; change both together. Records are keyed by source IP (or
# Community ID), so the partition count bounds consumer parallelism: pick
# it for the consumers, and do not lower it later (keys would move).
set -euo pipefail

BOOTSTRAP="${BOOTSTRAP:-localhost:9092}"
PARTITIONS="${PARTITIONS:-12}"
REPLICATION="${REPLICATION:-3}"
RETENTION_MS="${RETENTION_MS:-1209600000}"
LONG_RETENTION_MS="${LONG_RETENTION_MS:-7776000000}"
CLEANUP_POLICY="${CLEANUP_POLICY:-delete}"
MAX_MESSAGE_BYTES="${MAX_MESSAGE_BYTES:-1048588}"
PREFIX="${PREFIX:-}"
COMMAND_CONFIG="${COMMAND_CONFIG:-}"
DRY_RUN="${DRY_RUN:-0}"
if [ -z "${MIN_INSYNC:-}" ]; then
	MIN_INSYNC=2
	if [ "$REPLICATION" -lt 2 ]; then
		MIN_INSYNC=1
	fi
fi

die() {
	echo "create-topics.sh: $*" >&2
	exit 1
}

for v in PARTITIONS REPLICATION MIN_INSYNC RETENTION_MS LONG_RETENTION_MS MAX_MESSAGE_BYTES; do
	case "${!v}" in
	'' | *[!0-9]*) die "$v must be a positive integer (got '${!v}')" ;;
	esac
	[ "${!v}" -gt 0 ] || die "$v must be a positive integer (got '${!v}')"
done
[ "$MIN_INSYNC" -le "$REPLICATION" ] || die "MIN_INSYNC ($MIN_INSYNC) is above REPLICATION ($REPLICATION): producers with acks=all could never write"
case "$CLEANUP_POLICY" in
delete | compact | compact,delete | delete,compact) ;;
*) die "CLEANUP_POLICY must be delete, compact or compact,delete (got '$CLEANUP_POLICY')" ;;
esac

# topic name and retention, one per line. Detections and couplings are
# the high-volume stream; verdicts (LLM analyses) and campaigns are fewer
# and worth keeping for investigations.
topics() {
	printf '%s %s\n' \
		"${PREFIX}aegis.detections" "$RETENTION_MS" \
		"${PREFIX}aegis.verdicts" "$LONG_RETENTION_MS" \
		"${PREFIX}aegis.couplings" "$RETENTION_MS" \
		"${PREFIX}aegis.campaigns" "$LONG_RETENTION_MS"
}

find_tool() {
	if [ -n "${TOOL:-}" ]; then
		if [ "$DRY_RUN" = 1 ]; then
			case "$TOOL" in
			rpk | */rpk | kafka-topics.sh | */kafka-topics.sh | kafka-topics | */kafka-topics) return ;;
			esac
		fi
		case "$TOOL" in
		rpk | */rpk) command -v "$TOOL" >/dev/null 2>&1 || die "TOOL=$TOOL not found" ;;
		kafka-topics.sh | */kafka-topics.sh | kafka-topics | */kafka-topics)
			if ! command -v "$TOOL" >/dev/null 2>&1 && [ -x "${KAFKA_BIN:-/opt/kafka/bin}/$TOOL" ]; then
				TOOL="${KAFKA_BIN:-/opt/kafka/bin}/$TOOL"
			fi
			command -v "$TOOL" >/dev/null 2>&1 || die "TOOL=$TOOL not found"
			;;
		*) die "TOOL must be kafka-topics.sh or rpk (got '$TOOL')" ;;
		esac
		return
	fi
	local t
	for t in kafka-topics.sh kafka-topics "${KAFKA_BIN:-/opt/kafka/bin}/kafka-topics.sh" rpk; do
		if command -v "$t" >/dev/null 2>&1; then
			TOOL="$t"
			return
		fi
	done
	if [ "$DRY_RUN" = 1 ]; then
		TOOL=kafka-topics.sh
		return
	fi
	die "neither kafka-topics.sh (Apache Kafka; set KAFKA_BIN) nor rpk (Redpanda) found; set TOOL"
}

# run prints a command, then runs it unless DRY_RUN=1.
run() {
	printf '+'
	printf ' %q' "$@"
	printf '\n'
	if [ "$DRY_RUN" != 1 ]; then
		"$@"
	fi
}

create_kafka() {
	local name=$1 retention=$2
	local extra=()
	if [ -n "$COMMAND_CONFIG" ]; then
		extra=(--command-config "$COMMAND_CONFIG")
	fi
	run "$TOOL" --bootstrap-server "$BOOTSTRAP" "${extra[@]}" \
		--create --if-not-exists --topic "$name" \
		--partitions "$PARTITIONS" --replication-factor "$REPLICATION" \
		--config "cleanup.policy=$CLEANUP_POLICY" \
		--config "retention.ms=$retention" \
		--config "min.insync.replicas=$MIN_INSYNC" \
		--config "max.message.bytes=$MAX_MESSAGE_BYTES"
}

create_rpk() {
	local name=$1 retention=$2 out
	local args=(topic create "$name" -X "brokers=$BOOTSTRAP"
		--partitions "$PARTITIONS" --replicas "$REPLICATION"
		--topic-config "cleanup.policy=$CLEANUP_POLICY"
		--topic-config "retention.ms=$retention"
		--topic-config "min.insync.replicas=$MIN_INSYNC"
		--topic-config "max.message.bytes=$MAX_MESSAGE_BYTES")
	printf '+'
	printf ' %q' "$TOOL" "${args[@]}"
	printf '\n'
	if [ "$DRY_RUN" = 1 ]; then
		return
	fi
	# rpk reports an existing topic as TOPIC_ALREADY_EXISTS and exits 1:
	# that is success here.
	if out=$("$TOOL" "${args[@]}" 2>&1); then
		printf '%s\n' "$out"
	elif printf '%s' "$out" | grep -q 'TOPIC_ALREADY_EXISTS'; then
		echo "$name exists; left as it is"
	else
		printf '%s\n' "$out" >&2
		die "rpk could not create $name"
	fi
}

find_tool
echo "creating Aegis topics on $BOOTSTRAP with $TOOL (partitions $PARTITIONS, replication $REPLICATION, min.insync.replicas $MIN_INSYNC, cleanup.policy $CLEANUP_POLICY)"
while read -r name retention; do
	case "$TOOL" in
	rpk | */rpk) create_rpk "$name" "$retention" ;;
	*) create_kafka "$name" "$retention" ;;
	esac
done < <(topics)
echo "done"
