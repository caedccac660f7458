package synth

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// This file is the entry point of the coupling set (issue 9): hosts whose
// actions follow their LLM answers (agent loops) and hard negatives (a
// person chatting with a model while typing in an unrelated SSH session, a
// CI runner on a timer, a monitoring poller), each on a host of its own,
// with a per-host truth file. It reuses the generator's physics and
// writers but has its own scenario list and entry point, so the main sets
// (TestdataConfig, BenchmarkConfig, eval) are unchanged byte for byte.

// CouplingConfig selects what GenerateCoupling writes. The embedded Config
// gives the seed, start, span, episodes per scenario variant, scale and
// capture options; its Scenarios and TargetPackets must stay empty (use
// CouplingConfig.Scenarios; there is no benchmark mode).
type CouplingConfig struct {
	Config
	// Scenarios restricts generation to these coupling scenarios (see
	// CouplingScenarios()); empty means all.
	Scenarios []string
}

// DefaultCouplingConfig returns the default coupling set: every coupling
// scenario variant twice over five minutes, answers and outputs shortened
// (Scale 0.25; the number of agent steps is not scaled), IPv4 only (a
// dual-stack host would show as two hosts; see enrich/coupling README).
func DefaultCouplingConfig() CouplingConfig {
	c := DefaultConfig()
	c.Seed = 20260309
	c.EpisodesPerScenario = 2
	c.Scale = 0.25
	c.VolumeScale = 0.01
	c.Span = 5 * time.Minute
	c.IPv6Share = 0
	return CouplingConfig{Config: c}
}

// Validate reports the first problems with c.
func (c CouplingConfig) Validate() error {
	var errs []error
	if len(c.Config.Scenarios) > 0 {
		errs = append(errs, errors.New("Config.Scenarios must be empty: name coupling scenarios in CouplingConfig.Scenarios"))
	}
	if c.TargetPackets != 0 {
		errs = append(errs, errors.New("target packets: the coupling set has no benchmark mode"))
	}
	known := map[string]bool{}
	for _, s := range couplingScenarios(nil) {
		known[s.name] = true
	}
	for _, n := range c.Scenarios {
		if !known[n] {
			errs = append(errs, fmt.Errorf("unknown coupling scenario %q (see synth.CouplingScenarios())", n))
		}
	}
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("synth coupling config: %w", errors.Join(errs...))
	}
	return nil
}

// CouplingScenarios lists the coupling scenarios in generation order.
func CouplingScenarios() []ScenarioInfo {
	var out []ScenarioInfo
	for _, s := range couplingScenarios(nil) {
		out = append(out, ScenarioInfo{Name: s.name, Class: s.class, Description: s.desc, Variants: slices.Clone(s.variants)})
	}
	return out
}

// HostTruth is one line of coupling_truth.jsonl: what one episode's host
// did. Every coupling episode runs on a host of its own, so the host
// address identifies the episode.
type HostTruth struct {
	Host     string `json:"host"`
	Scenario string `json:"scenario"`
	Variant  string `json:"variant"`
	Episode  int    `json:"episode"` // as Truth.Episode of the host's flows
	// Coupled is set when the host's actions follow its LLM answers (an
	// agent loop); hard negatives are not coupled.
	Coupled bool `json:"coupled"`
	// Channel is the kind of the scenario's main actions ("command":
	// command lines in one session; "connect": new connections) and
	// Service their IDS service ("ssh", "ssl", "http", "postgresql", ...).
	Channel string `json:"channel"`
	Service string `json:"service"`
	// Cycles is the number of answer-then-action steps the scenario wrote
	// (0 for negatives): each an answer followed, after LagsMs, by one
	// action of the channel.
	Cycles int       `json:"cycles"`
	LagsMs []float64 `json:"lags_ms,omitempty"`
	// Answers counts the model answers the host received; Actions the
	// actions of the main channel.
	Answers int `json:"answers"`
	Actions int `json:"actions"`
	// LLMRoute is the route of the host's model traffic.
	LLMRoute string `json:"llm_route"`
	StartNS  int64  `json:"start_ns"`
	EndNS    int64  `json:"end_ns"`
}

// CouplingOutputs are the streams GenerateCoupling writes: the usual ones
// and the per-host truth (coupling_truth.jsonl). A nil writer skips that
// output.
type CouplingOutputs struct {
	Outputs
	Hosts io.Writer
}

// HostTruthFile is the per-host truth file WriteCouplingDir writes.
const HostTruthFile = "coupling_truth.jsonl"

// WriteCouplingDir generates the coupling set into dir (created if
// needed): traffic.pcap, conn.log, ssl.log, truth.jsonl and
// coupling_truth.jsonl.
func WriteCouplingDir(cfg CouplingConfig, dir string) (Summary, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("synth: %w", err)
	}
	names := []string{PcapFile, ConnFile, SSLFile, TruthFile, HostTruthFile}
	files := make([]*os.File, len(names))
	closeAll := func() error {
		var errs []error
		for _, f := range files {
			if f != nil {
				errs = append(errs, f.Close())
			}
		}
		return errors.Join(errs...)
	}
	for i, n := range names {
		f, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			closeAll()
			return Summary{}, fmt.Errorf("synth: %w", err)
		}
		files[i] = f
	}
	s, err := GenerateCoupling(cfg, CouplingOutputs{Outputs: Outputs{PCAP: files[0], Conn: files[1], SSL: files[2], Truth: files[3]}, Hosts: files[4]})
	if cerr := closeAll(); err == nil && cerr != nil {
		err = fmt.Errorf("synth: %w", cerr)
	}
	return s, err
}

// GenerateCoupling writes the coupling set cfg describes, as Generate does
// for the main set, plus one HostTruth per episode (in episode order).
// Single-threaded and deterministic: the same cfg gives byte-identical
// outputs.
func GenerateCoupling(cfg CouplingConfig, out CouplingOutputs) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	base := cfg.Config.withDefaults()
	pool := &couplingPool{seed: base.Seed, vlanShare: base.VLANShare}
	var scen []*scenario
	want := map[string]bool{}
	for _, n := range cfg.Scenarios {
		want[n] = true
	}
	for _, s := range couplingScenarios(pool) {
		if len(want) == 0 || want[s.name] {
			scen = append(scen, s)
		}
	}
	g := newGeneratorFor(base, scen)
	w, err := newSinks(base, out.Outputs)
	if err != nil {
		return Summary{}, err
	}
	if err := g.run(w); err != nil {
		return Summary{}, err
	}
	if err := w.finish(g); err != nil {
		return Summary{}, err
	}
	if out.Hosts != nil {
		bw := bufio.NewWriter(out.Hosts)
		for _, h := range pool.truth {
			b, err := json.Marshal(h)
			if err != nil {
				return Summary{}, fmt.Errorf("synth: coupling truth: %w", err)
			}
			bw.Write(b)
			bw.WriteByte('\n')
		}
		if err := bw.Flush(); err != nil {
			return Summary{}, fmt.Errorf("synth: coupling truth: %w", err)
		}
	}
	return g.summary(w), nil
}

// ReadHostTruth reads a coupling_truth.jsonl stream.
func ReadHostTruth(r io.Reader) ([]HostTruth, error) {
	var out []HostTruth
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var t HostTruth
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return out, fmt.Errorf("coupling truth line %d: %w", line, err)
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

// newGeneratorFor is newGenerator in per-scenario mode with an explicit
// scenario list (the coupling set's), planned the same way.
func newGeneratorFor(cfg Config, scen []*scenario) *generator {
	g := &generator{
		cfg:        cfg,
		heap:       minHeap[*flow]{less: flowBefore},
		net:        newNetwork(cfg.Seed, cfg.VLANShare),
		start:      cfg.Start.UnixNano(),
		byClass:    map[schemas.Class]int{},
		byScenario: map[string]int{},
		scen:       scen,
	}
	for _, s := range scen {
		vs := s.variants
		if len(vs) == 0 {
			vs = []string{""}
		}
		for _, v := range vs {
			for k := 0; k < cfg.EpisodesPerScenario; k++ {
				r := newRNG(cfg.Seed, hashName(s.name)^hashName("v:"+v)^0xc0091e, uint64(k))
				st := g.start + int64(r.Float64()*float64(cfg.Span))
				g.plan = append(g.plan, &planItem{sc: s, variant: v, start: st, r: r})
			}
		}
	}
	slices.SortStableFunc(g.plan, func(a, b *planItem) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	return g
}

// couplingPool hands every coupling episode a host of its own and collects
// the per-host truth. It belongs to one generation.
type couplingPool struct {
	seed      int64
	vlanShare float64
	truth     []HostTruth
}

// Host roles of the coupling set: each role has its own /16.
const (
	roleAgent       = 50 // 10.50.x.y: a developer box or server running an agent
	roleWorkstation = 51 // 10.51.x.y: a person's laptop
	roleCI          = 52 // 10.52.x.y: a CI runner
	roleMonitor     = 53 // 10.53.x.y: a monitoring server
)

// host returns the dedicated host of episode e in the given role.
func (p *couplingPool) host(e *episode, role byte) *host {
	r := newRNG(p.seed, hashName("coupling-host"), uint64(e.idx))
	i := e.idx
	h := &host{
		v4: netip.AddrFrom4([4]byte{10, role, byte(i / 250), byte(10 + i%250)}),
		v6: netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x00, 2: 0, 3: role, 12: byte(i >> 8), 13: byte(i), 15: 1}),
	}
	switch role {
	case roleWorkstation:
		h.os = osKind(r.weighted([]float64{0.2, 0.55, 0.25}))
	case roleAgent:
		h.os = osKind(r.weighted([]float64{0.6, 0.05, 0.35}))
	default:
		h.os = osLinux
	}
	mac := r.Uint64()
	for j := 0; j < 6; j++ {
		h.mac[j] = byte(mac >> (8 * j))
	}
	h.mac[0] = h.mac[0]&0xfe | 0x02
	if r.chance(p.vlanShare) {
		h.vlan = uint16(100 + role)
	}
	h.seqPort = uint16(49152 + r.IntN(12000))
	return h
}

func (p *couplingPool) record(t HostTruth) { p.truth = append(p.truth, t) }
