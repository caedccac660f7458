package coupling

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *Config)
		want   string // part of the message
	}{
		{"no hosts", func(c *Config) { c.MaxHosts = 0 }, "max_hosts"},
		{"one event", func(c *Config) { c.MaxEventsPerHost = 1 }, "max_events_per_host"},
		{"budget below one host", func(c *Config) { c.MaxEvents = c.MaxEventsPerHost }, "max_events"},
		{"ttl", func(c *Config) { c.HostTTL = 0 }, "host_ttl"},
		{"lag window", func(c *Config) { c.LagWindow = 0 }, "lag_window"},
		{"lag window too long", func(c *Config) { c.LagWindow = 2 * time.Minute }, "lag_window"},
		{"min cycles", func(c *Config) { c.MinCycles = 1 }, "min_cycles"},
		{"alpha zero", func(c *Config) { c.Alpha = 0 }, "alpha"},
		{"alpha one", func(c *Config) { c.Alpha = 1 }, "alpha"},
		{"too few permutations for alpha", func(c *Config) { c.Alpha = 0.001; c.Permutations = 99 }, "permutations"},
		{"min shift below the window", func(c *Config) { c.MinShift = c.LagWindow / 2 }, "min_shift"},
		{"max shift below min", func(c *Config) { c.MaxShift = time.Second }, "max_shift"},
		{"evidence", func(c *Config) { c.MaxEvidence = 0 }, "max_evidence"},
		{"request size", func(c *Config) { c.Extract.RequestMinBytes = 0 }, "request_min_bytes"},
		{"control size", func(c *Config) { c.Extract.ControlMaxBytes = 300 }, "control_max_bytes"},
		{"flush gap", func(c *Config) { c.Extract.FlushGap = 0 }, "flush_gap"},
		{"answer flushes", func(c *Config) { c.Extract.MinAnswerFlushes = 0 }, "min_answer_flushes"},
		{"quiet", func(c *Config) { c.Extract.CommandQuiet = 0 }, "command_quiet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
			if _, nerr := New(c); nerr == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

// TestConfigYAML decodes a config strictly over the defaults.
func TestConfigYAML(t *testing.T) {
	doc := `
max_hosts: 5000
lag_window: 1s
min_cycles: 6
alpha: 0.005
max_shift: 90s
ignore_services: [dns, ntp]
extract:
  command_quiet: 700ms
`
	c := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.MaxHosts != 5000 || c.LagWindow != time.Second || c.MinCycles != 6 || c.Alpha != 0.005 || c.MaxShift != 90*time.Second ||
		len(c.IgnoreServices) != 2 || c.Extract.CommandQuiet != 700*time.Millisecond || c.Permutations != DefaultConfig().Permutations {
		t.Fatalf("decoded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	dec = yaml.NewDecoder(bytes.NewReader([]byte("lag_windw: 1s\n")))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err == nil {
		t.Fatal("an unknown key was accepted")
	}
}
