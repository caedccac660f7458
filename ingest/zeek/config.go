package zeek

import (
	"errors"
	"fmt"
	"slices"

	"github.com/aegis-nsm/aegis/schemas/communityid"
)

// Defaults for Config.
const (
	DefaultMaxLineBytes    = 1 << 20 // 1 MiB
	DefaultMaxErrorSamples = 100
)

// Config tunes a Decoder and the file readers. The zero value means "all
// defaults"; DefaultConfig spells them out.
type Config struct {
	// Path is the log path ("conn", "ssl", ...) assumed for Zeek JSON lines
	// without a "_path" key. Empty: inferred per line from the keys
	// (conn_state or orig_pkts: conn; ssl_history, cipher or server_name:
	// ssl; anything else is skipped). TSV files always use their #path.
	Path string `yaml:"path"`
	// ConnPaths are the log paths decoded as (final) conn records.
	// Default ["conn"].
	ConnPaths []string `yaml:"conn_paths"`
	// InterimPaths are the log paths decoded as conn records of flows
	// that are still open (IDSFlow.Interim): corelight/zeek-long-connections
	// writes them. Default ["conn_long"]; a JSON line is of this path when
	// its "_path" (json-streaming-logs) or Config.Path says so.
	InterimPaths []string `yaml:"interim_paths"`
	// KeepInterim makes ReadFiles return every interim record. By default
	// it keeps, per uid, only the final conn record when there is one, and
	// otherwise the latest interim snapshot (see ReadFiles).
	KeepInterim bool `yaml:"keep_interim"`
	// SSLPaths are the log paths decoded as ssl records. Default ["ssl"].
	SSLPaths []string `yaml:"ssl_paths"`
	// ComputeCommunityID computes the Community ID v1 of conn records
	// whose log has no community_id (the column is not loaded or unset),
	// with CommunityIDSeed. Off in the zero Config, so that what the
	// readers return is what Zeek logged unless asked; the daemon and
	// `aegis analyze` should turn it on.
	ComputeCommunityID bool `yaml:"compute_community_id"`
	// CommunityIDSeed is the Community ID seed; it must be the one the
	// sensors and other tools use (Zeek's CommunityID::seed). Default 0.
	CommunityIDSeed uint16 `yaml:"community_id_seed"`
	// MaxLineBytes bounds one line for the readers; a longer line is
	// counted as ReasonLineTooLong and skipped. Default 1 MiB.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxErrorSamples is how many LineErrors the readers keep in
	// Stats.Errors; the rest are only counted. Default 100; -1 keeps none.
	MaxErrorSamples int `yaml:"max_error_samples"`
}

// DefaultConfig returns the configuration the zero Config stands for.
func DefaultConfig() Config {
	return Config{
		ConnPaths:       []string{"conn"},
		SSLPaths:        []string{"ssl"},
		InterimPaths:    []string{"conn_long"},
		MaxLineBytes:    DefaultMaxLineBytes,
		MaxErrorSamples: DefaultMaxErrorSamples,
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.ConnPaths == nil {
		c.ConnPaths = def.ConnPaths
	}
	if c.SSLPaths == nil {
		c.SSLPaths = def.SSLPaths
	}
	if c.InterimPaths == nil {
		c.InterimPaths = def.InterimPaths
	}
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = def.MaxLineBytes
	}
	if c.MaxErrorSamples == 0 {
		c.MaxErrorSamples = def.MaxErrorSamples
	}
	return c
}

// Validate reports every invalid setting. Zero values are valid (they
// mean the default).
func (c Config) Validate() error {
	var errs []error
	for _, p := range c.ConnPaths {
		if p == "" {
			errs = append(errs, errors.New("zeek: conn_paths: empty path"))
		}
		if slices.Contains(c.SSLPaths, p) {
			errs = append(errs, fmt.Errorf("zeek: path %q is in both conn_paths and ssl_paths", p))
		}
	}
	for _, p := range c.SSLPaths {
		if p == "" {
			errs = append(errs, errors.New("zeek: ssl_paths: empty path"))
		}
	}
	for _, p := range c.InterimPaths {
		if p == "" {
			errs = append(errs, errors.New("zeek: interim_paths: empty path"))
		}
		if slices.Contains(c.SSLPaths, p) || slices.Contains(c.ConnPaths, p) {
			errs = append(errs, fmt.Errorf("zeek: path %q is in interim_paths and in conn_paths or ssl_paths", p))
		}
	}
	if c.MaxLineBytes < 0 {
		errs = append(errs, fmt.Errorf("zeek: max_line_bytes %d: must be positive (0 means %d)", c.MaxLineBytes, DefaultMaxLineBytes))
	}
	if c.MaxErrorSamples < -1 {
		errs = append(errs, fmt.Errorf("zeek: max_error_samples %d: must be -1 (none), 0 (default %d) or more", c.MaxErrorSamples, DefaultMaxErrorSamples))
	}
	return errors.Join(errs...)
}

// hasher returns the Community ID hasher of the configured seed.
func (c *Config) hasher() communityid.Hasher { return communityid.Hasher{Seed: c.CommunityIDSeed} }
