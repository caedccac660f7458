package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/ingest/tail"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
	"github.com/twmb/franz-go/pkg/kfake"
)

var outageFlag = flag.Duration("outage", 30*time.Second, "how long TestBrokerOutage keeps the broker down (-short: 3s)")

// positionsDoc is the part of ingest/tail's positions file the test reads.
type positionsDoc struct {
	Files []struct {
		Path   string `json:"path"`
		Offset int64  `json:"offset"`
	} `json:"files"`
}

func readOffset(path, file string) (int64, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var doc positionsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, false, err
	}
	for _, f := range doc.Files {
		if f.Path == file {
			return f.Offset, true, nil
		}
	}
	return 0, false, nil
}

// TestBrokerOutage follows a growing log file with ingest/tail, publishes
// each line through the sink with Done -> Ack, and stops the broker (its
// process state: listeners and connections gone, data kept on disk) for
// 30 s in the middle, then starts it again on the same port.
//
// It shows: Write blocks once max_in_flight records wait (in flight never
// exceeds the bound, the follower stops reading behind it); no record
// fails; the positions file's offset never passes a line whose record
// Kafka has not acknowledged; publishing resumes by itself; every line
// reaches Kafka (at least once: a produce request answered by a dying
// broker may be written twice) in order per source, and the final
// checkpoint covers the whole file.
func TestBrokerOutage(t *testing.T) {
	outage := *outageFlag
	if testing.Short() && outage > 3*time.Second {
		outage = 3 * time.Second
	}
	const (
		limit     = 64   // sink max_in_flight
		phaseA    = 800  // lines before the outage
		phaseB    = 1200 // lines appended during it
		phaseC    = 600  // lines after it
		totalLine = phaseA + phaseB + phaseC
	)

	// The broker: kfake with its data on disk, restartable on its port.
	dataDir := t.TempDir()
	topics := topicNames(t)
	start := func(port int) *kfake.Cluster {
		opts := []kfake.Opt{kfake.DataDir(dataDir)}
		if port == 0 {
			opts = append(opts, kfake.NumBrokers(1), kfake.SeedTopics(3, topicList(topics)...))
		} else {
			opts = append(opts, kfake.Ports(port))
		}
		c, err := kfake.NewCluster(opts...)
		if err != nil {
			t.Fatalf("kfake: %v", err)
		}
		return c
	}
	cluster := start(0)
	addr := cluster.ListenAddrs()[0]
	var port int
	if _, err := fmt.Sscanf(addr, "127.0.0.1:%d", &port); err != nil {
		t.Fatal(err)
	}
	var clusterMu sync.Mutex
	t.Cleanup(func() { clusterMu.Lock(); cluster.Close(); clusterMu.Unlock() })
	k := &testKafka{addrs: []string{addr}, topics: topics}

	// The sink.
	cfg := k.config()
	cfg.MaxInFlight = limit
	cfg.BatchSize = 16
	cfg.RetryBackoffMax = 500 * time.Millisecond
	cfg.WriteTimeout = 2 * time.Second
	s := newSink(t, cfg)

	// The follower.
	dir := t.TempDir()
	logFile := filepath.Join(dir, "records.jsonl")
	posFile := filepath.Join(dir, "positions.json")
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := tail.New(tail.Config{Paths: []string{logFile}, PositionsFile: posFile, Start: tail.StartBeginning,
		PollInterval: 20 * time.Millisecond, CheckpointEvery: 30 * time.Millisecond, MaxInFlight: 100_000}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan struct{})
	go func() { defer close(runDone); f.Run(ctx) }()

	// What was appended (line end offsets, in order) and what Kafka acked.
	_, base := replayRecords(t)
	recs := synthRecords(t, base, totalLine, 40, t.Name())
	var (
		mu       sync.Mutex
		ends     []int64            // end offset of each appended line
		acked    = map[int64]bool{} // end offsets of acknowledged lines
		ackCount atomic.Int64
		size     int64
	)
	appendLines := func(from, to int) {
		fh, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		for i := from; i < to; i++ {
			line := append(append([]byte{}, recs[i].value...), '\n')
			if _, err := fh.Write(line); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			size += int64(len(line))
			ends = append(ends, size)
			mu.Unlock()
		}
	}

	// The pump: lines -> messages -> sink; Done -> Ack.
	pumpDone := make(chan struct{})
	go func() {
		defer close(pumpDone)
		for l := range f.Lines() {
			var v struct {
				Event struct {
					ID string `json:"id"`
				} `json:"event"`
				Source struct {
					IP string `json:"ip"`
				} `json:"source"`
				Network struct {
					CommunityID string `json:"community_id"`
				} `json:"network"`
			}
			if err := json.Unmarshal(l.Text, &v); err != nil {
				t.Errorf("line %d: %v", l.Num, err)
				f.Ack(l)
				continue
			}
			end, tok := l.End, l.Token()
			m := sink.Message{Kind: sink.KindDetection, Value: l.Text, SourceIP: v.Source.IP, CommunityID: v.Network.CommunityID, ID: v.Event.ID,
				Done: func(err error) {
					if err != nil {
						t.Errorf("record of line ending at %d: Done(%v)", end, err)
						return // not acknowledged: the line will be read again after a restart
					}
					mu.Lock()
					acked[end] = true
					mu.Unlock()
					ackCount.Add(1)
					f.AckToken(tok)
				}}
			if err := s.Write(ctx, m); err != nil {
				if ctx.Err() == nil {
					t.Errorf("Write: %v", err)
				}
				return
			}
		}
	}()

	// The watcher: the checkpoint never passes an unacknowledged line, and
	// the sink never holds more than max_in_flight records.
	var checks, outageChecks atomic.Int64
	var inOutage atomic.Bool
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	check := func() {
		off, ok, err := readOffset(posFile, logFile)
		if err != nil {
			t.Errorf("positions file: %v", err)
			return
		}
		st := s.Stats()
		if st.InFlight > limit {
			t.Errorf("%d records in flight, max_in_flight is %d", st.InFlight, limit)
		}
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range ends {
			if e > off {
				break
			}
			if !acked[e] {
				t.Errorf("checkpoint offset %d passes the line ending at %d, whose record Kafka has not acknowledged", off, e)
				return
			}
		}
		if off != 0 && !acked[off] {
			t.Errorf("checkpoint offset %d is not the end of an acknowledged line", off)
		}
		checks.Add(1)
		if inOutage.Load() {
			outageChecks.Add(1)
		}
	}
	go func() {
		defer close(watchDone)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-tick.C:
				check()
			}
		}
	}()

	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting (%v) for %s; sink %+v; follower %+v", d, what, s.Stats(), f.Stats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Phase A: the broker is up.
	appendLines(0, phaseA)
	waitFor("phase A acknowledged", 60*time.Second, func() bool { return ackCount.Load() == phaseA })

	// Phase B: the broker stops; lines keep coming.
	clusterMu.Lock()
	cluster.Close()
	clusterMu.Unlock()
	inOutage.Store(true)
	stopped := time.Now()
	ackedAtStop := ackCount.Load()
	t.Logf("broker stopped after %d acknowledged records; down for %v", ackedAtStop, outage)
	appendLines(phaseA, phaseA+phaseB/2)
	waitFor("the sink to fill up (Write blocked)", 30*time.Second, func() bool { return s.Stats().InFlight == limit })
	appendLines(phaseA+phaseB/2, phaseA+phaseB)
	for time.Since(stopped) < outage {
		st := s.Stats()
		if st.Accepted > ackCount.Load()+limit {
			t.Fatalf("accepted %d records with %d acknowledged: more than max_in_flight %d", st.Accepted, ackCount.Load(), limit)
		}
		if st.Failed != 0 {
			t.Fatalf("%d records failed during the outage", st.Failed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := s.Stats()
	fst := f.Stats()
	t.Logf("during the outage: sink %+v; follower read %d lines, %d unacknowledged", st, fst.Lines, fst.InFlight)
	if st.Acked != ackedAtStop || ackCount.Load() != ackedAtStop {
		t.Errorf("records acknowledged while the broker was down: %d -> %d", ackedAtStop, st.Acked)
	}
	if st.Retries == 0 {
		t.Error("no retries during the outage")
	}
	if fst.Lines >= phaseA+phaseB {
		// The pump is stuck in Write, so the follower cannot have been
		// acknowledged past the sink's bound.
		if fst.InFlight < limit {
			t.Errorf("follower: %d lines unacknowledged, want at least the sink's %d", fst.InFlight, limit)
		}
	}

	// Phase C: the broker is back on the same port with its data.
	clusterMu.Lock()
	cluster = start(port)
	clusterMu.Unlock()
	inOutage.Store(false)
	appendLines(phaseA+phaseB, totalLine)
	waitFor("every record acknowledged after the restart", 120*time.Second, func() bool { return ackCount.Load() == totalLine })

	stopWatch()
	<-watchDone
	check()
	if err := f.Close(); err != nil { // final checkpoint
		t.Fatalf("follower close: %v", err)
	}
	<-runDone
	cancel()
	<-pumpDone
	off, _, err := readOffset(posFile, logFile)
	if err != nil {
		t.Fatal(err)
	}
	if off != size {
		t.Errorf("final checkpoint at %d, file is %d bytes", off, size)
	}
	if checks.Load() == 0 || outageChecks.Load() == 0 {
		t.Errorf("positions file checked %d times (%d during the outage)", checks.Load(), outageChecks.Load())
	}
	st = s.Stats()
	if st.PeakInFlight > limit || st.Failed != 0 {
		t.Errorf("stats %+v: peak in flight above %d or failures", st, limit)
	}

	// Kafka holds every line, in order per source; duplicates are allowed
	// (at-least-once) and reported.
	got := consume(t, k, topics[sink.KindDetection])
	order := make(map[string]int, totalLine)
	for i := range recs {
		order[recs[i].rec.Event.ID] = i
	}
	seen := make(map[string]int, totalLine)
	lastByKey := map[string]int{}
	for _, c := range got {
		var v struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		if err := json.Unmarshal(c.value, &v); err != nil {
			t.Fatalf("value: %v", err)
		}
		if err := schemacheck.ValidateJSON(c.value); err != nil {
			t.Errorf("record %s: %v", v.Event.ID, err)
		}
		i, ok := order[v.Event.ID]
		if !ok {
			t.Fatalf("unknown record %s", v.Event.ID)
		}
		seen[v.Event.ID]++
		if seen[v.Event.ID] > 1 {
			continue // a re-sent batch: order is checked on first arrivals
		}
		if last, ok := lastByKey[c.key]; ok && last > i {
			t.Errorf("key %s: line %d arrived after line %d", c.key, i, last)
		}
		lastByKey[c.key] = i
	}
	dups := 0
	for i := range recs {
		switch n := seen[recs[i].rec.Event.ID]; {
		case n == 0:
			t.Errorf("line %d (record %s) never reached Kafka", i, recs[i].rec.Event.ID)
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("Kafka holds %d records for %d lines (%d duplicates from batches re-sent across the outage); outage %v, sink %+v",
		len(got), totalLine, dups, outage, st)
}
