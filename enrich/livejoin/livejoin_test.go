package livejoin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
)

const sec = int64(time.Second)

// base is the packet clock's origin in these tests.
const base = int64(1_700_000_000) * sec

// idsRec is a TCP IDS record for client port cport from base+start to
// base+end seconds.
func idsRec(cport uint16, start, end int64) *schemas.IDSFlow {
	return &schemas.IDSFlow{
		UID: fmt.Sprint("C", cport, "-", start), Proto: schemas.ProtoTCP,
		Orig:  netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), cport),
		Resp:  netip.MustParseAddrPort("10.0.0.2:443"),
		Start: base + start*sec, End: base + end*sec,
	}
}

// flow is the packet flow of the same connection.
func flow(cport uint16, start, end int64) *flowtable.Flow {
	t := schemas.Tuple{SrcIP: schemas.IPv4(10, 0, 0, 1), DstIP: schemas.IPv4(10, 0, 0, 2), SrcPort: cport, DstPort: 443, Proto: 6}
	k, _ := flowtable.CanonicalKey(t)
	return &flowtable.Flow{Key: k, OrigTuple: t, First: base + start*sec, Last: base + end*sec}
}

type collector struct {
	mu  sync.Mutex
	got []Result
}

func (c *collector) emit(r Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, r)
	return nil
}

func (c *collector) results() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.got {
		out = append(out, fmt.Sprintf("%s:%s", r.IDS.UID, r.Outcome))
	}
	return out
}

type fakeBackfill struct{ have map[string]*flowtable.Flow }

func (b fakeBackfill) Backfill(_ context.Context, ids *schemas.IDSFlow) (*flowtable.Flow, error) {
	if f, ok := b.have[ids.UID]; ok {
		return f, nil
	}
	return nil, nil
}

func start(t *testing.T, cfg Config, bf Backfiller) (*Joiner, *collector, context.Context, func() error) {
	t.Helper()
	c := &collector{}
	j, err := New(cfg, bf, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	t.Cleanup(cancel)
	return j, c, ctx, func() error {
		if err := j.Drain(ctx); err != nil {
			return err
		}
		return <-done
	}
}

func waitFor(t *testing.T, c *collector, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(c.results()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d results after 5 s, want %d: %v", len(c.results()), n, c.results())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestJoinOutcomesInIDSOrder(t *testing.T) {
	bf := fakeBackfill{have: map[string]*flowtable.Flow{"C3-0": flow(3, 0, 5)}}
	j, c, ctx, finish := start(t, DefaultConfig(), bf)
	j.Clock(base + 10*sec)
	// 1: flow first, then its record: hit.
	j.AddFlow(ctx, flow(1, 0, 8))
	time.Sleep(10 * time.Millisecond) // the flow is in before the record
	j.AddIDS(ctx, Item{IDS: idsRec(1, 0, 8)})
	// 2: record first; its flow comes later: waited. 3 and 4 wait behind it.
	j.AddIDS(ctx, Item{IDS: idsRec(2, 5, 9)})
	j.AddIDS(ctx, Item{IDS: idsRec(3, 0, 5)}) // never comes live: backfilled
	j.AddIDS(ctx, Item{IDS: idsRec(4, 0, 5)}) // nowhere: miss
	time.Sleep(20 * time.Millisecond)
	if got := c.results(); len(got) != 1 || got[0] != "C1-0:hit" {
		t.Fatalf("before the wait is over: %v, want only the hit (the rest waits in order)", got)
	}
	j.AddFlow(ctx, flow(2, 5, 9))
	waitFor(t, c, 2)
	// The packet clock passes the join delay: 3 and 4 give up.
	j.Clock(base + 9*sec + int64(DefaultConfig().JoinDelay) + sec)
	waitFor(t, c, 4)
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	want := "[C1-0:hit C2-5:waited C3-0:backfilled C4-0:miss]"
	if got := fmt.Sprint(c.results()); got != want {
		t.Errorf("results %s, want %s", got, want)
	}
	s := j.Stats()
	if s.Hits != 1 || s.Waits != 1 || s.Backfills != 1 || s.Misses != 1 || s.Pending != 0 || s.Kept != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestSameTupleTwiceMatchesByTime(t *testing.T) {
	j, c, ctx, finish := start(t, DefaultConfig(), nil)
	j.AddFlow(ctx, flow(7, 0, 10))
	j.AddFlow(ctx, flow(7, 100, 130))
	time.Sleep(10 * time.Millisecond)
	j.AddIDS(ctx, Item{IDS: idsRec(7, 100, 130)})
	j.AddIDS(ctx, Item{IDS: idsRec(7, 0, 10)})
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) != 2 || c.got[0].Flow == nil || c.got[0].Flow.First != base+100*sec || c.got[1].Flow.First != base {
		t.Errorf("each record must take the flow of its own time: %+v", c.got)
	}
}

func TestGraceExpiryAndLateRecord(t *testing.T) {
	cfg := DefaultConfig()
	bf := fakeBackfill{have: map[string]*flowtable.Flow{"C9-0": flow(9, 0, 4)}}
	j, c, ctx, finish := start(t, cfg, bf)
	j.AddFlow(ctx, flow(9, 0, 4))
	j.Clock(base + 4*sec + int64(cfg.Grace) + sec) // the timing is dropped
	time.Sleep(20 * time.Millisecond)
	if s := j.Stats(); s.Expired != 1 || s.Kept != 0 {
		t.Fatalf("stats %+v, want the flow expired", s)
	}
	// Its record comes late: no waiting, straight to backfill.
	j.AddIDS(ctx, Item{IDS: idsRec(9, 0, 4)})
	waitFor(t, c, 1)
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	if got := c.results(); got[0] != "C9-0:backfilled" {
		t.Errorf("%v", got)
	}
}

func TestMemoryBudgetEvictsOldest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MemoryBudget = 1 << 20
	j, _, ctx, finish := start(t, cfg, nil)
	big := func(port uint16) *flowtable.Flow {
		f := flow(port, 0, 1)
		f.Orig.Times = make([]int64, 0, 16384) // 128 KiB of detail
		return f
	}
	for p := range uint16(20) {
		j.AddFlow(ctx, big(1000+p))
	}
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	s := j.Stats()
	if s.Memory > cfg.MemoryBudget || s.Evicted == 0 || s.Evicted+s.Kept != 20 {
		t.Errorf("stats %+v: memory must stay within %d by evicting the oldest", s, cfg.MemoryBudget)
	}
}

func TestWallClockCapWhenPacketsStop(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxWallWait = 50 * time.Millisecond
	j, c, ctx, finish := start(t, cfg, nil)
	j.AddIDS(ctx, Item{IDS: idsRec(5, 0, 1)}) // the packet clock never moves
	waitFor(t, c, 1)
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	if got := c.results(); got[0] != "C5-0:miss" {
		t.Errorf("%v", got)
	}
}

func TestPendingBoundBlocksFeeding(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxPending = 4
	j, _, ctx, _ := start(t, cfg, nil)
	j.Clock(base)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	var err error
	n := 0
	for ; n < 1000 && err == nil; n++ {
		err = j.AddIDS(short, Item{IDS: idsRec(uint16(n), 0, 1)})
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AddIDS never blocked: %d records taken", n)
	}
	// 4 pending + the channel's buffer: bounded, far from 1000.
	if n > cfg.MaxPending+cap(j.ids)+2 {
		t.Errorf("%d records accepted with max_pending %d", n, cfg.MaxPending)
	}
}

func TestStopLeavesWaitingRecords(t *testing.T) {
	j, c, ctx, _ := start(t, DefaultConfig(), nil)
	j.AddFlow(ctx, flow(1, 0, 8))
	time.Sleep(10 * time.Millisecond)
	j.AddIDS(ctx, Item{IDS: idsRec(1, 0, 8)})
	var doneCalls int
	j.AddIDS(ctx, Item{IDS: idsRec(2, 0, 8), Done: func(error) { doneCalls++ }}) // its flow never comes
	waitFor(t, c, 1)
	if err := j.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if got := c.results(); len(got) != 1 || doneCalls != 0 {
		t.Errorf("after Stop: %v, Done calls %d; the waiting record must be left for the restart", got, doneCalls)
	}
}

// TestPartialFlowIsBackfilled: a live flow that began after its IDS record
// (the capture started mid-connection) is replaced by the whole flow from
// the stored captures.
func TestPartialFlowIsBackfilled(t *testing.T) {
	bf := fakeBackfill{have: map[string]*flowtable.Flow{"C8-0": flow(8, 0, 60)}}
	j, c, ctx, finish := start(t, DefaultConfig(), bf)
	j.AddFlow(ctx, flow(8, 40, 60)) // seen live from second 40 only
	time.Sleep(10 * time.Millisecond)
	j.AddIDS(ctx, Item{IDS: idsRec(8, 0, 60)})
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) != 1 || c.got[0].Outcome != Backfilled || c.got[0].Flow.First != base {
		t.Errorf("got %+v, want the whole flow, backfilled", c.got)
	}
	if s := j.Stats(); s.Partial != 1 {
		t.Errorf("partial = %d", s.Partial)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{JoinDelay: -1, MaxWallWait: 1, Grace: 1, MaxPending: 1, MemoryBudget: 1 << 20},
		{JoinDelay: time.Minute, MaxWallWait: 1, Grace: time.Second, MaxPending: 1, MemoryBudget: 1 << 20},
		{MaxWallWait: 1, MaxPending: 0, MemoryBudget: 1 << 20},
		{MaxWallWait: 1, MaxPending: 1, MemoryBudget: 10},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
}
