package cadence

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config tunes feature extraction and classification. Start from
// DefaultConfig, change what you need, then call Validate (NewAnalyzer does).
// Every default is a physical quantity explained in doc.go; none is fitted to
// a capture. A Config is a plain value: copy it freely.
type Config struct {
	// FlushGap groups packets of one direction that arrive closer than this
	// into one flush (one application write split into back-to-back TCP
	// segments). 2 ms: a full-size segment takes 12 µs at 1 Gb/s and 1.2 ms
	// at 10 Mb/s to serialise, while token flushes are at least ~5 ms apart.
	FlushGap time.Duration `yaml:"flush_gap"`
	// TinyMaxBytes is the largest payload counted as keystroke-sized: an SSH
	// keystroke is 36-52 B (cipher and MAC dependent), a TLS record carrying
	// one character 23-30 B. The session analysis lowers it per side to the
	// side's 10th-percentile write + 16 B when that is smaller (plaintext
	// protocols such as telnet carry a keystroke in 1-3 B).
	TinyMaxBytes int `yaml:"tiny_max_bytes"`
	// ControlMaxBytes is the largest client record that does not break a
	// server run when it is sparse (HTTP/2 WINDOW_UPDATE or PING ack in TLS:
	// 35-45 B), see Exchange features.
	ControlMaxBytes int `yaml:"control_max_bytes"`
	// LineMaxBytes is the largest single client write still read as a command
	// line (larger writes are requests, pastes or uploads).
	LineMaxBytes int `yaml:"line_max_bytes"`

	// TokenGapMin and TokenGapMax bound the median gap between server flushes
	// of a token stream: one flush per 1-3 tokens at 4-300 tokens/s is
	// 5-250 ms; per-token flushing at several hundred tokens/s (Nova,
	// DeepSeek) comes 3-5 ms apart, and Gemini's multi-KB bursts ~200-350 ms
	// apart. Faster than 3 ms is segmentation, slower than 400 ms a push
	// feed or polling.
	TokenGapMin time.Duration `yaml:"token_gap_min"`
	TokenGapMax time.Duration `yaml:"token_gap_max"`
	// MinStreamFlushes and MinStreamDuration are the least evidence for a
	// stream: a server run shorter than this is an ordinary response.
	// MaxStreamDuration bounds one streamed answer (max output tokens at
	// generation speed: 16k tokens at 60 tokens/s is under 5 minutes); a
	// longer server run is a push feed.
	MinStreamFlushes  int           `yaml:"min_stream_flushes"`
	MinStreamDuration time.Duration `yaml:"min_stream_duration"`
	MaxStreamDuration time.Duration `yaml:"max_stream_duration"`
	// MinRequestBytes is the least client turn that can carry a prompt (an
	// HTTP request with headers and a JSON body); a stream after a smaller
	// request (a subscription) loses confidence.
	MinRequestBytes int `yaml:"min_request_bytes"`
	// StreamMaxFlushBytes bounds the median flush of a stream: token flushes
	// are hundreds of bytes to a few KB (Gemini bursts reach ~4.6 KB), bulk
	// flushes are a congestion window (14 KB and up).
	StreamMaxFlushBytes int `yaml:"stream_max_flush_bytes"`
	// StreamMaxRate bounds a stream's throughput in bytes/s: token streams
	// carry tens of KB/s, bulk transfers fill the link.
	StreamMaxRate float64 `yaml:"stream_max_rate"`

	// ThinkMin and ThinkMax bound the pause an agent takes between the end of
	// a command's output and its next command: model latency, i.e. time to
	// first token plus generating the whole answer, typically 0.5-10 s and
	// up to tens of seconds for reasoning models or long answers. Client
	// writes after a shorter silence are not commands; when most pauses
	// exceed ThinkMax the pacing is not an agent's.
	ThinkMin time.Duration `yaml:"think_min"`
	ThinkMax time.Duration `yaml:"think_max"`
	// AnswerWindow is how soon the other side must answer a command (echo,
	// prompt or output) for it to count as answered.
	AnswerWindow time.Duration `yaml:"answer_window"`
	// KeyGapMin is the shortest gap between two human keystrokes; keystroke-
	// sized writes closer than this are machine input (scripted, or SSH
	// keystroke-timing obfuscation chaff on a 20 ms grid).
	KeyGapMin time.Duration `yaml:"key_gap_min"`
	// MachineReaction bounds how soon after the other side's write a
	// keystroke-sized write is a machine's answer (a protocol client replies
	// within milliseconds; a person reacts in 100 ms or more, and keys typed
	// independently of the echo rarely land this close).
	MachineReaction time.Duration `yaml:"machine_reaction"`
	// TypingBurstGap is the longest gap inside one typed word or line.
	TypingBurstGap time.Duration `yaml:"typing_burst_gap"`
	// HumanCharTime and HumanReaction give the least time a person needs to
	// type a line of n characters: HumanReaction + n*HumanCharTime (80 ms per
	// character is 150 words per minute, faster than nearly every typist).
	HumanCharTime time.Duration `yaml:"human_char_time"`
	HumanReaction time.Duration `yaml:"human_reaction"`
	// MinKeystrokes is the least number of typed keystrokes for a human
	// phase ("exit" and Enter is five). MinCommands is the least number of
	// command lines for an agent phase: a login (password, second factor,
	// sudo) gives a person up to three think-paused line writes, an agent
	// loop issues more.
	MinKeystrokes int `yaml:"min_keystrokes"`
	MinCommands   int `yaml:"min_commands"`

	// ExfilMinBytes and ExfilMinRatio define a high-volume upload: client
	// payload bytes at least this many and this many times the server's.
	ExfilMinBytes int64   `yaml:"exfil_min_bytes"`
	ExfilMinRatio float64 `yaml:"exfil_min_ratio"`

	// MinConfidence is the least confidence for a detection class; weaker
	// evidence falls back to human_interactive or other.
	MinConfidence float64 `yaml:"min_confidence"`

	// RouteMinScore is the least profile score (0..1 similarity) for a
	// named route, and RouteMinEvidence the least log-likelihood ratio
	// (natural log) of the best route over the runner-up: 3 is about 20:1.
	// Otherwise the route is "unknown". RouteCandidates is how many scored
	// candidates a RouteMatch lists.
	RouteMinScore    float64 `yaml:"route_min_score"`
	RouteMinEvidence float64 `yaml:"route_min_evidence"`
	RouteCandidates  int     `yaml:"route_candidates"`
}

// DefaultConfig returns the defaults documented on each Config field.
func DefaultConfig() Config {
	return Config{
		FlushGap:            2 * time.Millisecond,
		TinyMaxBytes:        52,
		ControlMaxBytes:     64,
		LineMaxBytes:        1024,
		TokenGapMin:         3 * time.Millisecond,
		TokenGapMax:         400 * time.Millisecond,
		MinStreamFlushes:    8,
		MinStreamDuration:   400 * time.Millisecond,
		MaxStreamDuration:   300 * time.Second,
		MinRequestBytes:     256,
		StreamMaxFlushBytes: 6000,
		StreamMaxRate:       300_000,
		ThinkMin:            500 * time.Millisecond,
		ThinkMax:            30 * time.Second,
		AnswerWindow:        3 * time.Second,
		KeyGapMin:           35 * time.Millisecond,
		MachineReaction:     15 * time.Millisecond,
		TypingBurstGap:      1500 * time.Millisecond,
		HumanCharTime:       80 * time.Millisecond,
		HumanReaction:       300 * time.Millisecond,
		MinKeystrokes:       4,
		MinCommands:         4,
		ExfilMinBytes:       256 << 10,
		ExfilMinRatio:       4,
		MinConfidence:       0.5,
		RouteMinScore:       0.5,
		RouteMinEvidence:    3,
		RouteCandidates:     3,
	}
}

// Validate reports every invalid field, each with the fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("cadence config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	posDur := func(field string, d time.Duration) {
		if d <= 0 {
			bad(field, "must be a positive duration (got %v); e.g. the default %v", d, defaultDuration(field))
		}
	}
	posInt := func(field string, v int) {
		if v <= 0 {
			bad(field, "must be > 0 (got %d)", v)
		}
	}
	posDur("flush_gap", c.FlushGap)
	posDur("token_gap_min", c.TokenGapMin)
	posDur("token_gap_max", c.TokenGapMax)
	posDur("min_stream_duration", c.MinStreamDuration)
	posDur("max_stream_duration", c.MaxStreamDuration)
	if c.MinStreamDuration > 0 && c.MaxStreamDuration > 0 && c.MaxStreamDuration <= c.MinStreamDuration {
		bad("max_stream_duration", "must exceed min_stream_duration (%v); got %v", c.MinStreamDuration, c.MaxStreamDuration)
	}
	if c.MinRequestBytes < 0 {
		bad("min_request_bytes", "must be >= 0 (got %d)", c.MinRequestBytes)
	}
	posDur("think_min", c.ThinkMin)
	posDur("think_max", c.ThinkMax)
	posDur("answer_window", c.AnswerWindow)
	posDur("key_gap_min", c.KeyGapMin)
	posDur("typing_burst_gap", c.TypingBurstGap)
	posDur("machine_reaction", c.MachineReaction)
	posDur("human_char_time", c.HumanCharTime)
	if c.HumanReaction < 0 {
		bad("human_reaction", "must be >= 0 (got %v)", c.HumanReaction)
	}
	posInt("tiny_max_bytes", c.TinyMaxBytes)
	posInt("control_max_bytes", c.ControlMaxBytes)
	posInt("line_max_bytes", c.LineMaxBytes)
	posInt("min_stream_flushes", c.MinStreamFlushes)
	posInt("stream_max_flush_bytes", c.StreamMaxFlushBytes)
	posInt("min_keystrokes", c.MinKeystrokes)
	posInt("min_commands", c.MinCommands)
	posInt("route_candidates", c.RouteCandidates)
	if c.LineMaxBytes > 0 && c.LineMaxBytes <= c.TinyMaxBytes {
		bad("line_max_bytes", "must exceed tiny_max_bytes (%d), a command line is larger than a keystroke (got %d)", c.TinyMaxBytes, c.LineMaxBytes)
	}
	if c.TokenGapMin > 0 && c.TokenGapMax > 0 && c.TokenGapMin >= c.TokenGapMax {
		bad("token_gap_max", "must exceed token_gap_min (%v); got %v", c.TokenGapMin, c.TokenGapMax)
	}
	if c.FlushGap > 0 && c.TokenGapMin > 0 && c.FlushGap >= c.TokenGapMin {
		bad("flush_gap", "must be below token_gap_min (%v) or token flushes merge; got %v", c.TokenGapMin, c.FlushGap)
	}
	if c.ThinkMin > 0 && c.ThinkMax > 0 && c.ThinkMin >= c.ThinkMax {
		bad("think_max", "must exceed think_min (%v); got %v", c.ThinkMin, c.ThinkMax)
	}
	if c.KeyGapMin > 0 && c.TypingBurstGap > 0 && c.KeyGapMin >= c.TypingBurstGap {
		bad("typing_burst_gap", "must exceed key_gap_min (%v); got %v", c.KeyGapMin, c.TypingBurstGap)
	}
	if !(c.StreamMaxRate > 0) {
		bad("stream_max_rate", "must be > 0 bytes/s (got %v)", c.StreamMaxRate)
	}
	if c.ExfilMinBytes <= 0 {
		bad("exfil_min_bytes", "must be > 0 (got %d)", c.ExfilMinBytes)
	}
	if !(c.ExfilMinRatio >= 1) {
		bad("exfil_min_ratio", "must be >= 1: an upload sends more than it receives (got %v)", c.ExfilMinRatio)
	}
	unit := func(field string, v float64) {
		if !(v >= 0 && v <= 1) {
			bad(field, "must be within 0..1 (got %v)", v)
		}
	}
	unit("min_confidence", c.MinConfidence)
	unit("route_min_score", c.RouteMinScore)
	if !(c.RouteMinEvidence >= 0) || math.IsInf(c.RouteMinEvidence, 0) {
		bad("route_min_evidence", "must be a finite log-likelihood ratio >= 0 (got %v); 3 is about 20:1", c.RouteMinEvidence)
	}
	return errors.Join(errs...)
}

func defaultDuration(field string) time.Duration {
	d := DefaultConfig()
	switch field {
	case "flush_gap":
		return d.FlushGap
	case "token_gap_min":
		return d.TokenGapMin
	case "token_gap_max":
		return d.TokenGapMax
	case "min_stream_duration":
		return d.MinStreamDuration
	case "max_stream_duration":
		return d.MaxStreamDuration
	case "think_min":
		return d.ThinkMin
	case "think_max":
		return d.ThinkMax
	case "answer_window":
		return d.AnswerWindow
	case "key_gap_min":
		return d.KeyGapMin
	case "typing_burst_gap":
		return d.TypingBurstGap
	case "machine_reaction":
		return d.MachineReaction
	case "human_char_time":
		return d.HumanCharTime
	}
	return 0
}
