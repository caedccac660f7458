package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// progress draws one status line on a terminal while 'aegis analyze' reads
// a large capture: bytes read of the total, packets per second, flows,
// detections and the time left. On anything but a terminal it draws
// nothing (logs and CI stay clean).
type progress struct {
	w      io.Writer
	total  int64 // bytes of the input files
	start  time.Time
	every  time.Duration
	pkts   atomic.Int64
	bytes  atomic.Int64 // approximate file bytes consumed: record headers + captured bytes
	flows  func() int64
	dets   func() int64
	stop   chan struct{}
	done   sync.WaitGroup
	drawn  bool
	nowFor func() time.Time
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newProgress returns a progress line for paths on w, or nil when w is not
// a terminal (and force is false).
func newProgress(w io.Writer, paths []string, force bool, flows, dets func() int64) *progress {
	if !force && !isTerminal(w) {
		return nil
	}
	var total int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			total += fi.Size()
		}
	}
	return &progress{w: w, total: total, start: time.Now(), every: 250 * time.Millisecond,
		flows: flows, dets: dets, stop: make(chan struct{}), nowFor: time.Now}
}

// wrap counts what src hands out.
func (p *progress) wrap(src packetSource) packetSource {
	if p == nil {
		return src
	}
	return progressSource{src, p}
}

type progressSource struct {
	src packetSource
	p   *progress
}

func (s progressSource) ReadBatch(ps []schemas.Packet) (int, error) {
	n, err := s.src.ReadBatch(ps)
	var b int64
	for i := range ps[:n] {
		b += 16 + int64(ps[i].WireLen) // pcap record header + frame (the snap length rarely cuts)
	}
	s.p.pkts.Add(int64(n))
	s.p.bytes.Add(b)
	return n, err
}

// run draws the line until finish is called.
func (p *progress) run() {
	if p == nil {
		return
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				fmt.Fprint(p.w, "\r"+p.line()+"\x1b[K")
				p.drawn = true
			}
		}
	}()
}

// finish stops drawing and clears the line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	p.done.Wait()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// line is the status line at this moment.
func (p *progress) line() string {
	el := p.nowFor().Sub(p.start).Seconds()
	pkts, b := p.pkts.Load(), min(p.bytes.Load(), p.total)
	rate := 0.0
	if el > 0 {
		rate = float64(pkts) / el
	}
	s := mib(b)
	eta := "?"
	if p.total > 0 {
		s = fmt.Sprintf("%s / %s (%.0f%%)", mib(b), mib(p.total), 100*float64(b)/float64(p.total))
		if b > 0 && el > 0 {
			left := time.Duration(float64(p.total-b) / (float64(b) / el) * float64(time.Second))
			eta = left.Round(time.Second).String()
		}
	}
	return fmt.Sprintf("%s  %.0f k pkt/s  %d flows  %d detections  ETA %s", s, rate/1000, p.flows(), p.dets(), eta)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
