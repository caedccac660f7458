package file

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/aegis-nsm/aegis/enrich/sink/sinktest"
	"os"
	"sync"
	"testing"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
)

// fixtureRecords are the shared fixture records (sinktest).
func fixtureRecords(t testing.TB) []*schemas.Record { return sinktest.Records(t) }

// idOf is the record id of message i: 32 hex digits, as the schema wants.
func idOf(i int) string { return fmt.Sprintf("%032x", i) }

// messages returns n detection messages with ids idOf(0..n-1), cycling
// through the fixtures; done (may be nil) makes each message's Done.
func messages(t testing.TB, n int, done func(id string) func(error)) []sink.Message {
	t.Helper()
	recs := fixtureRecords(t)
	out := make([]sink.Message, n)
	for i := range out {
		r := *recs[i%len(recs)]
		r.Event.ID = idOf(i)
		v, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = sink.Message{Kind: sink.KindDetection, Value: v, Record: &r, SourceIP: r.Source.IP,
			CommunityID: r.Network.CommunityID, Severity: r.Aegis.Severity, ID: r.Event.ID}
		if done != nil {
			out[i].Done = done(r.Event.ID)
		}
	}
	return out
}

// tracker counts Done calls per message id.
type tracker struct {
	mu    sync.Mutex
	calls map[string]int
	errs  map[string]error
	// onDone, when set, runs inside each Done (on the sink's goroutine).
	onDone func(id string, err error)
}

func newTracker() *tracker { return &tracker{calls: map[string]int{}, errs: map[string]error{}} }

func (tr *tracker) done(id string) func(error) {
	return func(err error) {
		if tr.onDone != nil {
			tr.onDone(id, err)
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.calls[id]++
		if err != nil {
			tr.errs[id] = err
		}
	}
}

// check asserts every id of 0..n-1 got exactly one Done, nil unless
// wantErr.
func (tr *tracker) check(t *testing.T, n int, wantErr bool) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i := range n {
		id := idOf(i)
		if c := tr.calls[id]; c != 1 {
			t.Errorf("message %s: Done called %d times, want exactly once", id, c)
		}
		if err := tr.errs[id]; (err != nil) != wantErr {
			t.Errorf("message %s: Done(%v), want error=%v", id, err, wantErr)
		}
	}
	if len(tr.calls) != n {
		t.Errorf("Done called for %d ids, want %d", len(tr.calls), n)
	}
}

func (tr *tracker) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, c := range tr.calls {
		n += c
	}
	return n
}

// lines returns the non-empty lines of a file.
func lines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a newline", path)
	}
	var out [][]byte
	for l := range bytes.Lines(b) {
		if l = bytes.TrimSuffix(l, []byte("\n")); len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// dirFiles lists the names in dir.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// lockedBuffer is a bytes.Buffer safe for the sink's goroutine and the
// test's.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
