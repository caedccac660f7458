package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var measureLatency = flag.Bool("aegis.latency", false, "measure conn.log-line-to-record latency of aegis run (TestRunLatency)")

// TestRunLatency measures, on -aegis.latency, the time from a conn.log line
// being appended to its record being written by 'aegis run', when the
// flow's packets are already in: the ring is written first, then the
// records are appended one at a time and the output is watched. It reports
// the median and p99; it asserts nothing about time.
//
//	go test -run TestRunLatency -aegis.latency -v ./cmd/aegis/
func TestRunLatency(t *testing.T) {
	if !*measureLatency {
		t.Skip("set -aegis.latency to measure")
	}
	dir := t.TempDir()
	s := newSensor(t, dir)
	// The packets, then an hour of wire time: every flow has ended and is
	// waiting for its record.
	for i := 0; i < len(s.frames); i += s.perFile {
		f := s.frames[i:min(i+s.perFile, len(s.frames))]
		s.writeFile(t, f)
	}
	s.writeFile(t, []frame{clockFrame(s.frames[len(s.frames)-1].ci.Timestamp.Add(time.Hour))})
	// writeFile appended the log lines already: start over with headers
	// only, and append the conn records one by one below.
	conn := filepath.Join(dir, "logs", "conn.log")
	os.WriteFile(conn, []byte(strings.Join(s.conn.header, "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "out", "detection.jsonl")
	// The follower's default poll interval, as deployed.
	yaml := strings.Replace(runConfigYAML(dir, "oldest"), "poll_interval: 10ms\n    checkpoint_every", "poll_interval: 50ms\n    checkpoint_every", 1)
	d := startRun(t, writeConfig(t, dir, yaml))
	time.Sleep(2 * time.Second) // the ring is read and every flow is waiting
	var lat []time.Duration
	for i, r := range s.conn.recs {
		start := time.Now()
		appendLines(t, conn, []string{r.line})
		for countLines(out) < i+1 {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("record %d not written after 10 s", i+1)
			}
			time.Sleep(200 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	d.stop(t)
	if n := len(readRecords(t, out)); n != len(s.conn.recs) {
		t.Errorf("%d records written, want %d", n, len(s.conn.recs))
	}
	slices.Sort(lat)
	t.Logf("%d records: median %v, p90 %v, p99 %v, max %v", len(lat),
		lat[len(lat)/2], lat[len(lat)*90/100], lat[len(lat)*99/100], lat[len(lat)-1])
}

// countLines counts the complete lines of path, cheaply (the poll loop
// must not load the machine it measures).
func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}
