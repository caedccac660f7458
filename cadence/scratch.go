package cadence

// Direction indices into per-direction scratch.
const (
	dirClient uint8 = 0
	dirServer uint8 = 1
)

// flush is one application write as it crossed the wire: consecutive packets
// of one direction closer than Config.FlushGap.
type flush struct {
	start, end int64 // ns of the first and the last packet
	bytes      int64 // payload bytes
	first      int32 // index of the first packet in the direction's detail
	n          int32 // packets
	dir        uint8
}

// event is one client-side (or, for reverse shells, server-side) act the
// session analysis recognised: a typed keystroke or a command line.
type event struct {
	start, end int64
	bytes      int64
	pauseMs    float64 // silence of both sides before a command
	kind       evKind
	answered   bool // the other side answered within AnswerWindow
	echoed     bool // a keystroke the other side echoed
	// The other side's answer before this side wrote again: its flushes
	// and the sizes of its first and last packets (echo and prompt).
	answerFlushes int32
	answerPackets int32
	answerBytes   int64
	answerFirst   uint32
	answerLast    uint32
}

type evKind uint8

const (
	evKeyCandidate evKind = iota + 1 // keystroke-sized, human-spaced write
	evKey                            // keystroke inside a typing burst
	evCommand                        // line-sized write after a think pause
	evOther                          // any other write of the side
)

// scratch holds the per-call working buffers. One scratch serves one Analyze
// call at a time; the Analyzer keeps them in a sync.Pool so that steady-state
// analysis allocates only the Result it returns.
type scratch struct {
	gaps    [2][]float64 // packet gaps per direction, ms
	flushes [2][]flush
	merged  []flush
	events  [2][]event // per commanding side
	sorted  []float64
	dev     []float64
	tmp     []float64
	work    []float64
	work2   []float64
	sizes   []uint32
	routes  []routeScore
}

// maxKeptScratch bounds what a pooled scratch may keep (elements per slice),
// so that one huge flow does not pin memory in the pool for ever.
const maxKeptScratch = 1 << 16

func (sc *scratch) trim() {
	for d := range 2 {
		if cap(sc.gaps[d]) > maxKeptScratch {
			sc.gaps[d] = nil
		}
		if cap(sc.flushes[d]) > maxKeptScratch {
			sc.flushes[d] = nil
		}
	}
	if cap(sc.merged) > maxKeptScratch {
		sc.merged = nil
	}
	for d := range 2 {
		if cap(sc.events[d]) > maxKeptScratch {
			sc.events[d] = nil
		}
	}
	for _, p := range []*[]float64{&sc.sorted, &sc.dev, &sc.tmp, &sc.work, &sc.work2} {
		if cap(*p) > maxKeptScratch {
			*p = nil
		}
	}
	if cap(sc.sizes) > maxKeptScratch {
		sc.sizes = nil
	}
}
