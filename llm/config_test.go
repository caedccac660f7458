package llm

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultConfigValidates(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Enabled || c.Model != "qwen3-coder" || c.Temperature != 0 || !c.Stream {
		t.Errorf("defaults %+v", c)
	}
}

func TestConfigValidateRejects(t *testing.T) {
	cases := []struct {
		key    string
		mutate func(c *Config)
	}{
		{"url", func(c *Config) { c.URL = "127.0.0.1:11434" }},
		{"model", func(c *Config) { c.Model = "" }},
		{"timeout", func(c *Config) { c.Timeout = 0 }},
		{"num_ctx", func(c *Config) { c.NumCtx = -1 }},
		{"temperature", func(c *Config) { c.Temperature = 3 }},
		{"min_severity", func(c *Config) { c.MinSeverity = "none" }},
		{"min_severity", func(c *Config) { c.MinSeverity = "severe" }},
		{"min_score", func(c *Config) { c.MinScore = 101 }},
		{"window", func(c *Config) { c.Window = 0 }},
		{"max_wait", func(c *Config) { c.MaxWait = -time.Second }},
		{"max_window_records", func(c *Config) { c.MaxWindowRecords = 0 }},
		{"max_windows", func(c *Config) { c.MaxWindows = 0 }},
		{"queue_size", func(c *Config) { c.QueueSize = 0 }},
		{"concurrency", func(c *Config) { c.Concurrency = 0 }},
		{"retries", func(c *Config) { c.Retries = -1 }},
		{"backoff", func(c *Config) { c.Backoff = -1 }},
		{"breaker_failures", func(c *Config) { c.BreakerFailures = 0 }},
		{"breaker_cooldown", func(c *Config) { c.BreakerCooldown = 0 }},
		{"cache_size", func(c *Config) { c.CacheSize = -1 }},
		{"max_field_bytes", func(c *Config) { c.MaxFieldBytes = 8 }},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			cfg := DefaultConfig()
			c.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.key) {
				t.Errorf("Validate() = %v, want an error naming %s", err, c.key)
			}
			if _, err := New(cfg, func(m sinkMessage) {}, nil); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}

// TestConfigYAML decodes every key strictly over the defaults, as the
// command does, and rejects unknown keys.
func TestConfigYAML(t *testing.T) {
	doc := `
enabled: true
url: http://ollama.internal:11434
model: qwen3-coder:30b
keep_alive: 1h
timeout: 2m
num_ctx: 32768
temperature: 0
stream: false
min_severity: high
min_score: 50
window: 15m
max_wait: 20m
max_window_records: 64
max_windows: 5000
queue_size: 128
concurrency: 4
retries: 2
backoff: 500ms
breaker_failures: 3
breaker_cooldown: 2m
cache_size: 512
max_field_bytes: 128
`
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Config{Enabled: true, URL: "http://ollama.internal:11434", Model: "qwen3-coder:30b", KeepAlive: time.Hour, Timeout: 2 * time.Minute,
		NumCtx: 32768, Stream: false, MinSeverity: "high", MinScore: 50, Window: 15 * time.Minute, MaxWait: 20 * time.Minute,
		MaxWindowRecords: 64, MaxWindows: 5000, QueueSize: 128, Concurrency: 4, Retries: 2, Backoff: 500 * time.Millisecond,
		BreakerFailures: 3, BreakerCooldown: 2 * time.Minute, CacheSize: 512, MaxFieldBytes: 128}
	if cfg != want {
		t.Errorf("decoded\n%+v\nwant\n%+v", cfg, want)
	}
	bad := yaml.NewDecoder(strings.NewReader("enabled: true\nmodle: x\n"))
	bad.KnownFields(true)
	c2 := DefaultConfig()
	if err := bad.Decode(&c2); err == nil || !strings.Contains(err.Error(), "modle") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestBreakerStates(t *testing.T) {
	clk := newFakeClock()
	b := newBreaker(2, time.Minute, clk.now)
	step := func(want string, allow bool) {
		t.Helper()
		if got := b.allow(); got != allow {
			t.Fatalf("allow() = %v, want %v", got, allow)
		}
		if s, _, _ := b.snapshot(); s != want {
			t.Fatalf("state %s, want %s", s, want)
		}
	}
	step(BreakerClosed, true)
	b.failure()
	step(BreakerClosed, true)
	b.success() // a success resets the streak
	b.failure()
	step(BreakerClosed, true)
	b.failure() // second consecutive: open
	step(BreakerOpen, false)
	clk.advance(59 * time.Second)
	step(BreakerOpen, false)
	clk.advance(time.Second)
	step(BreakerHalfOpen, true)  // the probe
	step(BreakerHalfOpen, false) // one probe at a time
	b.failure()                  // failed probe: open again, new cool-down
	step(BreakerOpen, false)
	clk.advance(time.Minute)
	step(BreakerHalfOpen, true)
	b.release() // canceled probe: another may go
	step(BreakerHalfOpen, true)
	b.success()
	step(BreakerClosed, true)
	if _, _, opens := b.snapshot(); opens != 2 {
		t.Errorf("opens %d", opens)
	}
}

func TestReplyCacheLRU(t *testing.T) {
	c := newReplyCache(2)
	a, b, d := &promptReply{Narrative: "a"}, &promptReply{Narrative: "b"}, &promptReply{Narrative: "d"}
	c.put("a", a)
	c.put("b", b)
	if r, ok := c.get("a"); !ok || r != a { // a is now the most recent
		t.Fatal("miss a")
	}
	c.put("d", d) // evicts b
	if _, ok := c.get("b"); ok {
		t.Error("b not evicted")
	}
	if _, ok := c.get("a"); !ok {
		t.Error("a evicted")
	}
	if c.len() != 2 {
		t.Errorf("len %d", c.len())
	}
	off := newReplyCache(0)
	off.put("a", a)
	if _, ok := off.get("a"); ok || off.len() != 0 {
		t.Error("a zero-size cache stored")
	}
}
