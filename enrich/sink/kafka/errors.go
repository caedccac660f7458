package kafka

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aegis-nsm/aegis/enrich/sink"
	kafkago "github.com/segmentio/kafka-go"
)

// Name is the sink's name in logs, metrics and errors.
const Name = "kafka"

// class is what an error means for delivery.
type class int

const (
	// retriable: the broker is down, restarting, electing a leader,
	// short of replicas, or the network failed. Retry for ever.
	retriable class = iota
	// unknownTopic: the broker does not know the topic or partition. It
	// is retriable until fresh metadata confirms the topic is missing.
	unknownTopic
	// tooLarge: the batch is over the broker's size limit; split it, and
	// fail a single record that is still too large.
	tooLarge
	// fatal: configuration or permission; retrying cannot fix it, the sink
	// stops.
	fatal
	// recordFatal: this record cannot be written; fail it, go on.
	recordFatal
)

// classify sorts a produce or metadata error and, for permanent ones,
// says what to fix. topic is the topic involved, if any.
//
// probe follows the SASL exchanges of the attempts err comes from (nil
// when unknown).
func (s *Sink) classify(err error, topic string, probe *saslProbe) (class, *sink.PermanentError) {
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		switch kerr {
		case kafkago.UnknownTopicOrPartition:
			return unknownTopic, nil
		case kafkago.MessageSizeTooLarge, kafkago.RecordListTooLarge:
			return tooLarge, nil
		case kafkago.TopicAuthorizationFailed:
			return fatal, s.permanent(err, fmt.Sprintf("grant %s WRITE and DESCRIBE on topic %q, or set another topic in kafka.topics", s.principal(), topic))
		case kafkago.ClusterAuthorizationFailed:
			return fatal, s.permanent(err, fmt.Sprintf("grant %s the cluster permissions it lacks (IDEMPOTENT_WRITE is not needed; check the broker's authorizer log)", s.principal()))
		case kafkago.SASLAuthenticationFailed, kafkago.IllegalSASLState:
			return fatal, s.permanent(err, s.saslFix())
		case kafkago.UnsupportedSASLMechanism:
			return fatal, s.permanent(err, fmt.Sprintf("the brokers do not accept SASL mechanism %s: set kafka.sasl.mechanism to one the listener enables (sasl.enabled.mechanisms)", s.cfg.SASL.Mechanism))
		case kafkago.InvalidTopic:
			return fatal, s.permanent(err, fmt.Sprintf("topic %q is not a valid Kafka topic name: fix kafka.topics", topic))
		case kafkago.InvalidRequiredAcks, kafkago.UnsupportedVersion, kafkago.InvalidRequest:
			return fatal, s.permanent(err, "the brokers reject Aegis's produce requests (acks=all, record batch v2): use Kafka 0.11 or later, or Redpanda")
		case kafkago.UnsupportedCompressionType:
			return fatal, s.permanent(err, fmt.Sprintf("the brokers do not support compression %s: choose another kafka.compression (zstd needs Kafka 2.1)", s.cfg.Compression))
		case kafkago.PolicyViolation:
			return fatal, s.permanent(err, fmt.Sprintf("a broker policy refuses writes to %q: check the topic's configuration", topic))
		case kafkago.InvalidRecord, kafkago.InvalidTimestamp:
			return recordFatal, nil
		}
		// Everything else (leader moves, not enough replicas, timeouts,
		// throttling, broker not available, and codes this build does not
		// know) is retried: never drop a record on an error that may pass.
		return retriable, nil
	}
	if tlsFailure(err) {
		return fatal, s.permanent(err, s.tlsFix())
	}
	if isSASLFailure(err) {
		return fatal, s.permanent(err, s.saslFix())
	}
	if probe.rejected() {
		return fatal, s.permanent(fmt.Errorf("SASL %s login of user %q rejected (the broker closed the connection during the exchange, %d times in a row): %w",
			s.cfg.SASL.Mechanism, s.cfg.SASL.Username, saslCutsFatal, err), s.saslFix())
	}
	return retriable, nil
}

// saslError marks an error raised by the SASL exchange itself (the SCRAM
// client rejecting the server's answer), which carries no Kafka code.
type saslError struct{ err error }

func (e *saslError) Error() string { return "sasl: " + e.err.Error() }
func (e *saslError) Unwrap() error { return e.err }

func isSASLFailure(err error) bool {
	var se *saslError
	return errors.As(err, &se)
}

func (s *Sink) permanent(err error, fix string) *sink.PermanentError {
	return &sink.PermanentError{Sink: Name, Err: err, Fix: fix}
}

func (s *Sink) principal() string {
	if s.cfg.SASL.Username != "" {
		return "User:" + s.cfg.SASL.Username
	}
	return "the Aegis principal"
}

func (s *Sink) saslFix() string {
	src := "kafka.sasl.password_file " + s.cfg.SASL.PasswordFile
	if s.cfg.SASL.PasswordEnv != "" {
		src = "the environment variable " + s.cfg.SASL.PasswordEnv
	}
	if s.cfg.SASL.Mechanism == "" {
		return "the brokers require SASL: set kafka.sasl (mechanism, username, password_file or password_env)"
	}
	return fmt.Sprintf("SASL %s login of user %q failed: check kafka.sasl.username and the password in %s, and that the user exists for this mechanism on the brokers",
		s.cfg.SASL.Mechanism, s.cfg.SASL.Username, src)
}

func (s *Sink) tlsFix() string {
	if !s.cfg.TLS.On() {
		return "the listener seems to speak TLS: set kafka.tls.enabled (and kafka.tls.ca_file)"
	}
	return "TLS handshake with the brokers failed: check kafka.tls.ca_file (the CA that signed the brokers' certificates), kafka.tls.server_name (must match the certificate), and kafka.tls.cert_file/key_file if the brokers require client certificates"
}

func (s *Sink) missingTopicFix(topics []string) string {
	return fmt.Sprintf("create the topic(s) %s on the cluster (e.g. kafka-topics.sh --create --topic %s --partitions 6 --replication-factor 3 --config min.insync.replicas=2) or point kafka.topics at existing ones; Aegis never creates topics",
		strings.Join(topics, ", "), topics[0])
}
