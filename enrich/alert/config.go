package alert

import (
	"fmt"
	"github.com/aegis-nsm/aegis/enrich"
	"time"
)

// Config is the alert pipeline's part of aegis.yaml.
type Config struct {
	// SuppressWindow folds repeated alerts of one rule for one source
	// into the first: later ones inside the window are counted, not
	// published, and the first is published again with the count when the
	// window closes. 0 turns suppression off.
	SuppressWindow time.Duration `yaml:"suppress_window"`
	// MaxSuppressed bounds the (source, rule) windows held; the oldest is
	// closed early when it is reached.
	MaxSuppressed int `yaml:"max_suppressed"`
	// CorroborateRules is the number of distinct rules that must hit one
	// flow to raise its severity one step (0 turns it off).
	CorroborateRules int `yaml:"corroborate_rules"`
	// PublishAll publishes records without rule hits too (as event.kind
	// "event"), for flow-level analytics; by default only alerts go out.
	PublishAll bool `yaml:"publish_all"`
	// Routes send each severity to sinks. Empty: every sink gets every
	// published record.
	Routes []Route `yaml:"routes"`
}

// Route sends records whose severity is at least MinSeverity to Sinks.
type Route struct {
	MinSeverity string   `yaml:"min_severity"`
	Sinks       []string `yaml:"sinks"`
}

// DefaultConfig is the configuration Aegis runs with when aegis.yaml says
// nothing.
func DefaultConfig() Config {
	return Config{SuppressWindow: 10 * time.Minute, MaxSuppressed: 100_000, CorroborateRules: 2}
}

// Validate reports the first invalid setting. sinks are the names of the
// configured sinks, which routes may name.
func (c Config) Validate(sinks []string) error {
	if c.SuppressWindow < 0 {
		return fmt.Errorf("alert: suppress_window %v is negative", c.SuppressWindow)
	}
	if c.SuppressWindow > 0 && c.MaxSuppressed < 1 {
		return fmt.Errorf("alert: max_suppressed %d must be at least 1 when suppression is on", c.MaxSuppressed)
	}
	if c.CorroborateRules < 0 || c.CorroborateRules == 1 {
		return fmt.Errorf("alert: corroborate_rules %d must be 0 (off) or at least 2", c.CorroborateRules)
	}
	known := make(map[string]bool, len(sinks))
	for _, s := range sinks {
		known[s] = true
	}
	for i, r := range c.Routes {
		if _, ok := enrich.ParseSeverity(r.MinSeverity); !ok {
			return fmt.Errorf("alert: routes[%d]: min_severity %q is not one of none, low, medium, high, critical", i, r.MinSeverity)
		}
		if len(r.Sinks) == 0 {
			return fmt.Errorf("alert: routes[%d] names no sinks", i)
		}
		for _, s := range r.Sinks {
			if !known[s] {
				return fmt.Errorf("alert: routes[%d]: no sink named %q (configured: %v)", i, s, sinks)
			}
		}
	}
	return nil
}
