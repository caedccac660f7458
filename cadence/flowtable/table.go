package flowtable

import (
	"errors"
	"fmt"
	"sort"
	"time"
	"unsafe"

	"github.com/aegis-nsm/aegis/schemas"
)

// Config sets the table's timeouts, detail and memory budget.
type Config struct {
	// Idle timeouts on the packet clock, as Zeek's tcp_inactivity_timeout,
	// udp_inactivity_timeout and icmp_inactivity_timeout.
	TCPIdle   time.Duration `yaml:"tcp_idle"`
	UDPIdle   time.Duration `yaml:"udp_idle"`
	OtherIdle time.Duration `yaml:"other_idle"`
	// MaxDetail is how many payload packets per direction keep their own
	// timestamp and size; later ones only update the running statistics.
	MaxDetail int `yaml:"max_detail"`
	// MemoryBudget bounds the bytes the table's flows may hold; past it the
	// least recently active flows are evicted (ended early, counted).
	MemoryBudget int64 `yaml:"memory_budget"`
	// SweepEvery is how often, on the packet clock, idle flows are looked
	// for.
	SweepEvery time.Duration `yaml:"sweep_every"`
	// After a TCP flow closes, later packets on the same 5-tuple start a
	// new flow once these delays have passed, as in Zeek
	// (tcp_partial_close_delay after one side's FIN, tcp_close_delay after
	// both, tcp_reset_delay after a RST). Closed flows also leave the table
	// then, instead of waiting for the idle timeout.
	PartialCloseDelay time.Duration `yaml:"partial_close_delay"`
	CloseDelay        time.Duration `yaml:"close_delay"`
	ResetDelay        time.Duration `yaml:"reset_delay"`
}

// DefaultConfig returns Zeek's default inactivity timeouts, 4096 detailed
// packets per direction and a 512 MiB budget.
func DefaultConfig() Config {
	return Config{
		TCPIdle:      5 * time.Minute,
		UDPIdle:      time.Minute,
		OtherIdle:    time.Minute,
		MaxDetail:    4096,
		MemoryBudget: 512 << 20,
		SweepEvery:   time.Second,

		PartialCloseDelay: 3 * time.Second,
		CloseDelay:        5 * time.Second,
		ResetDelay:        5 * time.Second,
	}
}

// SuricataConfig returns DefaultConfig with Suricata's flow semantics
// instead of Zeek's: the default flow-timeouts for TCP and UDP and its 60 s
// "closed" timeout, so that packet flows line up one to one with EVE flow
// events when Suricata is the sensor.
func SuricataConfig() Config {
	c := DefaultConfig()
	c.TCPIdle = 10 * time.Minute
	c.UDPIdle = 5 * time.Minute
	c.OtherIdle = 5 * time.Minute
	c.PartialCloseDelay = time.Minute
	c.CloseDelay = time.Minute
	c.ResetDelay = time.Minute
	return c
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.TCPIdle <= 0 || c.UDPIdle <= 0 || c.OtherIdle <= 0:
		return errors.New("flowtable: idle timeouts must be positive")
	case c.MaxDetail < 2:
		return fmt.Errorf("flowtable: max_detail %d: keep at least 2 packets per direction", c.MaxDetail)
	case c.MemoryBudget < 1<<20:
		return fmt.Errorf("flowtable: memory_budget %d: use at least 1 MiB", c.MemoryBudget)
	case c.SweepEvery <= 0:
		return errors.New("flowtable: sweep_every must be positive")
	case c.PartialCloseDelay < 0 || c.CloseDelay < 0 || c.ResetDelay < 0:
		return errors.New("flowtable: close delays must not be negative")
	}
	return nil
}

// Stats counts what the table did. Values are totals since New.
type Stats struct {
	Packets     int64 // packets added
	Flows       int64 // flows created
	EndedIdle   int64 // flows ended by the idle timeout
	EndedClosed int64 // flows ended by a new connection on a closed key
	Evicted     int64 // flows ended early by the memory budget
	Flushed     int64 // flows ended by Flush
	Retransmits int64 // TCP payload retransmissions left out of timing
	Active      int   // flows in the table now
	Memory      int64 // bytes held by flows now (estimate)
	PeakMemory  int64 // highest Memory seen
}

// flowBase is the estimated fixed cost of one flow: the struct plus its map
// entry.
const flowBase = int64(unsafe.Sizeof(Flow{})) + int64(unsafe.Sizeof(Key{})) + 16

// lists index the per-timeout LRU lists.
const (
	listTCP = iota
	listUDP
	listOther
	numLists
)

// lru is a doubly linked list of flows, least recently active first.
type lru struct{ head, tail *Flow }

func (l *lru) pushBack(f *Flow) {
	f.prev, f.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = f
	} else {
		l.head = f
	}
	l.tail = f
}

func (l *lru) remove(f *Flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

func (l *lru) moveToBack(f *Flow) {
	if l.tail == f {
		return
	}
	l.remove(f)
	l.pushBack(f)
}

// Table is the flow timing table. Not safe for concurrent use.
type Table struct {
	cfg       Config
	idle      [numLists]int64
	flows     map[Key]*Flow
	lists     [numLists]lru
	emit      func(*Flow)
	now       int64
	nextSweep int64
	stats     Stats
	// last is the flow of the previous packet (bursts of one flow skip the
	// map lookup); nil after it ended.
	last *Flow
	// closing holds TCP flows with a close delay running (some may have
	// ended since; they are dropped at the next sweep).
	closing []*Flow
}

// New returns an empty table. emit receives every flow that leaves the
// table and owns it from then on; it runs on the goroutine calling Add or
// Flush.
func New(cfg Config, emit func(*Flow)) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if emit == nil {
		return nil, errors.New("flowtable: emit callback is nil")
	}
	t := &Table{cfg: cfg, flows: make(map[Key]*Flow, 1024), emit: emit}
	t.idle[listTCP] = int64(cfg.TCPIdle)
	t.idle[listUDP] = int64(cfg.UDPIdle)
	t.idle[listOther] = int64(cfg.OtherIdle)
	return t, nil
}

func listOf(proto uint8) int {
	switch proto {
	case schemas.ProtoTCP:
		return listTCP
	case schemas.ProtoUDP:
		return listUDP
	}
	return listOther
}

// Add records one packet. Packets should arrive in time order; a packet
// older than the table's clock is still added to its flow.
func (t *Table) Add(p *schemas.Packet) {
	var k Key
	senderIsA := canonicalKeyInto(&p.Tuple, &k)
	t.add(p, &k, senderIsA)
}

// AddKeyed is Add for a caller that already computed the canonical key (a
// dispatcher sharding by key).
func (t *Table) AddKeyed(p *schemas.Packet, k Key, senderIsA bool) {
	t.add(p, &k, senderIsA)
}

func (t *Table) add(p *schemas.Packet, kp *Key, senderIsA bool) {
	t.stats.Packets++
	if p.TS > t.now {
		t.now = p.TS
		if t.now >= t.nextSweep {
			t.sweep()
			t.nextSweep = t.now + int64(t.cfg.SweepEvery)
		}
	}
	f := t.last
	if f == nil || f.Key != *kp {
		f = t.flows[*kp]
	}
	if f != nil {
		li := listOf(kp.Proto)
		switch {
		case p.TS-f.Last > t.idle[li]:
			t.end(f, EndIdle)
			f = nil
		case f.doneAt != 0 && (p.TS > f.doneAt || p.TCPFlags&(schemas.TCPSyn|schemas.TCPAck) == schemas.TCPSyn):
			t.end(f, EndClosed)
			f = nil
		}
	}
	if f == nil {
		f = t.create(p, *kp, senderIsA)
	}
	t.last = f
	t.lists[listOf(kp.Proto)].moveToBack(f)
	if p.TS > f.Last {
		f.Last = p.TS
	}
	fromOrig := senderIsA == f.origIsA
	d := &f.Resp
	if fromOrig {
		d = &f.Orig
	}
	t.update(f, d, p, fromOrig)
	if t.stats.Memory > t.cfg.MemoryBudget {
		t.evict()
	}
}

// Advance moves the table's clock to now without a packet (a live capture
// gone quiet: the caller derives now from the wall clock), ending the flows
// whose idle timeouts or close delays have passed. A now behind the clock
// is ignored.
func (t *Table) Advance(now int64) {
	if now <= t.now {
		return
	}
	t.now = now
	t.sweep()
	t.nextSweep = t.now + int64(t.cfg.SweepEvery)
}

// closed states
const (
	closeFinOrig uint8 = 1 << iota
	closeFinResp
	closeRst
)

func (t *Table) create(p *schemas.Packet, k Key, senderIsA bool) *Flow {
	f := &Flow{Key: k, First: p.TS, Last: p.TS, mem: flowBase}
	// The originator is the SYN sender; a SYN-ACK seen first means the
	// receiver started the connection; otherwise the first sender.
	origIsSender := true
	switch {
	case p.Tuple.Proto == schemas.ProtoTCP && p.TCPFlags&(schemas.TCPSyn|schemas.TCPAck) == schemas.TCPSyn:
	case p.Tuple.Proto == schemas.ProtoTCP && p.TCPFlags&(schemas.TCPSyn|schemas.TCPAck) == schemas.TCPSyn|schemas.TCPAck:
		origIsSender = false
	case p.Tuple.Proto == schemas.ProtoTCP || p.Tuple.Proto == schemas.ProtoUDP:
		// Mid-stream start (the capture began after the handshake): like
		// Zeek's likely_server_ports, a packet from a service port to an
		// ephemeral one was sent by the responder.
		origIsSender = !(serverPort(p.Tuple.SrcPort) && !serverPort(p.Tuple.DstPort))
	}
	if origIsSender {
		f.OrigTuple = p.Tuple
		f.origIsA = senderIsA
	} else {
		f.OrigTuple = p.Tuple.Reverse()
		f.origIsA = !senderIsA
	}
	t.flows[k] = f
	t.lists[listOf(k.Proto)].pushBack(f)
	t.stats.Flows++
	t.stats.Active++
	t.addMem(flowBase)
	return f
}

func (t *Table) addMem(n int64) {
	t.stats.Memory += n
	if t.stats.Memory > t.stats.PeakMemory {
		t.stats.PeakMemory = t.stats.Memory
	}
}

func (t *Table) update(f *Flow, d *Direction, p *schemas.Packet, fromOrig bool) {
	d.Packets++
	d.IPBytes += int64(p.IPLen)
	d.WireBytes += int64(p.WireLen)
	d.Flags |= p.TCPFlags
	d.LastSeen = p.TS
	if p.TCPFlags&(schemas.TCPFin|schemas.TCPRst) != 0 {
		wasOpen := f.doneAt == 0
		t.trackClose(f, p.TS, p.TCPFlags, fromOrig)
		if wasOpen && f.doneAt != 0 {
			t.closing = append(t.closing, f)
		}
	}
	if p.Payload == 0 {
		return
	}
	if p.Tuple.Proto == schemas.ProtoTCP {
		end := p.Seq + p.Payload
		if d.seqStarted && int32(end-d.nextSeq) <= 0 {
			d.Retransmits++
			t.stats.Retransmits++
			return
		}
		d.seqStarted = true
		d.nextSeq = end
	}
	d.PayloadPackets++
	d.PayloadBytes += int64(p.Payload)
	if d.PayloadPackets == 1 {
		d.FirstPayload = p.TS
	} else {
		gap := p.TS - d.LastPayload
		if gap < 0 {
			gap = 0
		}
		d.Gaps.Add(float64(gap))
	}
	d.LastPayload = p.TS
	if len(d.Times) < t.cfg.MaxDetail {
		before := detailBytes(d)
		d.Times = append(d.Times, p.TS)
		d.Sizes = append(d.Sizes, p.Payload)
		if after := detailBytes(d); after != before {
			f.mem += after - before
			t.addMem(after - before)
		}
	}
}

// detailBytes is the memory held by d's detail slices.
func detailBytes(d *Direction) int64 { return int64(cap(d.Times))*8 + int64(cap(d.Sizes))*4 }

func (t *Table) trackClose(f *Flow, ts int64, flags uint8, fromOrig bool) {
	if flags&schemas.TCPRst != 0 {
		f.closed |= closeRst
		f.doneAt = ts + int64(t.cfg.ResetDelay)
		return
	}
	if flags&schemas.TCPFin == 0 {
		return
	}
	if fromOrig {
		f.closed |= closeFinOrig
	} else {
		f.closed |= closeFinResp
	}
	switch {
	case f.closed&closeRst != 0:
	case f.closed&(closeFinOrig|closeFinResp) == closeFinOrig|closeFinResp:
		f.doneAt = ts + int64(t.cfg.CloseDelay)
	case f.doneAt == 0:
		f.doneAt = ts + int64(t.cfg.PartialCloseDelay)
	}
}

// end removes f from the table and hands it to emit.
func (t *Table) end(f *Flow, why EndReason) {
	f.ended = true
	if t.last == f {
		t.last = nil
	}
	delete(t.flows, f.Key)
	t.lists[listOf(f.Key.Proto)].remove(f)
	t.stats.Active--
	t.stats.Memory -= f.mem
	f.Ended = why
	switch why {
	case EndIdle:
		t.stats.EndedIdle++
	case EndClosed:
		t.stats.EndedClosed++
	case EndEvicted:
		f.Evicted = true
		t.stats.Evicted++
	case EndFlush:
		t.stats.Flushed++
	}
	t.emit(f)
}

// sweep ends every flow idle longer than its timeout at the table's clock,
// and every closed TCP flow whose close delay has passed.
func (t *Table) sweep() {
	kept := t.closing[:0]
	for _, f := range t.closing {
		switch {
		case f.ended:
		case t.now > f.doneAt:
			t.end(f, EndClosed)
		default:
			kept = append(kept, f)
		}
	}
	clear(t.closing[len(kept):])
	t.closing = kept
	for li := range t.lists {
		l := &t.lists[li]
		for l.head != nil && t.now-l.head.Last > t.idle[li] {
			t.end(l.head, EndIdle)
		}
	}
}

// evict ends least recently active flows until the table is within 90% of
// its budget.
func (t *Table) evict() {
	target := t.cfg.MemoryBudget / 10 * 9
	for t.stats.Memory > target {
		var oldest *Flow
		for li := range t.lists {
			if h := t.lists[li].head; h != nil && (oldest == nil || h.Last < oldest.Last) {
				oldest = h
			}
		}
		if oldest == nil {
			return
		}
		t.end(oldest, EndEvicted)
	}
}

// Flush ends every flow still in the table, in order of first packet (then
// key), so that end of input is deterministic.
func (t *Table) Flush() {
	rest := make([]*Flow, 0, len(t.flows))
	for _, f := range t.flows {
		rest = append(rest, f)
	}
	sort.Slice(rest, func(i, j int) bool { return FlowLess(rest[i], rest[j]) })
	for _, f := range rest {
		t.end(f, EndFlush)
	}
}

// FlowLess orders flows by first packet time, then by key: the order Aegis
// publishes records in.
func FlowLess(a, b *Flow) bool {
	if a.First != b.First {
		return a.First < b.First
	}
	return KeyLess(a.Key, b.Key)
}

// KeyLess is a total order on keys.
func KeyLess(a, b Key) bool {
	if a.AIP != b.AIP {
		return lessIP(a.AIP, b.AIP)
	}
	if a.BIP != b.BIP {
		return lessIP(a.BIP, b.BIP)
	}
	if a.APort != b.APort {
		return a.APort < b.APort
	}
	if a.BPort != b.BPort {
		return a.BPort < b.BPort
	}
	return a.Proto < b.Proto
}

func lessIP(a, b schemas.IP) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// Stats returns the counters.
func (t *Table) Stats() Stats { return t.stats }

// Len returns the number of flows in the table.
func (t *Table) Len() int { return len(t.flows) }

// Now returns the table's packet clock (ns).
func (t *Table) Now() int64 { return t.now }

// serverPort reports whether a port is one servers listen on: the
// well-known range and registered service ports Aegis sees in front of
// models and shells.
func serverPort(p uint16) bool {
	if p < 1024 {
		return true
	}
	switch p {
	case 1080, 1194, 1433, 1521, 2049, 2375, 2376, 3000, 3128, 3306, 3389, 4444, 5000, 5432, 5671, 5672,
		5900, 5901, 6379, 6443, 8000, 8080, 8081, 8443, 8888, 9000, 9090, 9092, 9200, 9443, 11211, 11434, 27017:
		return true
	}
	return false
}
