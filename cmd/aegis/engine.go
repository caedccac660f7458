package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/enrich/report"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/communityid"
)

// packetSource is what the engine reads: capture.FileReader and
// capture.Merger satisfy it. ReadBatch fills ps and returns io.EOF at the end.
type packetSource interface {
	ReadBatch(ps []schemas.Packet) (int, error)
}

// engineConfig sets up one offline analysis.
type engineConfig struct {
	Workers   int              // flow-table shards; 0 means GOMAXPROCS
	Table     flowtable.Config // per shard; the memory budget is split between shards
	All       bool             // publish every flow, not only detections
	CIDSeed   uint16           // Community ID seed, as the sensor's
	Analyzer  *cadence.Analyzer
	Index     *enrich.Index // IDS records; may be empty
	BatchSize int
	// Report, when set, receives every detection with its packet detail
	// and its route's profile (aegis analyze --report).
	Report   *report.Report
	Profiles *cadence.Profiles
}

// engine runs packets through sharded flow tables, analyses each finished
// flow on the shard's goroutine, joins it with its IDS record and renders
// its record. Output order is independent of the number of shards: records
// are sorted by flow start, then flow key, then ordinal.
type engine struct {
	cfg    engineConfig
	shards []*shard
	// flowsDone and detections count analysed flows as they happen, for
	// the progress line.
	flowsDone, detections atomic.Int64
}

// outRecord is one rendered record with its sort key.
type outRecord struct {
	first   int64
	key     flowtable.Key
	ordinal int
	class   schemas.Class
	line    []byte
}

// shardStats are one shard's counts of analysed flows.
type shardStats struct {
	flows      int64
	classes    map[schemas.Class]int64
	routes     map[string]int64
	joined     map[enrich.JoinMethod]int64
	idsMatched []int
}

type shard struct {
	e        *engine
	table    *flowtable.Table
	in       chan []schemas.Packet
	free     chan []schemas.Packet
	ordinals map[flowtable.Key]int
	out      []outRecord
	stats    shardStats
	err      error
	hasher   communityid.Hasher
}

func newEngine(cfg engineConfig) (*engine, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 512
	}
	if cfg.Index == nil {
		cfg.Index = enrich.NewIndex(nil)
	}
	e := &engine{cfg: cfg}
	tcfg := cfg.Table
	tcfg.MemoryBudget /= int64(cfg.Workers)
	for range cfg.Workers {
		s := &shard{
			e:        e,
			in:       make(chan []schemas.Packet, 8),
			free:     make(chan []schemas.Packet, 16),
			ordinals: make(map[flowtable.Key]int),
			hasher:   communityid.Hasher{Seed: cfg.CIDSeed},
			stats: shardStats{classes: map[schemas.Class]int64{}, routes: map[string]int64{},
				joined: map[enrich.JoinMethod]int64{}},
		}
		t, err := flowtable.New(tcfg, s.finish)
		if err != nil {
			return nil, err
		}
		s.table = t
		for range 12 {
			s.free <- make([]schemas.Packet, 0, cfg.BatchSize)
		}
		e.shards = append(e.shards, s)
	}
	return e, nil
}

// shardOf spreads flows over shards with a hash that is the same for both
// directions of a flow.
func shardOf(t *schemas.Tuple, n int) int {
	// XOR is symmetric, so both directions land on the same shard.
	h := binary.LittleEndian.Uint64(t.SrcIP[:8]) ^ binary.LittleEndian.Uint64(t.SrcIP[8:]) ^
		binary.LittleEndian.Uint64(t.DstIP[:8]) ^ binary.LittleEndian.Uint64(t.DstIP[8:])
	h ^= uint64(t.SrcPort ^ t.DstPort)
	h ^= uint64(t.Proto) << 16
	h *= 0x9e3779b97f4a7c15
	return int((h >> 32) % uint64(n))
}

// run reads src to the end and returns the sorted records.
func (e *engine) run(ctx context.Context, src packetSource) ([]outRecord, error) {
	var wg sync.WaitGroup
	for _, s := range e.shards {
		wg.Go(s.loop)
	}
	readErr := e.dispatch(ctx, src)
	for _, s := range e.shards {
		close(s.in)
	}
	wg.Wait()
	var all []outRecord
	for _, s := range e.shards {
		if s.err != nil && readErr == nil {
			readErr = s.err
		}
		all = append(all, s.out...)
	}
	slices.SortFunc(all, func(a, b outRecord) int {
		switch {
		case a.first != b.first:
			return cmpInt(a.first, b.first)
		case a.key != b.key:
			if flowtable.KeyLess(a.key, b.key) {
				return -1
			}
			return 1
		}
		return a.ordinal - b.ordinal
	})
	return all, readErr
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	return 1
}

// dispatch reads batches and hands each packet to its shard.
func (e *engine) dispatch(ctx context.Context, src packetSource) error {
	n := len(e.shards)
	buf := make([]schemas.Packet, e.cfg.BatchSize)
	pending := make([][]schemas.Packet, n)
	for i, s := range e.shards {
		pending[i] = <-s.free
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		got, err := src.ReadBatch(buf)
		for i := range got {
			p := &buf[i]
			si := 0
			if n > 1 {
				si = shardOf(&p.Tuple, n)
			}
			pending[si] = append(pending[si], *p)
			if len(pending[si]) == cap(pending[si]) {
				e.shards[si].in <- pending[si]
				pending[si] = (<-e.shards[si].free)[:0]
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	for i, s := range e.shards {
		if len(pending[i]) > 0 {
			s.in <- pending[i]
		}
	}
	return nil
}

func (s *shard) loop() {
	for batch := range s.in {
		for i := range batch {
			s.table.Add(&batch[i])
		}
		select {
		case s.free <- batch[:0]:
		default:
		}
	}
	s.table.Flush()
}

// finish analyses, joins and renders one flow the table let go of.
func (s *shard) finish(f *flowtable.Flow) {
	ord := s.ordinals[f.Key]
	s.ordinals[f.Key] = ord + 1
	cid := s.hasher.ID(f.OrigTuple)
	ix := s.e.cfg.Index
	idsIdx, method := ix.Match(enrich.Query{Tuple: f.OrigTuple, CommunityID: cid, First: f.First, Last: f.Last, Ordinal: ord})
	var ids *schemas.IDSFlow
	fctx := cadence.FlowContext{}
	if idsIdx >= 0 {
		ids = ix.Flow(idsIdx)
		fctx.SNI, fctx.Service = ids.SNI, ids.Service
		s.stats.idsMatched = append(s.stats.idsMatched, idsIdx)
	}
	s.stats.joined[method]++
	res := s.e.cfg.Analyzer.Analyze(f, fctx)
	s.stats.flows++
	s.e.flowsDone.Add(1)
	if res.Class.IsDetection() {
		s.e.detections.Add(1)
	}
	s.stats.classes[res.Class]++
	if res.Class == schemas.ClassLLMStream {
		s.stats.routes[res.Route.Name]++
	}
	if !s.e.cfg.All && !res.Class.IsDetection() {
		return
	}
	sum := flowSummary(f, cid)
	v := enrich.Verdict{Cadence: res.Features, Class: res.Class, Confidence: res.Confidence,
		Reasons: res.Reasons, Handoff: res.Handoff, Route: res.Route}
	rec := enrich.Assemble(sum, v, ids, method)
	if rep := s.e.cfg.Report; rep != nil && res.Class.IsDetection() {
		d := report.DetailFromFlow(f, 0)
		if s.e.cfg.Profiles != nil {
			d.Expected, _ = report.ExpectedFor(s.e.cfg.Profiles, rec.Aegis.Route)
		}
		rep.Add(&rec, d)
	}
	line, err := json.Marshal(&rec)
	if err != nil {
		if s.err == nil {
			s.err = fmt.Errorf("render record for %s: %w", rec.Aegis.FlowKey, err)
		}
		return
	}
	s.out = append(s.out, outRecord{first: f.First, key: f.Key, ordinal: ord, class: res.Class, line: line})
}

// tableStats sums the shards' table counters.
func (e *engine) tableStats() flowtable.Stats {
	var t flowtable.Stats
	for _, s := range e.shards {
		st := s.table.Stats()
		t.Packets += st.Packets
		t.Flows += st.Flows
		t.EndedIdle += st.EndedIdle
		t.EndedClosed += st.EndedClosed
		t.Evicted += st.Evicted
		t.Flushed += st.Flushed
		t.Retransmits += st.Retransmits
		t.PeakMemory += st.PeakMemory
	}
	return t
}

// analysisStats merges the shards' analysis counters.
func (e *engine) analysisStats() shardStats {
	m := shardStats{classes: map[schemas.Class]int64{}, routes: map[string]int64{}, joined: map[enrich.JoinMethod]int64{}}
	seen := map[int]bool{}
	for _, s := range e.shards {
		m.flows += s.stats.flows
		for k, v := range s.stats.classes {
			m.classes[k] += v
		}
		for k, v := range s.stats.routes {
			m.routes[k] += v
		}
		for k, v := range s.stats.joined {
			m.joined[k] += v
		}
		for _, i := range s.stats.idsMatched {
			if !seen[i] {
				seen[i] = true
				m.idsMatched = append(m.idsMatched, i)
			}
		}
	}
	slices.Sort(m.idsMatched)
	return m
}
