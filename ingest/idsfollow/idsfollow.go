// Package idsfollow turns the followed logs of a running sensor into IDS
// flow records: it follows Zeek logs (conn.log, conn_long.log, ssl.log; TSV
// or JSON) and Suricata EVE files with ingest/tail, decodes each line with a
// decoder of its file (re-reading a Zeek file's header when it resumes in
// the middle), joins the context records (ssl.log by uid, EVE tls, quic,
// ssh, http and alert events by flow_id) into the flow records that come
// after them, and hands every flow record, with the acknowledgement of its
// line, to the caller in file order.
//
// Lines that produce no flow record (headers, context, other event types,
// malformed lines) are acknowledged at once; a flow record's line is
// acknowledged when the caller calls its Done, so the positions file never
// runs ahead of what the pipeline finished.
package idsfollow

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aegis-nsm/aegis/ingest/eve"
	"github.com/aegis-nsm/aegis/ingest/flowctx"
	"github.com/aegis-nsm/aegis/ingest/tail"
	"github.com/aegis-nsm/aegis/ingest/zeek"
	"github.com/aegis-nsm/aegis/schemas"
)

// Config is the logs section of aegis.yaml.
type Config struct {
	// Zeek and EVE are paths or glob patterns of the files to follow:
	// "/opt/zeek/logs/current/conn.log", ".../ssl.log",
	// "/var/log/suricata/eve.json" or "eve.*.json".
	Zeek []string `yaml:"zeek"`
	EVE  []string `yaml:"eve"`
	// Follow configures the follower (start, positions file, poll
	// interval, line and in-flight bounds); its Paths are set from Zeek
	// and EVE.
	Follow tail.Config `yaml:"follow"`
	// ZeekDecoder and EVEDecoder configure the decoders (Community ID seed,
	// raw event kept, ...).
	ZeekDecoder zeek.Config `yaml:"zeek_decoder"`
	EVEDecoder  eve.Config  `yaml:"eve_decoder"`
	// MaxContext bounds the context records waiting for their flow record.
	MaxContext int `yaml:"max_context"`
}

// DefaultConfig follows with a 50 ms poll, so a conn.log line is seen
// within tens of milliseconds.
func DefaultConfig() Config {
	f := tail.DefaultConfig()
	f.PollInterval = 50 * time.Millisecond
	return Config{Follow: f, MaxContext: 200_000}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if len(c.Zeek)+len(c.EVE) == 0 {
		return errors.New("logs: no zeek or eve files to follow")
	}
	for _, p := range append(append([]string{}, c.Zeek...), c.EVE...) {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("logs: bad pattern %q: %v", p, err)
		}
	}
	if c.MaxContext < 1 {
		return errors.New("logs: max_context must be at least 1")
	}
	if err := c.ZeekDecoder.Validate(); err != nil {
		return fmt.Errorf("logs: zeek_decoder: %w", err)
	}
	if err := c.EVEDecoder.Validate(); err != nil {
		return fmt.Errorf("logs: eve_decoder: %w", err)
	}
	f := c.Follow
	f.Paths = append(append([]string{}, c.Zeek...), c.EVE...)
	if err := f.Validate(); err != nil {
		return fmt.Errorf("logs: follow: %w", err)
	}
	return nil
}

// Stats are the decoding counters, summed over files.
type Stats struct {
	Zeek         zeek.Stats
	EVE          eve.Stats
	Flows        int64 // flow records handed out
	Context      int64 // context records cached
	ContextJoins int64 // flow records that received context
	ContextLost  int64 // context records dropped unused (cache full)
	Primed       int64 // files resumed mid-way whose header was re-read
	Follow       tail.Stats
}

// Follower follows the logs. Run it once.
type Follower struct {
	cfg  Config
	log  *slog.Logger
	tail *tail.Follower

	mu    sync.Mutex
	files map[fileKey]*fileDecoder
	uids  *flowctx.Cache[string]
	fids  *flowctx.Cache[uint64]
	stats Stats
}

type fileKey struct{ dev, ino uint64 }

// fileDecoder is the decoding state of one file generation.
type fileDecoder struct {
	path string
	zeek *zeek.Decoder // one of zeek, eve
	eve  *eve.Decoder
	last int64 // line number decoded last
	used time.Time
}

// New prepares a Follower (nothing is opened until Run).
func New(cfg Config, log *slog.Logger) (*Follower, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tc := cfg.Follow
	tc.Paths = append(append([]string{}, cfg.Zeek...), cfg.EVE...)
	t, err := tail.New(tc, log)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	return &Follower{cfg: cfg, log: log, tail: t, files: map[fileKey]*fileDecoder{},
		uids: flowctx.NewCache[string](cfg.MaxContext), fids: flowctx.NewCache[uint64](cfg.MaxContext)}, nil
}

// Record is one flow record and the acknowledgement of its line: call Done
// exactly once when every record it led to is delivered (nil) — or with
// the error that made the pipeline give up (the line is then left
// unacknowledged, to be read again after a restart).
type Record struct {
	Flow *schemas.IDSFlow
	Done func(error)
}

// Run follows the logs until ctx ends, calling fn for each flow record in
// file order (fn may block: that is back-pressure, and reading stops once
// the follower's in-flight bound is reached). It returns ctx's error or the
// first error from fn. Close writes the final checkpoint.
func (f *Follower) Run(ctx context.Context, fn func(Record) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- f.tail.Run(ctx) }()
	lines := f.tail.Lines()
	for {
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), ignoreCanceled(<-errc))
		case err := <-errc:
			return err
		case l, ok := <-lines:
			if !ok {
				return <-errc
			}
			if err := f.line(l, fn); err != nil {
				cancel()
				<-errc
				return err
			}
		}
	}
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close stops following and writes the final checkpoint.
func (f *Follower) Close() error { return f.tail.Close() }

// Stats returns the counters.
func (f *Follower) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.ContextJoins = f.uids.Matched + f.fids.Matched
	s.ContextLost = f.uids.Evicted + f.fids.Evicted
	s.Follow = f.tail.Stats()
	return s
}

// line decodes one line and hands out its flow record, if any.
func (f *Follower) line(l tail.Line, fn func(Record) error) error {
	f.mu.Lock()
	d := f.decoderFor(l)
	var (
		flow *schemas.IDSFlow
		err  error
	)
	if d.zeek != nil {
		flow, err = f.zeekLine(d, l)
	} else {
		flow, err = f.eveLine(d, l)
	}
	d.last = l.Num
	if flow != nil {
		f.stats.Flows++
	}
	f.mu.Unlock()
	if err != nil {
		// Counted by the decoder; logged at a bounded rate by the caller's
		// stats. The line is done.
		f.log.Debug("bad log line", "err", err)
	}
	if flow == nil {
		f.tail.Ack(l)
		return nil
	}
	tok := l.Token()
	return fn(Record{Flow: flow, Done: func(err error) {
		if err == nil {
			f.tail.AckToken(tok)
		}
	}})
}

// decoderFor returns the decoder of l's file generation, creating it (and
// re-reading the header of a Zeek file resumed mid-way) when needed.
func (f *Follower) decoderFor(l tail.Line) *fileDecoder {
	k := fileKey{l.ID.Dev, l.ID.Inode}
	d := f.files[k]
	if d != nil && l.Num != 1 {
		d.used = time.Now()
		if d.path != l.File { // renamed by rotation: keep the state
			d.path = l.File
		}
		return d
	}
	d = &fileDecoder{path: l.File, used: time.Now()}
	if f.isEVE(l.File) {
		d.eve, _ = eve.NewDecoder(l.File, f.cfg.EVEDecoder)
		d.eve.SetLine(l.Num - 1)
	} else {
		d.zeek, _ = zeek.NewDecoder(l.File, f.cfg.ZeekDecoder)
		if l.Num > 1 {
			if err := primeZeek(d.zeek, l.File, l.Start); err != nil {
				f.log.Warn("zeek log resumed mid-way: could not re-read its header", "file", l.File, "err", err)
			}
			f.stats.Primed++
		}
		d.zeek.SetLine(l.Num - 1)
	}
	f.files[k] = d
	f.forgetOld()
	return d
}

// forgetOld drops the decoders of files not read for an hour (rotated away
// long ago), keeping the map small.
func (f *Follower) forgetOld() {
	if len(f.files) < 64 {
		return
	}
	cut := time.Now().Add(-time.Hour)
	for k, d := range f.files {
		if d.used.Before(cut) {
			f.stats.Zeek.Add(zeekStats(d))
			f.stats.EVE.Add(eveStats(d))
			delete(f.files, k)
		}
	}
}

func zeekStats(d *fileDecoder) zeek.Stats {
	if d.zeek == nil {
		return zeek.Stats{}
	}
	return d.zeek.Stats()
}

func eveStats(d *fileDecoder) eve.Stats {
	if d.eve == nil {
		return eve.Stats{}
	}
	return d.eve.Stats()
}

// isEVE reports whether path is an EVE file: it matches an EVE pattern;
// or, renamed by rotation so that it matches neither (eve.json.1), it is
// named like one, or EVE is all that is followed.
func (f *Follower) isEVE(path string) bool {
	if matchAny(f.cfg.EVE, path) {
		return true
	}
	if matchAny(f.cfg.Zeek, path) {
		return false
	}
	return len(f.cfg.Zeek) == 0 || strings.HasPrefix(filepath.Base(path), "eve.")
}

func matchAny(patterns []string, path string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, path); ok {
			return true
		}
	}
	return false
}

// primeZeek feeds d the header lines of path before offset: the last
// header block before the resume point.
func primeZeek(d *zeek.Decoder, path string, offset int64) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	r := bufio.NewReaderSize(io.LimitReader(fh, offset), 1<<16)
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 && line[0] == '#' {
			d.Decode(line)
		}
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull { // a long record line: skip it
				_, err = r.ReadSlice('\n')
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (f *Follower) zeekLine(d *fileDecoder, l tail.Line) (*schemas.IDSFlow, error) {
	res, err := d.zeek.Decode(l.Text)
	switch res.Kind {
	case zeek.KindSSL:
		s := &res.SSL
		f.uids.Put(s.UID, &flowctx.Fields{SNI: s.ServerName, TLSVersion: s.Version, JA3: s.JA3, JA3S: s.JA3S, JA4: s.JA4})
		f.stats.Context++
	case zeek.KindConn:
		flow := res.Flow
		f.uids.Apply(&flow, flow.UID, !flow.Interim)
		return &flow, nil
	}
	return nil, err
}

func (f *Follower) eveLine(d *fileDecoder, l tail.Line) (*schemas.IDSFlow, error) {
	res, err := d.eve.Decode(l.Text)
	switch res.Kind {
	case eve.KindContext:
		f.fids.Put(res.Context.FlowID, &res.Context.Fields)
		f.stats.Context++
	case eve.KindFlow:
		flow := res.Flow
		f.fids.Apply(&flow, flow.FlowID, true)
		return &flow, nil
	}
	return nil, err
}

// DecoderStats sums the stats of the decoders still open with those of
// the ones already forgotten.
func (f *Follower) DecoderStats() (zeek.Stats, eve.Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	z, e := f.stats.Zeek, f.stats.EVE
	for _, d := range f.files {
		z.Add(zeekStats(d))
		e.Add(eveStats(d))
	}
	return z, e
}

// Enrich gives flow the context that arrived after it was handed out (a
// context line read after its flow's line: Zeek flushes ssl.log and
// conn.log independently). The pipeline calls it when the flow's join is
// resolved, which is usually later. It reports whether flow changed.
func (f *Follower) Enrich(flow *schemas.IDSFlow) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if flow.Sensor == schemas.SensorSuricata {
		return f.fids.Apply(flow, flow.FlowID, true)
	}
	return f.uids.Apply(flow, flow.UID, !flow.Interim)
}
