package kafka

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
)

// KeyField names the Message field used as the Kafka record key.
type KeyField string

// The record keys.
const (
	// KeySourceIP keys records by Message.SourceIP: every record about one
	// source host lands on one partition, in order. The default.
	KeySourceIP KeyField = "source_ip"
	// KeyCommunityID keys records by Message.CommunityID (one flow, one
	// partition), falling back to SourceIP when the record has none.
	KeyCommunityID KeyField = "community_id"
)

// The compression codecs, as named in Config.Compression.
const (
	CompressionNone   = "none"
	CompressionGzip   = "gzip"
	CompressionSnappy = "snappy"
	CompressionLz4    = "lz4"
	CompressionZstd   = "zstd"
)

// Compressions lists the accepted Config.Compression values.
var Compressions = []string{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLz4, CompressionZstd}

// The SASL mechanisms, as named in SASLConfig.Mechanism.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// DefaultTopics are the topics records go to when Config.Topics does not
// name one for their kind. Read-only.
var DefaultTopics = map[sink.Kind]string{
	sink.KindDetection: "aegis.detections",
	sink.KindVerdict:   "aegis.verdicts",
	sink.KindCoupling:  "aegis.couplings",
	sink.KindCampaign:  "aegis.campaigns",
}

// Defaults for Config.
const (
	DefaultBatchTimeout     = 10 * time.Millisecond
	DefaultBatchSize        = 1000
	DefaultBatchBytes       = 1_000_000 // stays under the broker's message.max.bytes (1048588) with record overhead
	DefaultMaxInFlight      = 10_000
	DefaultMaxInFlightBytes = 64 << 20
	DefaultRetryBackoffMin  = 100 * time.Millisecond
	DefaultRetryBackoffMax  = 2 * time.Second
	DefaultDialTimeout      = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultCloseTimeout     = 10 * time.Second
	DefaultMetadataMaxAge   = 6 * time.Second
	DefaultClientID         = "aegis"
)

// Config configures the Kafka sink (the "kafka" block of aegis.yaml). The
// zero value of each field means its default (DefaultConfig spells them
// out), except Brokers, which is required.
type Config struct {
	// Brokers are the bootstrap brokers, "host:port".
	Brokers []string `yaml:"brokers"`
	// Topics maps a record kind (detection, verdict, coupling, campaign)
	// to its topic; kinds not named use DefaultTopics. The topics must
	// exist: the sink never creates them.
	Topics map[sink.Kind]string `yaml:"topics"`
	// Key is the record key: source_ip (default) or community_id (falls
	// back to the source IP when a record has no Community ID). Records
	// are assigned to partitions with Kafka's murmur2 partitioner, as the
	// Java client and librdkafka ("murmur2_random") do, so other producers
	// writing the same keys agree on the partition.
	Key KeyField `yaml:"key"`
	// Compression is none (default), gzip, snappy, lz4 or zstd.
	Compression string `yaml:"compression"`
	// BatchTimeout is how long a partition's batch waits for more records
	// before it is sent (linger).
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// BatchSize is the most records in one produce request per partition.
	BatchSize int `yaml:"batch_size"`
	// BatchBytes bounds one produce request per partition (keys, values,
	// headers and an estimate of record overhead, before compression). It
	// must stay below the topic's max.message.bytes; a single record
	// larger than it is refused.
	BatchBytes int64 `yaml:"batch_bytes"`
	// MaxInFlight bounds the records accepted by Write and not yet
	// acknowledged by Kafka; Write blocks at the bound (back-pressure).
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxInFlightBytes bounds the bytes (key + value) of those records.
	MaxInFlightBytes int64 `yaml:"max_in_flight_bytes"`
	// RetryBackoffMin and RetryBackoffMax bound the exponential backoff
	// (with jitter) between attempts to deliver a batch after a retriable
	// error. Retriable errors are retried for ever.
	RetryBackoffMin time.Duration `yaml:"retry_backoff_min"`
	RetryBackoffMax time.Duration `yaml:"retry_backoff_max"`
	// TLS configures TLS to the brokers.
	TLS TLSConfig `yaml:"tls"`
	// SASL configures SASL authentication.
	SASL SASLConfig `yaml:"sasl"`
	// Sensor names this sensor in the aegis-sensor header; default: the
	// host name.
	Sensor string `yaml:"sensor"`
	// ClientID is the Kafka client id (broker logs, quotas).
	ClientID string `yaml:"client_id"`
	// DialTimeout bounds connecting to a broker, TLS and SASL included.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// WriteTimeout bounds one produce request, from sending it to the
	// broker's acknowledgement (acks=all).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// CloseTimeout bounds how long Close waits for records still in
	// flight before it gives up on them (Done(sink.ErrClosed)).
	CloseTimeout time.Duration `yaml:"close_timeout"`
	// MetadataMaxAge is how often cluster metadata (leaders, partition
	// counts) is refreshed.
	MetadataMaxAge time.Duration `yaml:"metadata_max_age"`
}

// TLSConfig configures TLS. TLS is on when Enabled is set or when any of
// the files is given.
type TLSConfig struct {
	// Enabled turns TLS on with the system's root CAs unless CAFile is set.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the CAs that sign the brokers' certificates.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and key (PEM) for
	// brokers that require client authentication (ssl.client.auth).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the brokers' certificates
	// (default: the host of the address connected to).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any broker certificate. For tests only:
	// it makes TLS open to interception.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// On reports whether TLS is configured.
func (t TLSConfig) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != ""
}

// SASLConfig configures SASL. The password is never part of the
// configuration: it is read from a file or an environment variable, and
// never logged.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty means no
	// SASL.
	Mechanism string `yaml:"mechanism"`
	// Username is the SASL user.
	Username string `yaml:"username"`
	// PasswordFile is a file holding the password (one trailing newline
	// is ignored).
	PasswordFile string `yaml:"password_file"`
	// PasswordEnv is the name of an environment variable holding the
	// password.
	PasswordEnv string `yaml:"password_env"`
}

// DefaultConfig returns the defaults the zero Config stands for (without
// Brokers).
func DefaultConfig() Config {
	return Config{}.withDefaults()
}

func (c Config) withDefaults() Config {
	topics := make(map[sink.Kind]string, len(DefaultTopics))
	for k, t := range DefaultTopics {
		topics[k] = t
	}
	for k, t := range c.Topics {
		if t != "" {
			topics[k] = t
		}
	}
	c.Topics = topics
	if c.Key == "" {
		c.Key = KeySourceIP
	}
	if c.Compression == "" {
		c.Compression = CompressionNone
	}
	c.Compression = strings.ToLower(c.Compression)
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if c.RetryBackoffMin == 0 {
		c.RetryBackoffMin = DefaultRetryBackoffMin
	}
	if c.RetryBackoffMax == 0 {
		c.RetryBackoffMax = max(DefaultRetryBackoffMax, c.RetryBackoffMin)
	}
	if c.Sensor == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			c.Sensor = h
		} else {
			c.Sensor = "aegis"
		}
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.MetadataMaxAge == 0 {
		c.MetadataMaxAge = DefaultMetadataMaxAge
	}
	c.SASL.Mechanism = strings.ToUpper(c.SASL.Mechanism)
	return c
}

// Validate reports every invalid setting, each naming its YAML key. Zero
// values are valid (they mean the default), except that Brokers must not
// be empty. Validate does not read the TLS or password files (New does).
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("kafka: "+format, args...))
	}
	if len(c.Brokers) == 0 {
		bad("brokers: at least one broker (host:port) is required")
	}
	for _, b := range c.Brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			bad("brokers: %q: want host:port", b)
		}
	}
	for k, t := range c.Topics {
		if !slices.Contains(sink.Kinds, k) {
			bad("topics: unknown record kind %q (kinds: %v)", k, sink.Kinds)
		}
		if err := validTopic(t); t != "" && err != nil {
			bad("topics.%s: %v", k, err)
		}
	}
	switch c.Key {
	case "", KeySourceIP, KeyCommunityID:
	default:
		bad("key %q: must be source_ip or community_id", c.Key)
	}
	if c.Compression != "" && !slices.Contains(Compressions, strings.ToLower(c.Compression)) {
		bad("compression %q: must be one of %s", c.Compression, strings.Join(Compressions, ", "))
	}
	nonNeg := func(name string, d time.Duration) {
		if d < 0 {
			bad("%s %v: must be positive", name, d)
		}
	}
	nonNeg("batch_timeout", c.BatchTimeout)
	nonNeg("retry_backoff_min", c.RetryBackoffMin)
	nonNeg("retry_backoff_max", c.RetryBackoffMax)
	nonNeg("dial_timeout", c.DialTimeout)
	nonNeg("write_timeout", c.WriteTimeout)
	nonNeg("close_timeout", c.CloseTimeout)
	nonNeg("metadata_max_age", c.MetadataMaxAge)
	if c.BatchSize < 0 {
		bad("batch_size %d: must be positive", c.BatchSize)
	}
	if c.BatchBytes < 0 {
		bad("batch_bytes %d: must be positive", c.BatchBytes)
	}
	if c.MaxInFlight < 0 {
		bad("max_in_flight %d: must be positive", c.MaxInFlight)
	}
	if c.MaxInFlightBytes < 0 {
		bad("max_in_flight_bytes %d: must be positive", c.MaxInFlightBytes)
	}
	d := c.withDefaults()
	if d.RetryBackoffMax < d.RetryBackoffMin {
		bad("retry_backoff_max %v: must not be below retry_backoff_min %v", d.RetryBackoffMax, d.RetryBackoffMin)
	}
	if d.MaxInFlightBytes < d.BatchBytes {
		bad("max_in_flight_bytes %d: must be at least batch_bytes %d", d.MaxInFlightBytes, d.BatchBytes)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls: cert_file and key_file go together (client certificate and its key)")
	}
	if c.TLS.InsecureSkipVerify && c.TLS.CAFile != "" {
		bad("tls: insecure_skip_verify makes ca_file pointless; set one of them")
	}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "":
		if c.SASL.Username != "" || c.SASL.PasswordFile != "" || c.SASL.PasswordEnv != "" {
			bad("sasl: mechanism is required (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) when username or password is set")
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if c.SASL.Username == "" {
			bad("sasl: username is required with mechanism %s", c.SASL.Mechanism)
		}
		if (c.SASL.PasswordFile == "") == (c.SASL.PasswordEnv == "") {
			bad("sasl: set exactly one of password_file and password_env")
		}
	default:
		bad("sasl: mechanism %q: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASL.Mechanism)
	}
	return errors.Join(errs...)
}

// validTopic applies Kafka's topic name rules.
func validTopic(t string) error {
	if t == "." || t == ".." {
		return fmt.Errorf("topic %q is not allowed", t)
	}
	if len(t) > 249 {
		return fmt.Errorf("topic %q is longer than 249 characters", t)
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic %q: only letters, digits, '.', '_' and '-' are allowed", t)
		}
	}
	return nil
}
