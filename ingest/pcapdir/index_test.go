package pcapdir

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// TestIndex lists the files covering time windows in a ring whose newest
// file is still being written (ending in a half-written record), follows
// its growth, notices a ring slot rewritten in place, and backfills one
// flow from the files the window needs.
func TestIndex(t *testing.T) {
	recs := synth(t)[:4000]
	dir := t.TempDir()
	p := func(i int) string { return filepath.Join(dir, "ring.pcap"+string(rune('0'+i))) }
	writeFile(t, p(0), recs[:1000])
	writeFile(t, p(1), recs[1000:2000])
	writeNg(t, p(2), recs[2000:3000])
	writeFile(t, p(3), recs[3000:3500])
	half := recs[3500].bytes()
	appendFile(t, p(3), half[:9])
	os.WriteFile(filepath.Join(dir, "ring.pcapX"), []byte("junk that is no capture"), 0o644)
	ts := func(i int) int64 { return recs[i].ts }

	ix := NewIndex(dir, "ring.pcap*")
	rs, err := ix.Ranges(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ring.pcapX") {
		t.Errorf("Ranges error %v, want one naming ring.pcapX", err)
	}
	wantRanges := []FileRange{
		{Path: p(0), First: ts(0), Last: ts(999), Records: 1000},
		{Path: p(1), First: ts(1000), Last: ts(1999), Records: 1000},
		{Path: p(2), First: ts(2000), Last: ts(2999), Records: 1000},
		{Path: p(3), First: ts(3000), Last: ts(3499), Records: 500},
	}
	if len(rs) != len(wantRanges) {
		t.Fatalf("ranges %+v", rs)
	}
	for i, w := range wantRanges {
		g := rs[i]
		if g.Path != w.Path || g.First != w.First || g.Last != w.Last || g.Records != w.Records {
			t.Errorf("range %d: %+v, want %+v", i, g, w)
		}
	}

	for _, tc := range []struct {
		start, end int64
		want       []string
	}{
		{ts(0) - 2e9, ts(0) - 1, nil},
		{ts(1500), ts(1600), []string{p(1)}},
		{ts(1990), ts(2010), []string{p(1), p(2)}},
		{ts(999), ts(1000), []string{p(0), p(1)}},
		{ts(2500), ts(3200), []string{p(2), p(3)}},
		{ts(3499) + 1, ts(3499) + 1e12, nil},
	} {
		if got := ix.FilesCovering(tc.start, tc.end); !slices.Equal(got, tc.want) {
			t.Errorf("FilesCovering(%d, %d) = %v, want %v", tc.start, tc.end, got, tc.want)
		}
	}

	// The writer completes the record and writes on: the newest file is
	// walked on from where the last walk stopped.
	walked := ix.files[p(3)].walkOff
	appendFile(t, p(3), half[9:])
	for _, r := range recs[3501:4000] {
		appendFile(t, p(3), r.bytes())
	}
	if got := ix.FilesCovering(ts(3600), ts(3700)); !slices.Equal(got, []string{p(3)}) {
		t.Errorf("after growth: %v", got)
	}
	if e := ix.files[p(3)]; e.records != 1000 || e.last != ts(3999) || walked <= fileHeaderLen {
		t.Errorf("after growth: %d records, last %d (want %d), first walk stopped at %d", e.records, e.last, ts(3999), walked)
	}

	// Backfill one flow over a window.
	flow := decodeRecs(t, recs[1500:1501])[0].Tuple
	same := func(p *schemas.Packet) bool { return p.Tuple == flow || p.Tuple == flow.Reverse() }
	var got []schemas.Packet
	files := ix.FilesCovering(ts(1200), ts(2400))
	st, err := Backfill(context.Background(), files, same, func(p *schemas.Packet) { got = append(got, *p) })
	if err != nil {
		t.Fatal(err)
	}
	var want []schemas.Packet
	for _, q := range decodeRecs(t, recs[1000:3000]) {
		if same(&q) {
			want = append(want, q)
		}
	}
	if err := equalPackets(got, want); err != nil {
		t.Error(err)
	}
	if st.Records != 2000 {
		t.Errorf("backfill read %d records, want 2000", st.Records)
	}

	// A file the ring deleted after the listing: named in the error, the
	// others still read.
	os.Remove(p(1))
	got = nil
	_, err = Backfill(context.Background(), files, same, func(p *schemas.Packet) { got = append(got, *p) })
	if err == nil || !strings.Contains(err.Error(), p(1)) {
		t.Errorf("backfill over a deleted file: %v", err)
	}
	var want2 []schemas.Packet
	for _, q := range decodeRecs(t, recs[2000:3000]) {
		if same(&q) {
			want2 = append(want2, q)
		}
	}
	if err := equalPackets(got, want2); err != nil {
		t.Error(err)
	}

	// A ring slot rewritten in place: the index sees the new capture.
	writeFile(t, p(0), recs[3900:4000])
	rs, _ = ix.Ranges(context.Background())
	if last := rs[len(rs)-1]; len(rs) != 3 || last.Path != p(0) || last.First != ts(3900) || last.Last != ts(3999) || last.Records != 100 {
		t.Errorf("after rewriting ring.pcap0: %+v", rs)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Backfill(ctx, files, nil, func(*schemas.Packet) {}); err != context.Canceled {
		t.Errorf("cancelled backfill: %v", err)
	}
}
