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
