package report

import (
	"bufio"
	"cmp"
	"container/heap"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/aegis-nsm/aegis/schemas"
)

//go:embed report.css
var styleSheet string

//go:embed report.html.tmpl
var pageTemplate string

// tmpl is the page template; styleHash is the CSP hash of the style sheet.
var (
	tmpl      = template.Must(template.New("report").Parse(pageTemplate))
	styleHash = func() string {
		sum := sha256.Sum256([]byte(styleSheet))
		return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	}()
)

// contentPolicy forbids scripts, fetches, frames and every inline style
// but the page's own style sheet.
var contentPolicy = "default-src 'none'; style-src '" + styleHash + "'; img-src 'none'; base-uri 'none'; form-action 'none'"

// Report collects detections and writes them as one HTML page. Add and
// WriteHTML are safe for concurrent use; WriteHTML may be called more than
// once (each call renders what was added so far).
type Report struct {
	title string
	opts  Options

	mu       sync.Mutex
	kept     entryHeap // the earliest opts.MaxDetections entries, latest on top
	total    int
	classes  map[string]int
	severity map[string]int
	first    int64 // earliest and latest flow start added (0: none)
	last     int64
}

// New returns an empty Report with the page title and options; zero or
// invalid option values are replaced by their defaults (see
// Options.Validate to report them instead).
func New(title string, opts Options) *Report {
	return &Report{
		title:    clean(title, maxTextRunes),
		opts:     opts.withDefaults(),
		classes:  map[string]int{},
		severity: map[string]int{},
	}
}

// entry is one kept detection with its sort key.
type entry struct {
	start   int64
	id, key string
	class   string
	conf    float64
	view    *detectionView
}

// compareEntries orders by flow start, then record id, flow key, class and
// confidence, so the order (and which entries a full Report keeps) does not
// depend on the order of Add calls.
func compareEntries(a, b *entry) int {
	return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.id, b.id), cmp.Compare(a.key, b.key),
		cmp.Compare(a.class, b.class), cmp.Compare(a.conf, b.conf))
}

// entryHeap is a max-heap: the latest entry is at index 0.
type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return compareEntries(h[i], h[j]) > 0 }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)        { *h = append(*h, x.(*entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

// Add adds one record and the packet detail of its flow. It renders the
// detection's text and charts at once and keeps neither rec nor d, so the
// caller may reuse both. A nil rec is ignored. Add does not filter by
// class: pass detections (rec.Aegis.Class.IsDetection()) unless the page
// should show analysed flows too. Safe for concurrent use.
func (r *Report) Add(rec *schemas.Record, d Detail) {
	if rec == nil {
		return
	}
	start := d.First
	if start == 0 {
		start = parseNs(rec.Timestamp)
		if start == 0 {
			start = parseNs(rec.Event.Start)
		}
	}
	e := &entry{start: start, id: rec.Event.ID, key: rec.Aegis.FlowKey, class: string(rec.Aegis.Class), conf: clampUnit(rec.Aegis.Confidence)}

	r.mu.Lock()
	r.total++
	r.classes[string(rec.Aegis.Class)]++
	r.severity[rec.Aegis.Severity]++
	if start != 0 {
		if r.first == 0 || start < r.first {
			r.first = start
		}
		r.last = max(r.last, start)
	}
	full := len(r.kept) >= r.opts.MaxDetections && compareEntries(e, r.kept[0]) >= 0
	r.mu.Unlock()
	if full {
		return // later than every kept detection: only counted
	}

	e.view = buildView(rec, &d, start, &r.opts) // outside the lock: shards render in parallel

	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case len(r.kept) < r.opts.MaxDetections:
		heap.Push(&r.kept, e)
	case compareEntries(e, r.kept[0]) < 0:
		r.kept[0] = e
		heap.Fix(&r.kept, 0)
	}
}

// Len returns how many records were added (shown or not).
func (r *Report) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// countView is one class or severity count in the page header.
type countView struct {
	Label, Tok string
	N          int
}

// page is what the template renders.
type page struct {
	Title      string
	CSS        template.CSS
	CSP        string
	Inputs     []string
	Span       string
	Total      int
	Shown      int
	Hidden     int
	Max        int
	Classes    []countView
	Severities []countView
	Detections []*detectionView
	FlushGap   string
}

// WriteHTML writes the page: deterministic for the same set of Add calls,
// whatever their order. It returns the first write error.
func (r *Report) WriteHTML(w io.Writer) error {
	r.mu.Lock()
	entries := slices.Clone([]*entry(r.kept))
	p := page{
		Title: r.title, CSS: template.CSS(styleSheet), CSP: contentPolicy,
		Total: r.total, Max: r.opts.MaxDetections,
		FlushGap: fmtMs(float64(r.opts.FlushGap) / 1e6),
	}
	if r.first != 0 {
		p.Span = fmtTime(r.first) + " – " + fmtTime(r.last) + " UTC"
	}
	for _, c := range schemas.Classes {
		if n := r.classes[string(c)]; n > 0 {
			p.Classes = append(p.Classes, countView{Label: classLabel(string(c)), Tok: string(c), N: n})
		}
	}
	other := 0
	for c, n := range r.classes {
		if classToken(c) == "unknown" {
			other += n
		}
	}
	if other > 0 {
		p.Classes = append(p.Classes, countView{Label: "unrecognised class", Tok: "unknown", N: other})
	}
	for _, s := range []string{"critical", "high", "medium", "low", "none"} {
		if n := r.severity[s]; n > 0 {
			p.Severities = append(p.Severities, countView{Label: s, Tok: s, N: n})
		}
	}
	r.mu.Unlock()

	for _, in := range r.opts.Inputs {
		p.Inputs = append(p.Inputs, clean(in, maxTextRunes))
	}
	slices.SortFunc(entries, compareEntries)
	p.Shown = len(entries)
	p.Hidden = p.Total - p.Shown
	for i, e := range entries {
		v := *e.view // views are shared between calls: number a copy
		v.Index = i + 1
		v.Anchor = "det-" + strconv.Itoa(i+1)
		p.Detections = append(p.Detections, &v)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := tmpl.Execute(bw, &p); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
