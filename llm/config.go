package llm

import (
	"fmt"
	"net/url"
	"time"

	"github.com/aegis-nsm/aegis/enrich"
)

// Config is the LLM stage's part of aegis.yaml (section llm). Every key has
// a default (DefaultConfig); decode it strictly (yaml.v3 KnownFields) over
// the defaults, then Validate.
type Config struct {
	// Enabled turns the model on. When false the stage still publishes a
	// verdict per window, from the deterministic mapping only (outcome
	// "disabled").
	Enabled bool `yaml:"enabled"`
	// URL is Ollama's base URL.
	URL string `yaml:"url"`
	// Model is the Ollama model to ask.
	Model string `yaml:"model"`
	// KeepAlive is how long Ollama keeps the model loaded after a request
	// (Ollama's keep_alive); negative keeps it loaded, 0 leaves Ollama's
	// default.
	KeepAlive time.Duration `yaml:"keep_alive"`
	// Timeout bounds one model request, the streamed body included.
	Timeout time.Duration `yaml:"timeout"`
	// NumCtx is the model's context window in tokens (options.num_ctx); 0
	// leaves Ollama's default.
	NumCtx int `yaml:"num_ctx"`
	// Temperature is the sampling temperature (0: deterministic answers).
	Temperature float64 `yaml:"temperature"`
	// Stream asks Ollama for a streamed (NDJSON) reply; false asks for one
	// JSON object. Both are read the same way.
	Stream bool `yaml:"stream"`
	// MinSeverity is the least severity ("low" ... "critical") a detection
	// needs to make its window go to the model. Detections below it still
	// join their source's window as context.
	MinSeverity string `yaml:"min_severity"`
	// MinScore is the least event.severity (0-100) a detection needs, on
	// top of MinSeverity; 0 turns the score bound off.
	MinScore int `yaml:"min_score"`
	// Window is the per-source correlation window, in record time: it
	// opens at a source's first detection and gathers the source's
	// detections until record time passes its end.
	Window time.Duration `yaml:"window"`
	// MaxWait caps, in wall-clock time, how long a window stays open (for
	// a quiet network whose record clock stops); 0 means Window.
	MaxWait time.Duration `yaml:"max_wait"`
	// MaxWindowRecords bounds the detections of one window; a full window
	// closes and the next detection opens a new one.
	MaxWindowRecords int `yaml:"max_window_records"`
	// MaxWindows bounds the sources with an open window; at the bound the
	// oldest window closes early (counted).
	MaxWindows int `yaml:"max_windows"`
	// QueueSize bounds the closed windows waiting for a worker; when it is
	// full the oldest is dropped (counted).
	QueueSize int `yaml:"queue_size"`
	// Concurrency is the number of workers, and so of concurrent model
	// requests.
	Concurrency int `yaml:"concurrency"`
	// Retries is how often a request that failed with a timeout or an
	// unavailable server is retried (an invalid reply is retried once,
	// apart from these).
	Retries int `yaml:"retries"`
	// Backoff is the wait before the first retry; it doubles for each
	// further one.
	Backoff time.Duration `yaml:"backoff"`
	// BreakerFailures is the number of consecutive failed requests that
	// opens the circuit breaker.
	BreakerFailures int `yaml:"breaker_failures"`
	// BreakerCooldown is how long the breaker stays open before one probe
	// request may try again.
	BreakerCooldown time.Duration `yaml:"breaker_cooldown"`
	// CacheSize bounds the cache of valid replies, keyed by a hash of the
	// evidence bundle; 0 turns it off.
	CacheSize int `yaml:"cache_size"`
	// MaxFieldBytes bounds every free-text value (server names, rule
	// messages, ...) shown to the model.
	MaxFieldBytes int `yaml:"max_field_bytes"`
	// Sensor names this Aegis in verdicts (aegis.sensor). Not read from
	// the llm section: the command copies the top-level sensor name.
	Sensor string `yaml:"-"`
}

// DefaultConfig is what the stage runs with when aegis.yaml says nothing:
// off, pointing at a local Ollama with qwen3-coder.
func DefaultConfig() Config {
	return Config{
		Enabled:          false,
		URL:              "http://127.0.0.1:11434",
		Model:            "qwen3-coder",
		KeepAlive:        30 * time.Minute,
		Timeout:          90 * time.Second,
		NumCtx:           16384,
		Temperature:      0,
		Stream:           true,
		MinSeverity:      "medium",
		Window:           10 * time.Minute,
		MaxWindowRecords: 32,
		MaxWindows:       10_000,
		QueueSize:        256,
		Concurrency:      2,
		Retries:          1,
		Backoff:          2 * time.Second,
		BreakerFailures:  5,
		BreakerCooldown:  time.Minute,
		CacheSize:        1024,
		MaxFieldBytes:    256,
	}
}

// Validate reports the first invalid setting, naming its key.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("llm: url %q must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:11434", c.URL)
	case c.Model == "":
		return fmt.Errorf("llm: model is empty; name an Ollama model, e.g. qwen3-coder")
	case c.Timeout <= 0:
		return fmt.Errorf("llm: timeout %v must be positive", c.Timeout)
	case c.NumCtx < 0:
		return fmt.Errorf("llm: num_ctx %d is negative", c.NumCtx)
	case c.Temperature < 0 || c.Temperature > 2:
		return fmt.Errorf("llm: temperature %v must be between 0 and 2", c.Temperature)
	case c.MinScore < 0 || c.MinScore > 100:
		return fmt.Errorf("llm: min_score %d must be between 0 and 100", c.MinScore)
	case c.Window <= 0:
		return fmt.Errorf("llm: window %v must be positive", c.Window)
	case c.MaxWait < 0:
		return fmt.Errorf("llm: max_wait %v is negative", c.MaxWait)
	case c.MaxWindowRecords < 1:
		return fmt.Errorf("llm: max_window_records %d must be at least 1", c.MaxWindowRecords)
	case c.MaxWindows < 1:
		return fmt.Errorf("llm: max_windows %d must be at least 1", c.MaxWindows)
	case c.QueueSize < 1:
		return fmt.Errorf("llm: queue_size %d must be at least 1", c.QueueSize)
	case c.Concurrency < 1:
		return fmt.Errorf("llm: concurrency %d must be at least 1", c.Concurrency)
	case c.Retries < 0:
		return fmt.Errorf("llm: retries %d is negative", c.Retries)
	case c.Backoff < 0:
		return fmt.Errorf("llm: backoff %v is negative", c.Backoff)
	case c.BreakerFailures < 1:
		return fmt.Errorf("llm: breaker_failures %d must be at least 1", c.BreakerFailures)
	case c.BreakerCooldown <= 0:
		return fmt.Errorf("llm: breaker_cooldown %v must be positive", c.BreakerCooldown)
	case c.CacheSize < 0:
		return fmt.Errorf("llm: cache_size %d is negative (0 turns the cache off)", c.CacheSize)
	case c.MaxFieldBytes < 16:
		return fmt.Errorf("llm: max_field_bytes %d must be at least 16", c.MaxFieldBytes)
	}
	if s, ok := enrich.ParseSeverity(c.MinSeverity); !ok || s == enrich.SeverityNone {
		return fmt.Errorf("llm: min_severity %q is not one of low, medium, high, critical", c.MinSeverity)
	}
	return nil
}

// maxWait is the wall-clock cap of a window.
func (c Config) maxWait() time.Duration {
	if c.MaxWait > 0 {
		return c.MaxWait
	}
	return c.Window
}
