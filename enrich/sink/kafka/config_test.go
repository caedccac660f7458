package kafka

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"gopkg.in/yaml.v3"
)

func decodeStrict(b []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(&c)
	return c, err
}

// TestExampleConfig: the documented example decodes strictly and is
// valid.
func TestExampleConfig(t *testing.T) {
	b, err := os.ReadFile("testdata/kafka.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeStrict(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.Compression != "zstd" || c.BatchTimeout != 10*time.Millisecond || c.SASL.Mechanism != SASLScramSHA512 ||
		c.Topics[sink.KindVerdict] != "aegis.verdicts" || c.TLS.CAFile == "" || len(c.Brokers) != 3 {
		t.Errorf("decoded %+v", c)
	}
	if _, err := decodeStrict([]byte("brokers: [a:1]\nbatch_timeot: 5ms\n")); err == nil {
		t.Error("a misspelt key was accepted")
	}
}

func TestDefaultConfig(t *testing.T) {
	d := DefaultConfig()
	if d.Key != KeySourceIP || d.Compression != CompressionNone || d.BatchTimeout != DefaultBatchTimeout ||
		d.MaxInFlight != DefaultMaxInFlight || d.Sensor == "" || d.ClientID != DefaultClientID {
		t.Errorf("defaults %+v", d)
	}
	for _, k := range sink.Kinds {
		if d.Topics[k] != DefaultTopics[k] || d.Topics[k] == "" {
			t.Errorf("default topic for %s: %q", k, d.Topics[k])
		}
	}
	// Partial topics keep the defaults of the other kinds.
	c := Config{Topics: map[sink.Kind]string{sink.KindDetection: "soc.aegis"}}.withDefaults()
	if c.Topics[sink.KindDetection] != "soc.aegis" || c.Topics[sink.KindVerdict] != "aegis.verdicts" {
		t.Errorf("topics %v", c.Topics)
	}
	if err := (Config{Brokers: []string{"k:9092"}}).Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

// TestValidate: each invalid setting is reported with its YAML key.
func TestValidate(t *testing.T) {
	ok := func() Config { return Config{Brokers: []string{"kafka:9092"}} }
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers"},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka"} }, "host:port"},
		{"unknown kind", func(c *Config) { c.Topics = map[sink.Kind]string{"alerts": "x"} }, `unknown record kind "alerts"`},
		{"bad topic", func(c *Config) { c.Topics = map[sink.Kind]string{sink.KindDetection: "a b"} }, "topics.detection"},
		{"key", func(c *Config) { c.Key = "dest_ip" }, "key"},
		{"compression", func(c *Config) { c.Compression = "brotli" }, "compression"},
		{"negative timeout", func(c *Config) { c.BatchTimeout = -time.Second }, "batch_timeout"},
		{"negative batch size", func(c *Config) { c.BatchSize = -1 }, "batch_size"},
		{"negative in flight", func(c *Config) { c.MaxInFlight = -1 }, "max_in_flight"},
		{"backoff order", func(c *Config) { c.RetryBackoffMin, c.RetryBackoffMax = time.Second, time.Millisecond }, "retry_backoff_max"},
		{"in-flight bytes below a batch", func(c *Config) { c.MaxInFlightBytes, c.BatchBytes = 1000, 2000 }, "max_in_flight_bytes"},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "c.pem" }, "cert_file and key_file"},
		{"skip verify with ca", func(c *Config) { c.TLS.InsecureSkipVerify, c.TLS.CAFile = true, "ca.pem" }, "insecure_skip_verify"},
		{"sasl mechanism", func(c *Config) { c.SASL = SASLConfig{Mechanism: "GSSAPI", Username: "u", PasswordEnv: "P"} }, "mechanism"},
		{"sasl without mechanism", func(c *Config) { c.SASL = SASLConfig{Username: "u", PasswordEnv: "P"} }, "mechanism is required"},
		{"sasl without user", func(c *Config) { c.SASL = SASLConfig{Mechanism: "PLAIN", PasswordEnv: "P"} }, "username"},
		{"sasl two passwords", func(c *Config) {
			c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u", PasswordEnv: "P", PasswordFile: "f"}
		}, "exactly one of password_file and password_env"},
		{"sasl no password", func(c *Config) { c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u"} }, "exactly one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok()
			c.mod(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, c.want)
			}
			if _, err := New(cfg, nil); err == nil {
				t.Error("New accepted the invalid config")
			}
		})
	}
	// Case does not matter for the mechanism and the codec.
	cfg := ok()
	cfg.Compression = "LZ4"
	cfg.SASL = SASLConfig{Mechanism: "scram-sha-256", Username: "u", PasswordEnv: "P"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("lower-case mechanism / upper-case codec: %v", err)
	}
}
