package rules

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"

	"github.com/aegis-nsm/aegis/schemas"
)

// Reconnaissance is read from the IDS records themselves: a scanner leaves
// many short connection attempts that nobody answered or that were
// refused. Per source the engine keeps two counting windows of probes and a
// 256-bit map of the distinct targets (destination address and port) they
// went to; the number of distinct targets is estimated by linear counting,
// n = -m ln(zero bits / m), within a few percent up to ~200 (a source
// may be called a scanner one or two targets early or late). Retrying one
// dead service therefore never looks like a scan, however often it is
// retried.

// probeKind says what an IDS record tells about reconnaissance.
type probeKind uint8

const (
	probeNone  probeKind = iota
	probeConn            // an unanswered or refused attempt
	probeAlert           // an IDS alert that names a scan
)

// reconRules is the compiled ReconConfig.
type reconRules struct {
	disabled   bool
	minTargets int
	window     int64
	maxDur     int64
	alerts     globList
	exclude    *prefixSet
}

// compileRecon compiles c, which Validate has checked (bad entries are
// skipped).
func compileRecon(c ReconConfig) reconRules {
	alerts, _ := compileGlobs(c.AlertPatterns)
	var excl []netip.Prefix
	for _, s := range c.Exclude {
		if p, err := parsePrefix(s); err == nil {
			excl = append(excl, p)
		}
	}
	return reconRules{
		disabled:   c.Disabled,
		minTargets: c.MinTargets,
		window:     int64(c.Window),
		maxDur:     int64(c.MaxProbeDuration),
		alerts:     alerts,
		exclude:    buildPrefixSet(excl),
	}
}

// classify reads one IDS record.
func (r *reconRules) classify(f *schemas.IDSFlow) probeKind {
	if !r.exclude.empty() && r.exclude.contains(f.Orig.Addr().Unmap()) {
		return probeNone
	}
	if f.Context != nil && len(r.alerts) > 0 {
		for i := range f.Context.Alerts {
			a := &f.Context.Alerts[i]
			if r.alerts.match(a.Signature) || r.alerts.match(a.Category) {
				return probeAlert
			}
		}
	}
	if f.Interim || f.End-f.Start > r.maxDur || !probeTarget(f.Resp.Addr()) {
		return probeNone
	}
	if isProbeState(f) {
		return probeConn
	}
	return probeNone
}

// probeTarget reports whether a destination can be probed: not multicast,
// broadcast or unspecified (mDNS, SSDP, NetBIOS and DHCP chatter is never
// answered and is not a scan).
func probeTarget(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	return !(a.Is4() && a.As4() == [4]byte{255, 255, 255, 255})
}

// isProbeState reports whether the connection went unanswered or was
// refused. Zeek conn_state: S0 (no reply), REJ (refused), RSTOS0 (SYN then
// the originator's RST, no SYN-ACK), SH (SYN then FIN, no SYN-ACK) always;
// RSTO and RSTR (reset) when no payload went either way (a half-open scan
// of an open port, or a service that resets at once); OTH (no SYN seen)
// when the responder sent nothing. RSTRH and SHR (only the responder seen)
// are asymmetric routing, not probes. Suricata flow.state (new,
// established, closed) has no such detail: a flow is a probe when the
// server sent nothing, or, for TCP, when it sent one packet (a RST, or a
// SYN-ACK the client reset) to at most two client packets.
func isProbeState(f *schemas.IDSFlow) bool {
	switch f.ConnState {
	case "S0", "REJ", "RSTOS0", "SH":
		return true
	case "RSTO", "RSTR":
		return f.OrigBytes == 0 && f.RespBytes == 0
	case "OTH":
		return f.RespPkts == 0
	case "S1", "S2", "S3", "SF", "RSTRH", "SHR", "bypassed":
		return false
	}
	if f.Sensor == schemas.SensorZeek {
		return false
	}
	if f.RespPkts == 0 {
		return f.OrigPkts > 0
	}
	return f.Proto == schemas.ProtoTCP && f.RespPkts <= 1 && f.OrigPkts <= 2
}

// targetBit hashes a destination to one of 256 bits.
func targetBit(a netip.AddrPort) uint8 {
	ip := schemas.IPFromAddr(a.Addr())
	x := binary.LittleEndian.Uint64(ip[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(ip[8:]), 17) ^ uint64(a.Port())*0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return uint8(x >> 56)
}

// distinct estimates the number of distinct targets in a 256-bit map.
func distinct(m [4]uint64) int {
	set := bits.OnesCount64(m[0]) + bits.OnesCount64(m[1]) + bits.OnesCount64(m[2]) + bits.OnesCount64(m[3])
	if set >= 256 {
		set = 255 // saturated: report the largest estimate
	}
	return int(math.Round(-256 * math.Log(float64(256-set)/256)))
}

// addProbe counts one probe at time t to the target with bit b and
// reports whether the source just crossed the threshold.
func (st *srcState) addProbe(t int64, b uint8, r *reconRules) (crossed bool) {
	if st.winStart == 0 {
		st.winStart = t
	}
	if d := t - st.winStart; d >= r.window {
		k := d / r.window
		if k == 1 {
			st.prevW, st.prevProbes = st.cur, st.probes
		} else {
			st.prevW, st.prevProbes = [4]uint64{}, 0
		}
		st.cur, st.probes = [4]uint64{}, 0
		st.winStart += k * r.window
	}
	st.cur[b>>6] |= 1 << (b & 63)
	st.probes++
	var all [4]uint64
	for i := range all {
		all[i] = st.cur[i] | st.prevW[i]
	}
	st.targets = int32(distinct(all))
	if int(st.targets) < r.minTargets {
		return false
	}
	return st.markRecon(t)
}

// markRecon records that the source is scanning at t; crossed is true the
// first time.
func (st *srcState) markRecon(t int64) (crossed bool) {
	crossed = st.reconAt == 0
	st.reconAt = max(st.reconAt, t)
	return crossed
}
