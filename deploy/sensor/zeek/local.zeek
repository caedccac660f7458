# Zeek settings for an Aegis sensor: add these lines to the site policy
# (share/zeek/site/local.zeek, or load this file after it:
#   zeek -i af_packet::eth1 local /etc/zeek/aegis/local.zeek).
# Aegis follows conn.log, ssl.log and conn_long.log (logs.zeek in
# aegis.yaml) and joins them with the packets of the same flows.

# --- Community ID -------------------------------------------------------------
# conn.log gets a community_id column; Aegis joins records with packets by it
# (by 5-tuple and time overlap without it). Zeek 6.0 and later ship the
# script. On Zeek 5 and older install the package instead
#   zkg install zeek/corelight/zeek-community-id
# and load it with @load packages/zeek-community-id (same column, same seed).
@load policy/protocols/conn/community-id-logging

# The seed must equal community_id_seed in aegis.yaml (and Suricata's
# community-id-seed, Arkime's, Filebeat's).
redef CommunityID::seed = 0;

# --- Long connections -----------------------------------------------------------
# conn.log is written when a connection ends (TCP: up to 5 min after the
# last packet); a long agent shell or streaming session would reach Aegis
# only then. The corelight package writes conn_long.log snapshots at 10 min,
# 30 min, 1 h, ... so that Aegis can analyse long flows while their packets
# are still in the capture ring. Install it first:
#   zkg install zeek/corelight/zeek-long-connections
@load packages/zeek-long-connections

# --- TLS ---------------------------------------------------------------------------
# ssl.log (SNI, written at the end of the handshake) is loaded by default
# (base/protocols/ssl); Aegis follows it to name the server of a stream.
# Nothing to change.

# --- Log format ---------------------------------------------------------------------
# Aegis reads TSV (the default) and JSON, with epoch or ISO 8601 timestamps.
# For JSON uncomment both lines:
# @load policy/tuning/json-logs
# redef LogAscii::json_timestamps = JSON::TS_ISO8601;
# Never write the live logs compressed (LogAscii::gzip_level or zeekctl's
# CompressLogsInFlight): a gzip stream cannot be followed line by line.

# --- Rotation -------------------------------------------------------------------------
# Standalone zeek does not rotate (zeekctl rotates hourly, LogRotationInterval);
# rotate hourly so that the log directory does not grow without bound. Aegis
# follows a log across the rename by inode and reads the renamed file to its
# end. Keep rotated logs at least as long as the capture ring holds packets.
redef Log::default_rotation_interval = 1 hr;

# --- Timeouts -----------------------------------------------------------------------------
# Aegis splits packet flows with Zeek's defaults (flow_semantics: zeek,
# flow_table.tcp_idle 5m, udp_idle 1m, close_delay 5s). If you change these,
# change flow_table in aegis.yaml to the same values:
# redef tcp_inactivity_timeout = 5 min;
# redef udp_inactivity_timeout = 1 min;
# redef tcp_close_delay = 5 sec;
