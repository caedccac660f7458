package synth

import (
	"errors"
	"fmt"
	"time"
)

// Config selects what Generate writes. The zero value is not useful on its
// own: start from DefaultConfig (a full-size labelled set) or TestdataConfig
// (the small set checked in under testdata/synth) and change fields.
//
// Generate fills zero values of Start, Span, Scale, EpisodeGap and (when
// TargetPackets is 0) EpisodesPerScenario with the defaults; the shares and
// Snaplen are taken as given.
type Config struct {
	// Seed makes the output reproducible: the same Config gives
	// byte-identical files.
	Seed int64
	// Start is the capture time of the earliest episode start (UTC).
	Start time.Time
	// Span is the window over which episode start times are spread in
	// per-scenario mode. Flows may run past it.
	Span time.Duration
	// EpisodesPerScenario is how many episodes of every scenario variant
	// to write in per-scenario mode (TargetPackets == 0). An episode is one
	// session or activity and may write several flows (an agent's LLM
	// connection and its shell, a web page's parallel connections, DNS).
	EpisodesPerScenario int
	// Scale multiplies stream lengths, session lengths and activity
	// durations (not the timing within them): 1 is full size.
	Scale float64
	// VolumeScale multiplies byte volumes of bulk transfers (downloads,
	// uploads, exfiltration, backups, video segments, large command
	// output); 0 means the same as Scale.
	VolumeScale float64
	// Scenarios restricts generation to these scenario names (see
	// Scenarios()); empty means all.
	Scenarios []string
	// TargetPackets, when > 0, switches to benchmark mode: episodes are
	// drawn from a weighted traffic mix and started one after another
	// (EpisodeGap apart on average) until at least this many packets are
	// written. Memory stays bounded by the flows that overlap in time.
	TargetPackets int64
	// EpisodeGap is the mean gap between episode starts in TargetPackets
	// mode.
	EpisodeGap time.Duration
	// IPv6Share is the share of episodes that use IPv6 where both ends
	// have an IPv6 address.
	IPv6Share float64
	// VLANShare is the share of internal hosts whose frames the sensor sees
	// 802.1Q-tagged.
	VLANShare float64
	// Snaplen cuts captured packets to this many bytes (0: whole packets).
	// Lengths in the headers and the logs are unaffected.
	Snaplen int
	// MicrosecondPcap writes a microsecond-resolution pcap instead of the
	// default nanosecond one.
	MicrosecondPcap bool
}

// DefaultStart is the default capture start.
var DefaultStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// DefaultConfig returns a full-size labelled set: three episodes of every
// scenario variant over ten minutes.
func DefaultConfig() Config {
	return Config{
		Seed:                1,
		Start:               DefaultStart,
		Span:                10 * time.Minute,
		EpisodesPerScenario: 3,
		Scale:               1,
		EpisodeGap:          200 * time.Millisecond,
		IPv6Share:           0.15,
		VLANShare:           0.3,
	}
}

// TestdataConfig is the configuration of the set checked in under
// testdata/synth: every scenario variant twice, at a small scale.
func TestdataConfig() Config {
	c := DefaultConfig()
	c.Seed = 20260302
	c.EpisodesPerScenario = 2
	c.Scale = 0.06
	c.VolumeScale = 0.001
	c.Span = 5 * time.Minute
	return c
}

// BenchmarkConfig returns a benchmark-mode configuration that writes at least
// packets packets: a weighted mix of every scenario at full session and
// stream lengths, with bulk volumes cut to a twentieth (a few MB instead of
// up to a GB) so that a file of a few million packets still holds thousands
// of flows.
func BenchmarkConfig(packets int64) Config {
	c := DefaultConfig()
	c.TargetPackets = packets
	c.VolumeScale = 0.05
	return c
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Scale < 0 || c.Scale > 10 {
		errs = append(errs, fmt.Errorf("scale %v: want 0 (default) or a value in (0, 10]", c.Scale))
	}
	if c.VolumeScale < 0 || c.VolumeScale > 10 {
		errs = append(errs, fmt.Errorf("volume scale %v: want 0 (same as scale) or a value in (0, 10]", c.VolumeScale))
	}
	if c.IPv6Share < 0 || c.IPv6Share > 1 {
		errs = append(errs, fmt.Errorf("ipv6 share %v: want a value in [0, 1]", c.IPv6Share))
	}
	if c.VLANShare < 0 || c.VLANShare > 1 {
		errs = append(errs, fmt.Errorf("vlan share %v: want a value in [0, 1]", c.VLANShare))
	}
	if c.Snaplen != 0 && (c.Snaplen < 128 || c.Snaplen > defaultSnaplen) {
		errs = append(errs, fmt.Errorf("snaplen %d: want 0 (whole packets) or 128..%d", c.Snaplen, defaultSnaplen))
	}
	if c.EpisodesPerScenario < 0 || c.EpisodesPerScenario > 10000 {
		errs = append(errs, fmt.Errorf("episodes per scenario %d: want 0..10000", c.EpisodesPerScenario))
	}
	if c.TargetPackets < 0 {
		errs = append(errs, fmt.Errorf("target packets %d: want >= 0", c.TargetPackets))
	}
	if c.Span < 0 || c.EpisodeGap < 0 {
		errs = append(errs, errors.New("span and episode gap must not be negative"))
	}
	if !c.Start.IsZero() && (c.Start.Unix() < 0 || c.Start.Unix() > 1<<32-1e6) {
		errs = append(errs, fmt.Errorf("start %v: pcap time stamps hold 1970..2106", c.Start))
	}
	known := map[string]bool{}
	for _, s := range allScenarios() {
		known[s.name] = true
	}
	for _, n := range c.Scenarios {
		if !known[n] {
			errs = append(errs, fmt.Errorf("unknown scenario %q (see synth.Scenarios())", n))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("synth config: %w", errors.Join(errs...))
	}
	return nil
}

// withDefaults fills zero values that have no meaning of their own.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	if c.Span == 0 {
		c.Span = d.Span
	}
	if c.Scale == 0 {
		c.Scale = 0.06
	}
	if c.VolumeScale == 0 {
		c.VolumeScale = c.Scale
	}
	if c.EpisodeGap == 0 {
		c.EpisodeGap = d.EpisodeGap
	}
	if c.EpisodesPerScenario == 0 && c.TargetPackets == 0 {
		c.EpisodesPerScenario = d.EpisodesPerScenario
	}
	return c
}
