package synth

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// Outputs are the streams Generate writes. A nil writer skips that output
// (the packets are still generated, so the logs stay consistent with what
// the pcap would have held). Generate buffers internally and does not close
// the writers.
type Outputs struct {
	PCAP  io.Writer // libpcap file, Ethernet link type
	Conn  io.Writer // Zeek conn.log (TSV)
	SSL   io.Writer // Zeek ssl.log (TSV)
	Truth io.Writer // truth.jsonl, one Truth per flow
}

// Summary describes what Generate wrote.
type Summary struct {
	Episodes  int   // episodes run (one session or activity each)
	Flows     int   // flows written (conn.log rows, truth lines)
	Packets   int64 // packets in the pcap
	PcapBytes int64 // size of the pcap file
	// First and Last are the times of the first and last packet.
	First, Last time.Time
	// FlowsByClass and FlowsByScenario count flows.
	FlowsByClass    map[schemas.Class]int
	FlowsByScenario map[string]int
}

// File names WriteDir uses.
const (
	PcapFile  = "traffic.pcap"
	ConnFile  = "conn.log"
	SSLFile   = "ssl.log"
	TruthFile = "truth.jsonl"
)

// WriteDir generates into dir (created if needed): traffic.pcap, conn.log,
// ssl.log and truth.jsonl.
func WriteDir(cfg Config, dir string) (Summary, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("synth: %w", err)
	}
	names := []string{PcapFile, ConnFile, SSLFile, TruthFile}
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
	s, err := Generate(cfg, Outputs{PCAP: files[0], Conn: files[1], SSL: files[2], Truth: files[3]})
	if cerr := closeAll(); err == nil && cerr != nil {
		err = fmt.Errorf("synth: %w", cerr)
	}
	return s, err
}

// Generate writes the traffic cfg describes. Packets are written in global
// time order; a conn.log and a truth row are written when a flow's last
// packet has been written (so rows are ordered by flow end, as Zeek writes
// them at connection end), an ssl.log row when a TLS flow's first packet
// has been written. Generation is single-threaded and deterministic.
func Generate(cfg Config, out Outputs) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	cfg = cfg.withDefaults()
	g := newGenerator(cfg)
	w, err := newSinks(cfg, out)
	if err != nil {
		return Summary{}, err
	}
	if err := g.run(w); err != nil {
		return Summary{}, err
	}
	if err := w.finish(g); err != nil {
		return Summary{}, err
	}
	return g.summary(w), nil
}

type sinks struct {
	bufs        []*bufio.Writer
	pcap        *pcapOut
	conn, ssl   *zeekLog
	truth       *bufio.Writer
	row         []byte
	headersDone bool
	first, last int64
}

func bufOrDiscard(w io.Writer) *bufio.Writer {
	if w == nil {
		w = io.Discard
	}
	return bufio.NewWriterSize(w, 1<<20)
}

func newSinks(cfg Config, out Outputs) (*sinks, error) {
	s := &sinks{}
	pb := bufOrDiscard(out.PCAP)
	cb := bufOrDiscard(out.Conn)
	sb := bufOrDiscard(out.SSL)
	s.truth = bufOrDiscard(out.Truth)
	s.bufs = []*bufio.Writer{pb, cb, sb, s.truth}
	p, err := newPcapOut(pb, cfg.Snaplen, cfg.MicrosecondPcap)
	if err != nil {
		return nil, fmt.Errorf("synth: pcap: %w", err)
	}
	s.pcap = p
	s.conn = &zeekLog{w: cb, path: "conn", fields: connFields, types: connTypes}
	s.ssl = &zeekLog{w: sb, path: "ssl", fields: sslFields, types: sslTypes}
	return s, nil
}

func (s *sinks) packet(f *flow, p *pkt) error {
	if !s.headersDone {
		s.headersDone = true
		s.first = p.t
		s.conn.header(time.Unix(0, p.t))
		s.ssl.header(time.Unix(0, p.t))
	}
	s.last = p.t
	ipLen, err := s.pcap.write(f, p)
	if err != nil {
		return fmt.Errorf("synth: pcap: %w", err)
	}
	f.cnt.observe(f, p, ipLen)
	if f.next == 0 && f.tls != nil {
		s.row = sslRow(s.row[:0], f)
		s.ssl.w.Write(s.row)
		s.ssl.rows++
	}
	return nil
}

func (s *sinks) flowDone(f *flow) error {
	s.row = connRow(s.row[:0], f)
	s.conn.w.Write(s.row)
	s.conn.rows++
	b, err := json.Marshal(truthOf(f))
	if err != nil {
		return fmt.Errorf("synth: truth: %w", err)
	}
	s.truth.Write(b)
	return s.truth.WriteByte('\n')
}

func (s *sinks) finish(g *generator) error {
	if !s.headersDone {
		t := time.Unix(0, g.start)
		s.conn.header(t)
		s.ssl.header(t)
		s.first, s.last = g.start, g.start
	}
	s.conn.close(time.Unix(0, s.last))
	s.ssl.close(time.Unix(0, s.last))
	for _, b := range s.bufs {
		if err := b.Flush(); err != nil {
			return fmt.Errorf("synth: write: %w", err)
		}
	}
	return nil
}

func (g *generator) summary(s *sinks) Summary {
	return Summary{
		Episodes:        g.episodes,
		Flows:           g.flowsDone,
		Packets:         s.pcap.pkts,
		PcapBytes:       s.pcap.bytes,
		First:           time.Unix(0, s.first).UTC(),
		Last:            time.Unix(0, s.last).UTC(),
		FlowsByClass:    g.byClass,
		FlowsByScenario: g.byScenario,
	}
}
