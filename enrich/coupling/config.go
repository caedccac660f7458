package coupling

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config bounds the detector's memory and sets the coupling test. Start
// from DefaultConfig, change what you need, then call Validate (New does).
// A Config is a plain value: copy it freely. Decode it strictly (yaml.v3
// KnownFields) over DefaultConfig so that omitted keys keep their default.
//
// Nothing here is fitted to a capture: the lag window and the shift bounds
// are physical quantities (how soon a harness acts, how far apart unrelated
// activity is), and the decision threshold is a significance level (Alpha)
// that the null distribution turns into a p-value.
type Config struct {
	// MaxHosts bounds the hosts kept at once; past it the least recently
	// active host is forgotten (counted in Stats.HostsEvicted).
	MaxHosts int `yaml:"max_hosts"`
	// MaxEventsPerHost bounds each of a host's two lists: the most recent
	// model answers (streams) and, separately, the most recent actions.
	// Older entries are dropped first (counted in Stats.EventsDropped).
	MaxEventsPerHost int `yaml:"max_events_per_host"`
	// MaxEvents bounds the streams and actions kept over all hosts; past
	// it the least recently active hosts are forgotten (HostsEvicted). It
	// is the detector's memory budget: 140-280 bytes per event with its
	// share of the identity strings (record id, uid, Community ID, flow
	// key), plus about 300 bytes per host (BenchmarkMemory): the default
	// million events hold at most about 300 MiB; 100,000 hosts with four
	// events each about 110 MiB.
	MaxEvents int `yaml:"max_events"`
	// HostTTL is how long, on the record clock (the newest event time
	// seen), a host and its events are kept after them: a host quiet for
	// HostTTL is forgotten (HostsExpired), and events older than HostTTL
	// before the clock are dropped.
	HostTTL time.Duration `yaml:"host_ttl"`

	// LagWindow is how soon after a stream's end an action counts as
	// following it. An agent harness parses the answer and acts in tens to
	// hundreds of milliseconds; a process start, a DNS lookup and a TCP
	// handshake add at most a few hundred more. A person reads first.
	LagWindow time.Duration `yaml:"lag_window"`
	// MinCycles is the least number of coupled stream-action pairs a
	// finding needs, whatever the p-value: one agent step can be chance,
	// a loop cannot.
	MinCycles int `yaml:"min_cycles"`
	// Alpha is the significance level: a channel is coupled when its
	// p-value times the number of channels tested on the host (Bonferroni)
	// is at most Alpha. Under the null, at most about Alpha of the tested
	// hosts are flagged per evaluation. 0.001: a site has many hosts that
	// use a model and act on timers; one in a thousand of them flagged by
	// chance per evaluation is what an analyst can afford.
	Alpha float64 `yaml:"alpha"`
	// Permutations is the number of time-shifted copies of the actions the
	// null distribution is built from. The smallest p-value it can give is
	// 1/(Permutations+1); the detector draws more when a host has so many
	// channels that Alpha/channels would be out of reach.
	Permutations int `yaml:"permutations"`
	// MinShift and MaxShift bound the common offset of the shifted copies
	// (either sign). MinShift keeps the copies from re-creating the
	// observed alignment: an action moved by at least LagWindow leaves the
	// window it was in (0: LagWindow). MaxShift keeps the null local, so
	// that a host busy for ten minutes in an hour is compared with itself
	// during those minutes, not with its idle time.
	MinShift time.Duration `yaml:"min_shift"`
	MaxShift time.Duration `yaml:"max_shift"`
	// IgnoreServices lists IDS services whose connections are not actions:
	// a DNS lookup precedes the connection that acts (and an LLM client
	// resolves its API host right before a request, which chained model
	// calls would couple). Compared case-insensitively with Action.Service.
	IgnoreServices []string `yaml:"ignore_services"`
	// Seed makes the permutations reproducible: the same events give the
	// same p-values, whatever the order of evaluation.
	Seed int64 `yaml:"seed"`
	// MaxEvidence bounds the stream/action pairs a record lists (the most
	// recent ones).
	MaxEvidence int `yaml:"max_evidence"`

	// Extract configures the helpers that turn a flow's packet timing into
	// Streams and command Actions (Answers, Commands).
	Extract ExtractConfig `yaml:"extract"`
}

// ExtractConfig sets how Answers splits an LLM flow into model answers and
// how Commands finds command writes in an interactive session. The sizes
// are transport payload bytes, as the flow table records them.
type ExtractConfig struct {
	// RequestMinBytes is the least client write that starts a new answer
	// (an HTTP request with headers and a JSON body: several hundred
	// bytes); smaller client writes (HTTP/2 WINDOW_UPDATE, PING acks: 35-64
	// bytes in TLS) do not.
	RequestMinBytes int `yaml:"request_min_bytes"`
	// FlushGap groups server packets closer than this into one write (one
	// token flush split into segments), as the cadence analysis does.
	FlushGap time.Duration `yaml:"flush_gap"`
	// ControlMaxBytes is the largest client write that does not interrupt
	// an answer (HTTP/2 WINDOW_UPDATE or PING ack in TLS: 35-45 bytes), as
	// the cadence analysis's control_max_bytes.
	ControlMaxBytes int `yaml:"control_max_bytes"`
	// MinAnswerFlushes is the least number of server writes after the
	// turn's last client write (larger than ControlMaxBytes) that make an
	// answer: the server goes on writing on its own. A TLS handshake has
	// one or two (each of its server writes answers a client write); a
	// streamed tool call of a few tokens has several even when a stall
	// batches its events.
	MinAnswerFlushes int `yaml:"min_answer_flushes"`
	// TrailingGap and TrailingMaxBytes describe the packets that close an
	// idle connection long after its last answer (TLS close_notify, HTTP/2
	// GOAWAY): server writes of at most TrailingMaxBytes that come
	// TrailingGap or more after the previous one are not part of the
	// answer, so the answer's end stays its last token.
	TrailingGap      time.Duration `yaml:"trailing_gap"`
	TrailingMaxBytes int           `yaml:"trailing_max_bytes"`
	// CommandQuiet is the silence of both sides before a write of the
	// commanding side that makes the write a command (the start of a new
	// command line, not the next keystroke or a protocol exchange). As the
	// cadence analysis's think minimum.
	CommandQuiet time.Duration `yaml:"command_quiet"`
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		MaxHosts:         100_000,
		MaxEventsPerHost: 128,
		MaxEvents:        1_000_000,
		HostTTL:          30 * time.Minute,
		LagWindow:        1500 * time.Millisecond,
		MinCycles:        5,
		Alpha:            0.001,
		Permutations:     1999,
		MaxShift:         2 * time.Minute,
		IgnoreServices:   []string{"dns"},
		Seed:             1,
		MaxEvidence:      64,
		Extract:          DefaultExtractConfig(),
	}
}

// DefaultExtractConfig returns the defaults documented on each field.
func DefaultExtractConfig() ExtractConfig {
	return ExtractConfig{
		RequestMinBytes:  256,
		FlushGap:         2 * time.Millisecond,
		ControlMaxBytes:  64,
		MinAnswerFlushes: 3,
		TrailingGap:      2 * time.Second,
		TrailingMaxBytes: 64,
		CommandQuiet:     500 * time.Millisecond,
	}
}

// minShift is MinShift with its default applied.
func (c *Config) minShift() time.Duration {
	if c.MinShift == 0 {
		return c.LagWindow
	}
	return c.MinShift
}

// Validate reports every invalid field, each with the fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.MaxHosts < 1 {
		bad("max_hosts %d: keep at least 1 host", c.MaxHosts)
	}
	if c.MaxEventsPerHost < 2 {
		bad("max_events_per_host %d: keep at least 2 events per list", c.MaxEventsPerHost)
	}
	if c.MaxEvents < 2*c.MaxEventsPerHost {
		bad("max_events %d: must hold at least one full host (2 x max_events_per_host = %d)", c.MaxEvents, 2*c.MaxEventsPerHost)
	}
	if c.HostTTL <= 0 {
		bad("host_ttl %v: must be positive (e.g. 30m)", c.HostTTL)
	}
	if c.LagWindow <= 0 || c.LagWindow > time.Minute {
		bad("lag_window %v: want a positive duration of at most 1m (e.g. 1.5s)", c.LagWindow)
	}
	if c.MinCycles < 2 {
		bad("min_cycles %d: want at least 2 (one step can always be chance)", c.MinCycles)
	}
	if !(c.Alpha > 0 && c.Alpha < 1) || math.IsNaN(c.Alpha) {
		bad("alpha %v: want a significance level in (0, 1), e.g. 0.01", c.Alpha)
	}
	if c.Permutations < 1 || c.Permutations > 1_000_000 {
		bad("permutations %d: want 1..1000000", c.Permutations)
	} else if c.Alpha > 0 && float64(c.Permutations+1)*c.Alpha < 1 {
		bad("permutations %d: the smallest p-value, 1/(permutations+1), must be at most alpha %v; use at least %d",
			c.Permutations, c.Alpha, int(math.Ceil(1/c.Alpha))-1)
	}
	if c.MinShift < 0 {
		bad("min_shift %v: must not be negative (0: lag_window)", c.MinShift)
	} else if c.MinShift != 0 && c.MinShift < c.LagWindow {
		bad("min_shift %v: must be at least lag_window (%v), or shifted copies re-create the observed alignment", c.MinShift, c.LagWindow)
	}
	if c.MaxShift <= c.minShift() {
		bad("max_shift %v: must exceed min_shift (%v)", c.MaxShift, c.minShift())
	}
	if c.MaxEvidence < 1 {
		bad("max_evidence %d: list at least 1 pair", c.MaxEvidence)
	}
	if err := c.Extract.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("coupling config: %w", errors.Join(errs...))
	}
	return nil
}

// Validate reports every invalid field of the extraction settings.
func (c ExtractConfig) Validate() error {
	var errs []error
	if c.RequestMinBytes < 1 {
		errs = append(errs, fmt.Errorf("extract.request_min_bytes %d: must be positive", c.RequestMinBytes))
	}
	if c.FlushGap <= 0 {
		errs = append(errs, fmt.Errorf("extract.flush_gap %v: must be positive (e.g. 2ms)", c.FlushGap))
	}
	if c.ControlMaxBytes < 0 || c.ControlMaxBytes >= c.RequestMinBytes {
		errs = append(errs, fmt.Errorf("extract.control_max_bytes %d: want 0..request_min_bytes-1 (%d)", c.ControlMaxBytes, c.RequestMinBytes-1))
	}
	if c.MinAnswerFlushes < 1 {
		errs = append(errs, fmt.Errorf("extract.min_answer_flushes %d: must be at least 1", c.MinAnswerFlushes))
	}
	if c.TrailingGap <= 0 || c.TrailingMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("extract.trailing_gap %v / trailing_max_bytes %d: want a positive gap and a non-negative size", c.TrailingGap, c.TrailingMaxBytes))
	}
	if c.CommandQuiet <= 0 {
		errs = append(errs, fmt.Errorf("extract.command_quiet %v: must be positive (e.g. 500ms)", c.CommandQuiet))
	}
	return errors.Join(errs...)
}
