package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressOnlyOnTerminals(t *testing.T) {
	var buf bytes.Buffer
	if p := newProgress(&buf, nil, false, nil, nil); p != nil {
		t.Fatal("a progress line for a buffer, which is not a terminal")
	}
	// The nil progress is inert.
	var p *progress
	p.run()
	p.finish()
	if src := p.wrap(nil); src != nil {
		t.Error("nil progress changed the source")
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, []string{bundledDir + "traffic.pcap"}, true, func() int64 { return 42 }, func() int64 { return 7 })
	now := p.start.Add(2 * time.Second)
	p.nowFor = func() time.Time { return now }
	p.pkts.Store(200_000)
	p.bytes.Store(p.total / 4)
	line := p.line()
	for _, want := range []string{"(25%)", "100 k pkt/s", "42 flows", "7 detections", "ETA 6s"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	// Drawn on the writer with carriage returns, cleared at the end.
	p.every = time.Millisecond
	p.run()
	time.Sleep(20 * time.Millisecond)
	p.finish()
	if out := buf.String(); !strings.HasPrefix(out, "\r") || !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("output %q", out)
	}
}
