package rules

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultConfigValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"bad disable id", func(c *Config) { c.Disable = []string{"has space"} }, "disable: \"has space\""},
		{"duplicate disable", func(c *Config) { c.Disable = []string{"a", "a"} }, "listed twice"},
		{"bad list name", func(c *Config) { c.Lists = map[string][]string{"9x": nil} }, "lists: \"9x\""},
		{"bad list entry", func(c *Config) { c.Lists = map[string][]string{"x": {"10.0.0.0/8", "nope"}} }, "lists.x: bad address or CIDR \"nope\""},
		{"zero window", func(c *Config) { c.SequenceWindow = 0 }, "sequence_window"},
		{"huge window", func(c *Config) { c.SequenceWindow = 48 * time.Hour }, "sequence_window"},
		{"no sources", func(c *Config) { c.MaxSources = 0 }, "max_sources"},
		{"recon targets", func(c *Config) { c.Recon.MinTargets = 1 }, "recon.min_targets"},
		{"recon targets high", func(c *Config) { c.Recon.MinTargets = 1000 }, "recon.min_targets"},
		{"recon window", func(c *Config) { c.Recon.Window = -time.Second }, "recon.window"},
		{"recon probe duration", func(c *Config) { c.Recon.MaxProbeDuration = 0 }, "recon.max_probe_duration"},
		{"recon pattern", func(c *Config) { c.Recon.AlertPatterns = []string{"[scan]"} }, "recon.alert_patterns"},
		{"recon exclude", func(c *Config) { c.Recon.Exclude = []string{"10.0.0.0/40"} }, "recon.exclude"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestConfigYAML: the config decodes strictly from the rules block of
// aegis.yaml, durations as Go durations.
func TestConfigYAML(t *testing.T) {
	in := `
dir: /etc/aegis/rules
disable: [aegis-llm-stream]
lists:
  llm_clients: [10.1.0.0/16, 10.2.0.7]
sequence_window: 15m
max_sources: 1000
recon:
  min_targets: 30
  window: 2m
  max_probe_duration: 30s
  alert_patterns: ["*scan*", "*sweep*"]
  exclude: [10.9.0.10]
`
	c := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(in)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Dir != "/etc/aegis/rules" || c.SequenceWindow != 15*time.Minute || c.Recon.Window != 2*time.Minute || len(c.Lists["llm_clients"]) != 2 || c.Recon.MinTargets != 30 {
		t.Errorf("config = %+v", c)
	}
	dec = yaml.NewDecoder(bytes.NewReader([]byte("recon: {min_target: 3}\n")))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err == nil {
		t.Error("unknown key accepted")
	}
}
