package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Defaults for Config.
const (
	DefaultPreset        = PresetJSON
	DefaultTimeout       = 10 * time.Second
	DefaultMaxAttempts   = 6
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffMax    = 30 * time.Second
	DefaultMaxRetryAfter = 5 * time.Minute
	DefaultWorkers       = 4
	DefaultQueueSize     = 256
	DefaultCloseTimeout  = 10 * time.Second
	// PagerDutyEventsURL is the Events API v2 endpoint, the default URL of
	// the pagerduty preset.
	PagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"
)

// Config is a webhook sink's part of aegis.yaml:
//
//	sinks:
//	  soc-hook:
//	    type: webhook
//	    url: https://soar.example.com/hooks/aegis
//	    preset: json                 # json | slack | teams | pagerduty
//	    secret_env: AEGIS_WEBHOOK_SECRET
//	    dead_letter: /var/lib/aegis/webhook-soc-hook.dlq.jsonl
//	  pager:
//	    type: webhook
//	    preset: pagerduty            # url defaults to the Events API v2
//	    routing_key_file: /etc/aegis/pagerduty.key
//	    dead_letter: /var/lib/aegis/webhook-pager.dlq.jsonl
//
// DefaultConfig holds the defaults YAML is decoded onto; in a Config built
// in code, zero values also mean the defaults.
type Config struct {
	// URL receives the POSTs (http or https). It may hold a token (Slack
	// and Teams URLs do): the sink shows only its scheme and host in
	// names, logs, errors and dead letters. Default for the pagerduty
	// preset: PagerDutyEventsURL; required otherwise.
	URL string `yaml:"url"`
	// Preset is the body: "json" (the native record, default), "slack"
	// (incoming webhook: text and blocks), "teams" (an Adaptive Card
	// message for Teams workflows and connectors) or "pagerduty" (an Events
	// API v2 trigger; dedup_key is the record id).
	Preset string `yaml:"preset"`
	// SecretFile or SecretEnv (the name of an environment variable) holds
	// the HMAC-SHA256 key that signs each request (X-Aegis-Signature, see
	// Sign). Neither: requests are not signed. Surrounding white space is
	// trimmed. The secret is never logged.
	SecretFile string `yaml:"secret_file"`
	SecretEnv  string `yaml:"secret_env"`
	// RoutingKeyFile or RoutingKeyEnv holds the PagerDuty integration
	// (routing) key; one is required by the pagerduty preset. Never logged
	// nor written to the dead-letter file.
	RoutingKeyFile string `yaml:"routing_key_file"`
	RoutingKeyEnv  string `yaml:"routing_key_env"`
	// Source is the pagerduty payload.source when the message has no
	// source address. Default: the host name.
	Source string `yaml:"source"`
	// Timeout bounds each request (connect, send, answer). Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts is the number of tries of one message, the first one
	// included. Default 6.
	MaxAttempts int `yaml:"max_attempts"`
	// BackoffBase and BackoffMax shape the wait before retry n (n = 1, 2,
	// ...): a uniformly random duration in [0, min(BackoffMax,
	// BackoffBase*2^(n-1))] ("full jitter"). Defaults 500ms and 30s.
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// MaxRetryAfter caps the wait a 429 or 503 answer's Retry-After asks
	// for (which replaces the backoff when present). Default 5m.
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`
	// Workers is the number of requests in flight at once. Default 4.
	Workers int `yaml:"workers"`
	// QueueSize bounds the messages waiting for a worker: Write blocks
	// while it is full. Default 256.
	QueueSize int `yaml:"queue_size"`
	// DeadLetter is the JSON-lines file a message goes to when the sink
	// gives up on it (after the last retry, or at once for an answer
	// retrying cannot fix): the time, kind, id, attempts, last HTTP status
	// and error, and the native record. Empty: no file (the failure is
	// only logged and reported to Done). The directory is created.
	DeadLetter string `yaml:"dead_letter"`
	// CloseTimeout is how long Close lets queued and retrying messages
	// finish before it aborts them (they get Done(sink.ErrClosed), are not
	// dead-lettered, and are read again after a restart). Default 10s.
	CloseTimeout time.Duration `yaml:"close_timeout"`
}

// DefaultConfig returns the defaults (URL and secrets empty).
func DefaultConfig() Config {
	return Config{
		Preset:        DefaultPreset,
		Timeout:       DefaultTimeout,
		MaxAttempts:   DefaultMaxAttempts,
		BackoffBase:   DefaultBackoffBase,
		BackoffMax:    DefaultBackoffMax,
		MaxRetryAfter: DefaultMaxRetryAfter,
		Workers:       DefaultWorkers,
		QueueSize:     DefaultQueueSize,
		CloseTimeout:  DefaultCloseTimeout,
	}
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.Preset == "" {
		c.Preset = def.Preset
	}
	if c.URL == "" && c.Preset == PresetPagerDuty {
		c.URL = PagerDutyEventsURL
	}
	set := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	set(&c.Timeout, def.Timeout)
	set(&c.BackoffBase, def.BackoffBase)
	set(&c.BackoffMax, def.BackoffMax)
	set(&c.MaxRetryAfter, def.MaxRetryAfter)
	set(&c.CloseTimeout, def.CloseTimeout)
	if c.MaxAttempts == 0 {
		c.MaxAttempts = def.MaxAttempts
	}
	if c.Workers == 0 {
		c.Workers = def.Workers
	}
	if c.QueueSize == 0 {
		c.QueueSize = def.QueueSize
	}
	return c
}

// Validate reports every invalid setting. It does not read the secrets
// (New does).
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("webhook: "+format, a...)) }
	preset := c.Preset
	if preset == "" {
		preset = DefaultPreset
	}
	if !slices.Contains(Presets(), preset) {
		add("preset %q: must be one of %v", c.Preset, Presets())
	}
	switch {
	case c.URL == "" && preset != PresetPagerDuty:
		add("url is empty (the endpoint that receives the POSTs)")
	case c.URL != "":
		u, err := url.Parse(c.URL)
		switch {
		case err != nil:
			// url.Parse quotes the whole URL in its error: say less.
			add("url %s: not a valid URL", redactURL(c.URL))
		case u.Scheme != "http" && u.Scheme != "https":
			add("url %s: scheme must be http or https", redactURL(c.URL))
		case u.Host == "":
			add("url %s: no host", redactURL(c.URL))
		}
	}
	if c.SecretFile != "" && c.SecretEnv != "" {
		add("set one of secret_file and secret_env, not both")
	}
	if c.RoutingKeyFile != "" && c.RoutingKeyEnv != "" {
		add("set one of routing_key_file and routing_key_env, not both")
	}
	if preset == PresetPagerDuty && c.RoutingKeyFile == "" && c.RoutingKeyEnv == "" {
		add("the pagerduty preset needs routing_key_file or routing_key_env (the integration key of the PagerDuty service)")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", c.Timeout}, {"backoff_base", c.BackoffBase}, {"backoff_max", c.BackoffMax},
		{"max_retry_after", c.MaxRetryAfter}, {"close_timeout", c.CloseTimeout}} {
		if d.v < 0 {
			add("%s %v: must be positive (0 means the default)", d.name, d.v)
		}
	}
	if c.BackoffBase > 0 && c.BackoffMax > 0 && c.BackoffBase > c.BackoffMax {
		add("backoff_base %v is above backoff_max %v", c.BackoffBase, c.BackoffMax)
	}
	if c.MaxAttempts < 0 {
		add("max_attempts %d: must be at least 1 (0 means %d)", c.MaxAttempts, DefaultMaxAttempts)
	}
	if c.Workers < 0 {
		add("workers %d: must be at least 1 (0 means %d)", c.Workers, DefaultWorkers)
	}
	if c.QueueSize < 0 {
		add("queue_size %d: must be at least 1 (0 means %d)", c.QueueSize, DefaultQueueSize)
	}
	if strings.HasSuffix(c.DeadLetter, "/") {
		add("dead_letter %q names a directory; give a file name", c.DeadLetter)
	}
	return errors.Join(errs...)
}

// readSecret reads a secret from a file or an environment variable. Errors
// name the file or variable, never the value.
func readSecret(what, file, env string) ([]byte, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("webhook: reading %s from %s: %w", what, file, unwrapPath(err))
		}
		b = []byte(strings.TrimSpace(string(b)))
		if len(b) == 0 {
			return nil, fmt.Errorf("webhook: %s file %s is empty", what, file)
		}
		return b, nil
	case env != "":
		v := strings.TrimSpace(os.Getenv(env))
		if v == "" {
			return nil, fmt.Errorf("webhook: %s: environment variable %s is unset or empty", what, env)
		}
		return []byte(v), nil
	}
	return nil, nil
}

// redactURL shows a URL without what may be a secret: scheme and host
// only, the path as "/…" (Slack and Teams put the token in the path), no
// user info, query or fragment.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<invalid url>"
	}
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/…"
	}
	return s
}
