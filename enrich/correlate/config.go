package correlate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink/kafka"
)

// Start values of InputConfig.Start: where a partition nobody has
// committed an offset for begins.
const (
	// StartEarliest reads the partition from its first retained record and
	// publishes the campaigns all of it yields (a backfill).
	StartEarliest = "earliest"
	// StartLatest rebuilds the windows from Campaigns.Lookback before the
	// end of the partition and publishes only what arrives after it.
	StartLatest = "latest"
)

// Config is the configuration of the correlation service: the Kafka input
// (the detection topics of every sensor, read as one consumer group) and
// the campaign windows. It decodes from the "input" and "campaigns"
// sections of correlate.yaml; DefaultConfig gives every default, Validate
// names the key of every problem. A Config is a plain value; New copies it.
type Config struct {
	Input     InputConfig    `yaml:"input"`
	Campaigns CampaignConfig `yaml:"campaigns"`
}

// InputConfig is where detections come from: one consumer group over the
// detection topics of all sensors. Detections must be keyed by source
// address (the Kafka sink's default key, source_ip), so that one host's
// records from every sensor share a partition.
type InputConfig struct {
	// Brokers are the bootstrap brokers, "host:port".
	Brokers []string `yaml:"brokers"`
	// Topics are the detection topics (every sensor's; recon records
	// travel on them too).
	Topics []string `yaml:"topics"`
	// GroupID is the consumer group. Every instance of one deployment uses
	// the same group id; each owns the hosts of the partitions assigned to
	// it.
	GroupID string `yaml:"group_id"`
	// ClientID is the Kafka client id (broker logs, quotas).
	ClientID string `yaml:"client_id"`
	// TLS and SASL work as in the Kafka sink's configuration.
	TLS  kafka.TLSConfig  `yaml:"tls"`
	SASL kafka.SASLConfig `yaml:"sasl"`
	// Start is where a partition without a committed offset begins:
	// earliest (default) or latest.
	Start string `yaml:"start"`
	// SessionTimeout is how long the group coordinator waits for a
	// heartbeat before it gives a silent instance's partitions to the
	// others.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// HeartbeatInterval is how often an instance tells the coordinator it
	// is alive (and learns of rebalances).
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// RebalanceTimeout is how long the coordinator waits for every
	// instance to rejoin during a rebalance; an instance drains (publishes
	// and commits) its partitions within DrainTimeout, which must be
	// shorter.
	RebalanceTimeout time.Duration `yaml:"rebalance_timeout"`
	// DrainTimeout bounds how long an instance waits, when it loses its
	// partitions or stops, for Kafka to acknowledge the campaign records
	// already published before it commits the offsets they came from.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// JoinBackoff is the wait before rejoining the group after an error.
	JoinBackoff time.Duration `yaml:"join_backoff"`
	// CommitInterval is how often offsets are committed while running
	// (only past records whose campaign records Kafka has acknowledged).
	CommitInterval time.Duration `yaml:"commit_interval"`
	// MaxWait bounds how long a fetch waits for new records.
	MaxWait time.Duration `yaml:"max_wait"`
	// MaxBytes bounds one fetch response per partition.
	MaxBytes int `yaml:"max_bytes"`
	// DialTimeout bounds connecting to a broker, TLS and SASL included.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// Timeout bounds one request to the group coordinator.
	Timeout time.Duration `yaml:"timeout"`
}

// CampaignConfig shapes the per-host windows and the campaigns.
type CampaignConfig struct {
	// Rules are the ids of the campaign rules (multi-flow rules with
	// preceded_by steps). Empty: every loaded rule that has steps. Their
	// longest step window is the campaign window W.
	Rules []string `yaml:"rules"`
	// Span anchors campaigns in record time: a campaign belongs to the
	// span (aligned to the epoch) its first rule hit falls in and gathers
	// evidence from W before that hit to W after the span's end; activity
	// that goes on longer shows up as consecutive campaigns. Span bounds
	// how far back a campaign's state reaches, which is what makes
	// rebuilding it after a rebalance exact.
	Span time.Duration `yaml:"span"`
	// Lateness is how long after a span's end (plus W) records of it are
	// still taken, in partition record time; later ones are counted and
	// dropped.
	Lateness time.Duration `yaml:"lateness"`
	// Lookback is how far before the first record not yet committed an
	// instance that takes a partition starts re-reading it (by Kafka
	// timestamp) to rebuild the windows. It must cover Span + 2W +
	// Lateness plus the sensors' publishing delay; the detection topic's
	// retention must exceed it.
	Lookback time.Duration `yaml:"lookback"`
	// MaxHosts bounds the hosts tracked per partition; when full, the host
	// seen least recently is dropped (counted: hosts_evicted).
	MaxHosts int `yaml:"max_hosts"`
	// MaxHostRecords bounds the records kept per host; the oldest go
	// first (counted: records_trimmed).
	MaxHostRecords int `yaml:"max_host_records"`
	// MaxEvidence bounds the evidence listed in one campaign; later
	// evidence is left out and the campaign says so (evidence_capped).
	MaxEvidence int `yaml:"max_evidence"`
}

// Defaults.
const (
	DefaultGroupID           = "aegis-correlate"
	DefaultClientID          = "aegis-correlate"
	DefaultSessionTimeout    = 30 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultRebalanceTimeout  = 30 * time.Second
	DefaultDrainTimeout      = 15 * time.Second
	DefaultJoinBackoff       = 5 * time.Second
	DefaultCommitInterval    = 2 * time.Second
	DefaultMaxWait           = 500 * time.Millisecond
	DefaultMaxBytes          = 10 << 20
	DefaultDialTimeout       = 10 * time.Second
	DefaultTimeout           = 10 * time.Second
	DefaultSpan              = time.Hour
	DefaultLateness          = 10 * time.Minute
	DefaultLookback          = 2 * time.Hour
	DefaultMaxHosts          = 200_000
	DefaultMaxHostRecords    = 1024
	DefaultMaxEvidence       = 128
)

// DefaultConfig returns the defaults (without brokers and topics, which
// have none).
func DefaultConfig() Config {
	return Config{
		Input: InputConfig{
			GroupID:           DefaultGroupID,
			ClientID:          DefaultClientID,
			Start:             StartEarliest,
			SessionTimeout:    DefaultSessionTimeout,
			HeartbeatInterval: DefaultHeartbeatInterval,
			RebalanceTimeout:  DefaultRebalanceTimeout,
			DrainTimeout:      DefaultDrainTimeout,
			JoinBackoff:       DefaultJoinBackoff,
			CommitInterval:    DefaultCommitInterval,
			MaxWait:           DefaultMaxWait,
			MaxBytes:          DefaultMaxBytes,
			DialTimeout:       DefaultDialTimeout,
			Timeout:           DefaultTimeout,
		},
		Campaigns: CampaignConfig{
			Span:           DefaultSpan,
			Lateness:       DefaultLateness,
			Lookback:       DefaultLookback,
			MaxHosts:       DefaultMaxHosts,
			MaxHostRecords: DefaultMaxHostRecords,
			MaxEvidence:    DefaultMaxEvidence,
		},
	}
}

// Validate reports every invalid setting, each naming its YAML key and the
// fix. It does not contact Kafka or read the TLS and password files (New
// does).
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	in := &c.Input
	if len(in.Brokers) == 0 {
		bad("input.brokers: at least one broker (host:port) is required")
	}
	for _, b := range in.Brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			bad("input.brokers: %q: want host:port", b)
		}
	}
	if len(in.Topics) == 0 {
		bad("input.topics: name the detection topic(s) of the sensors, e.g. [aegis.detections]")
	}
	for i, t := range in.Topics {
		if t == "" || strings.ContainsAny(t, " \t/\\,") {
			bad("input.topics[%d]: %q is not a topic name", i, t)
		}
		if slices.Contains(in.Topics[:i], t) {
			bad("input.topics: %q is listed twice", t)
		}
	}
	if in.GroupID == "" {
		bad("input.group_id: must not be empty (every instance of one deployment uses the same group)")
	}
	switch in.Start {
	case StartEarliest, StartLatest:
	default:
		bad("input.start: %q is not earliest or latest", in.Start)
	}
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			bad("%s: %v must be positive", name, d)
		}
	}
	pos("input.session_timeout", in.SessionTimeout)
	pos("input.heartbeat_interval", in.HeartbeatInterval)
	pos("input.rebalance_timeout", in.RebalanceTimeout)
	pos("input.drain_timeout", in.DrainTimeout)
	pos("input.join_backoff", in.JoinBackoff)
	pos("input.commit_interval", in.CommitInterval)
	pos("input.max_wait", in.MaxWait)
	pos("input.dial_timeout", in.DialTimeout)
	pos("input.timeout", in.Timeout)
	if in.HeartbeatInterval >= in.SessionTimeout && in.SessionTimeout > 0 {
		bad("input.heartbeat_interval %v must be shorter than input.session_timeout %v (a third of it is usual)", in.HeartbeatInterval, in.SessionTimeout)
	}
	if in.DrainTimeout >= in.RebalanceTimeout && in.RebalanceTimeout > 0 {
		bad("input.drain_timeout %v must be shorter than input.rebalance_timeout %v, or a rebalance goes on without this instance's commits", in.DrainTimeout, in.RebalanceTimeout)
	}
	if in.MaxBytes < 1<<10 {
		bad("input.max_bytes %d: must be at least 1024 (and above the largest record)", in.MaxBytes)
	}
	if (in.TLS.CertFile == "") != (in.TLS.KeyFile == "") {
		bad("input.tls: cert_file and key_file go together (client certificate and its key)")
	}
	switch strings.ToUpper(in.SASL.Mechanism) {
	case "":
		if in.SASL.Username != "" || in.SASL.PasswordFile != "" || in.SASL.PasswordEnv != "" {
			bad("input.sasl: mechanism is required (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) when username or password is set")
		}
	case kafka.SASLPlain, kafka.SASLScramSHA256, kafka.SASLScramSHA512:
		if in.SASL.Username == "" {
			bad("input.sasl: username is required with mechanism %s", in.SASL.Mechanism)
		}
		if (in.SASL.PasswordFile == "") == (in.SASL.PasswordEnv == "") {
			bad("input.sasl: set exactly one of password_file and password_env")
		}
	default:
		bad("input.sasl: mechanism %q: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", in.SASL.Mechanism)
	}

	cp := &c.Campaigns
	pos("campaigns.span", cp.Span)
	if cp.Lateness < 0 {
		bad("campaigns.lateness: %v must not be negative", cp.Lateness)
	}
	pos("campaigns.lookback", cp.Lookback)
	if cp.Span > 0 && cp.Span < time.Minute {
		bad("campaigns.span: %v is too short (at least 1m; 1h is usual)", cp.Span)
	}
	if cp.Span > 0 && cp.Lookback > 0 && cp.Lookback < cp.Span+cp.Lateness {
		bad("campaigns.lookback %v must cover campaigns.span + campaigns.lateness (%v) plus twice the campaign window, or a rebuilt window misses evidence", cp.Lookback, cp.Span+cp.Lateness)
	}
	if cp.MaxHosts < 1 {
		bad("campaigns.max_hosts: %d must be at least 1", cp.MaxHosts)
	}
	if cp.MaxHostRecords < 2 {
		bad("campaigns.max_host_records: %d must be at least 2", cp.MaxHostRecords)
	}
	if cp.MaxEvidence < 2 || cp.MaxEvidence > 10_000 {
		bad("campaigns.max_evidence: %d must be 2..10000", cp.MaxEvidence)
	}
	for i, id := range cp.Rules {
		if slices.Contains(cp.Rules[:i], id) {
			bad("campaigns.rules: %q is listed twice", id)
		}
	}
	return errors.Join(errs...)
}
