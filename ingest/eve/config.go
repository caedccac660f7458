package eve

import (
	"errors"
	"fmt"
)

// Defaults for Config.
const (
	DefaultMaxLineBytes    = 1 << 20 // 1 MiB
	DefaultMaxErrorSamples = 100
)

// Config tunes a Decoder and the file readers. The zero value means "all
// defaults"; DefaultConfig spells them out.
type Config struct {
	// MaxLineBytes bounds one line for the readers; a longer line is
	// counted as ReasonLineTooLong and skipped. Default 1 MiB.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxErrorSamples is how many LineErrors the readers keep in
	// Stats.Errors; the rest are only counted. Default 100; -1 keeps none.
	MaxErrorSamples int `yaml:"max_error_samples"`
	// KeepRaw keeps each flow event's line, byte for byte, in IDSFlow.Raw
	// (for publishing the original event with the record). Off by default:
	// it costs one allocation and a copy of the line per flow event.
	KeepRaw bool `yaml:"keep_raw"`
	// ComputeCommunityID computes the Community ID v1 of flow events
	// without community_id (Suricata's community-id option is off by
	// default), with CommunityIDSeed. Off in the zero Config, so that what
	// the readers return is what Suricata logged unless asked; the daemon
	// and `aegis analyze` should turn it on.
	ComputeCommunityID bool `yaml:"compute_community_id"`
	// CommunityIDSeed is the Community ID seed; it must be the one the
	// sensors and other tools use (Suricata's community-id-seed). Default 0.
	CommunityIDSeed uint16 `yaml:"community_id_seed"`
}

// DefaultConfig returns the configuration the zero Config stands for.
func DefaultConfig() Config {
	return Config{MaxLineBytes: DefaultMaxLineBytes, MaxErrorSamples: DefaultMaxErrorSamples}
}

func (c Config) withDefaults() Config {
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	if c.MaxErrorSamples == 0 {
		c.MaxErrorSamples = DefaultMaxErrorSamples
	}
	return c
}

// Validate reports every invalid setting. Zero values are valid (they
// mean the default).
func (c Config) Validate() error {
	var errs []error
	if c.MaxLineBytes < 0 {
		errs = append(errs, fmt.Errorf("eve: max_line_bytes %d: must be positive (0 means %d)", c.MaxLineBytes, DefaultMaxLineBytes))
	}
	if c.MaxErrorSamples < -1 {
		errs = append(errs, fmt.Errorf("eve: max_error_samples %d: must be -1 (none), 0 (default %d) or more", c.MaxErrorSamples, DefaultMaxErrorSamples))
	}
	return errors.Join(errs...)
}
