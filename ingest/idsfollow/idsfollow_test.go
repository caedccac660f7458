package idsfollow

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/ingest/tail"
	"github.com/aegis-nsm/aegis/ingest/zeek"
)

const synth = "../../testdata/synth/"

// collect runs f until want records came (acking the first ackFirst),
// then stops it and closes it (writing the checkpoint).
func collect(t *testing.T, f *Follower, want int, ackFirst int) []Record {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu  sync.Mutex
		got []Record
	)
	done := make(chan error, 1)
	go func() {
		done <- f.Run(ctx, func(r Record) error {
			mu.Lock()
			got = append(got, r)
			n := len(got)
			mu.Unlock()
			if n <= ackFirst {
				r.Done(nil)
			}
			if n == want {
				cancel()
			}
			return nil
		})
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cancel()
		<-done
		mu.Lock()
		t.Fatalf("only %d of %d records in 20 s", len(got), want)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return got
}

func cfgFor(dir string) Config {
	c := DefaultConfig()
	c.Zeek = []string{filepath.Join(dir, "ssl.log"), filepath.Join(dir, "conn.log")}
	c.Follow.PositionsFile = filepath.Join(dir, "positions.json")
	c.Follow.PollInterval = 10 * time.Millisecond
	c.Follow.CheckpointEvery = 10 * time.Millisecond
	return c
}

// TestZeekFollowJoinAndResume follows the bundled Zeek logs as a sensor
// writes them (ssl.log lines before the conn.log lines), checks every conn
// record comes with the SNI its ssl record gives, then appends the second
// half of conn.log after a restart: the follower resumes mid-file,
// re-reads the header, and decodes the rest identically.
func TestZeekFollowJoinAndResume(t *testing.T) {
	want, _, err := zeek.ReadFiles(synth+"conn.log", synth+"ssl.log")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := os.ReadFile(synth + "conn.log")
	if err != nil {
		t.Fatal(err)
	}
	ssl, _ := os.ReadFile(synth + "ssl.log")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ssl.log"), ssl, 0o644)
	// First run: the header and the first half of the records.
	lines := bytes.SplitAfter(conn, []byte("\n"))
	var hdr int
	for hdr < len(lines) && bytes.HasPrefix(lines[hdr], []byte("#")) {
		hdr++
	}
	half := hdr + (len(want))/2
	sslRecords := int64(bytes.Count(ssl, []byte("\n")) - bytes.Count(ssl, []byte("\n#")) - 1)

	f, err := New(cfgFor(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	// conn.log appears once the ssl.log records are in, as Zeek writes them
	// (handshake first, connection end later).
	go func() {
		for deadline := time.Now().Add(10 * time.Second); f.Stats().Context < sslRecords && time.Now().Before(deadline); {
			time.Sleep(2 * time.Millisecond)
		}
		os.WriteFile(filepath.Join(dir, "conn.log"), bytes.Join(lines[:half], nil), 0o644)
	}()
	got := collect(t, f, half-hdr, half)

	// Restart, with the rest appended (the #close line stays at the end).
	fh, _ := os.OpenFile(filepath.Join(dir, "conn.log"), os.O_APPEND|os.O_WRONLY, 0)
	fh.Write(bytes.Join(lines[half:], nil))
	fh.Close()
	f2, err := New(cfgFor(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, collect(t, f2, len(want)-(half-hdr), len(want))...)
	if s := f2.Stats(); s.Primed != 1 {
		t.Errorf("primed %d files, want 1 (conn.log resumed mid-way)", s.Primed)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := &want[i], got[i].Flow
		if g.UID != w.UID || g.Orig != w.Orig || g.Resp != w.Resp || g.Start != w.Start || g.End != w.End ||
			g.OrigBytes != w.OrigBytes || g.Line != w.Line || g.Service != w.Service {
			t.Fatalf("record %d: got %+v\nwant %+v", i, g, w)
		}
		if g.SNI != w.SNI && !(i >= half-hdr && g.SNI == "") {
			// After the restart the ssl.log context was already consumed
			// (acknowledged) in the first run, so only the first half is
			// held to the SNI.
			t.Errorf("record %d (%s): SNI %q, want %q", i, g.UID, g.SNI, w.SNI)
		}
	}
}

// TestUnackedLinesAreReadAgain: a record whose Done was never called is
// delivered again after a restart; acknowledged ones are not.
func TestUnackedLinesAreReadAgain(t *testing.T) {
	dir := t.TempDir()
	conn, _ := os.ReadFile(synth + "conn.log")
	ssl, _ := os.ReadFile(synth + "ssl.log")
	os.WriteFile(filepath.Join(dir, "ssl.log"), ssl, 0o644)
	os.WriteFile(filepath.Join(dir, "conn.log"), conn, 0o644)
	want, _, _ := zeek.ReadFile(synth + "conn.log")

	f, _ := New(cfgFor(dir), nil)
	collect(t, f, len(want), 50)
	f2, _ := New(cfgFor(dir), nil)
	again := collect(t, f2, len(want)-50, len(want))
	if again[0].Flow.UID != want[50].UID {
		t.Errorf("after restart the first record is %s, want the first unacknowledged one %s", again[0].Flow.UID, want[50].UID)
	}
}

func TestValidate(t *testing.T) {
	c := DefaultConfig()
	if c.Validate() == nil {
		t.Error("a config without logs validated")
	}
	c.Zeek = []string{"[conn.log"}
	if c.Validate() == nil {
		t.Error("a bad pattern validated")
	}
	c.Zeek = []string{"conn.log"}
	c.Follow.Start = tail.Start("middle")
	if c.Validate() == nil {
		t.Error("a bad follow start validated")
	}
}
