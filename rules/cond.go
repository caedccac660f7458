package rules

import (
	"net/netip"
	"slices"
)

// op is what a condition tests.
type op uint8

const (
	opFalse         op = iota // never holds (a negated list that is not configured)
	opHandoff                 // aegis.handoff.direction == strs[0]
	opConfidence              // aegis.confidence in rng
	opDuration                // aegis.cadence.duration_s in rng
	opTransport               // network.transport in strs
	opSrcPort                 // source.port in ports
	opDstPort                 // destination.port in ports
	opService                 // network.protocol / aegis.ids.service in strs
	opField                   // numeric field in rng
	opRouteName               // aegis.route.name matches globs
	opRouteNotName            // aegis.route.name matches none of globs
	opRouteProvider           // aegis.route.provider in strs
	opRouteScore              // aegis.route.score in rng
	opRouteSNI                // aegis.route.sni in strs
	opSNI                     // tls.client.server_name matches globs
	opNotSNI                  // tls.client.server_name absent or matches none of globs
	opAddrIn                  // address in prefixes or any of lists
	opAddrNotIn               // address valid and in neither prefixes nor lists
	opRecon                   // the source was scanning within the window
	opClassBefore             // the source showed class slot within the window
	opRuleBefore              // the source hit the rule in history slot within the window
)

// cond is one compiled condition: a small tagged union evaluated by a
// switch, so that evaluation makes only direct calls and the evaluation
// context stays on the caller's stack.
type cond struct {
	op     op
	dst    bool // address conditions: destination instead of source
	slot   int
	within int64
	rng    numRange
	strs   []string // lower-cased where compared case-insensitively
	globs  globList
	ports  portList
	field  *fieldPath
	set    *prefixSet
	lists  []*prefixSet
}

// eval reports whether the condition holds for c.
func (cd *cond) eval(c *evalCtx) bool {
	rec := c.rec
	switch cd.op {
	case opHandoff:
		return rec.Aegis.Handoff != nil && rec.Aegis.Handoff.Direction == cd.strs[0]
	case opConfidence:
		return cd.rng.contains(rec.Aegis.Confidence)
	case opDuration:
		return cd.rng.contains(rec.Aegis.Cadence.DurationS)
	case opTransport:
		return anyEqualFold(rec.Network.Transport, cd.strs)
	case opSrcPort:
		return cd.ports.match(rec.Source.Port)
	case opDstPort:
		return cd.ports.match(rec.Destination.Port)
	case opService:
		return serviceMatch(rec, cd.strs)
	case opField:
		x, ok := cd.field.number(rec)
		return ok && cd.rng.contains(x)
	case opRouteName:
		return cd.globs.match(rec.Aegis.Route.Name)
	case opRouteNotName:
		return !cd.globs.match(rec.Aegis.Route.Name)
	case opRouteProvider:
		return anyEqualFold(rec.Aegis.Route.Provider, cd.strs)
	case opRouteScore:
		return cd.rng.contains(rec.Aegis.Route.Score)
	case opRouteSNI:
		return slices.Contains(cd.strs, rec.Aegis.Route.SNI)
	case opSNI:
		s := sniOf(rec)
		return s != "" && cd.globs.match(s)
	case opNotSNI:
		return !cd.globs.match(sniOf(rec))
	case opAddrIn:
		return cd.inAny(c.addr(cd.dst))
	case opAddrNotIn:
		a := c.addr(cd.dst)
		return a.IsValid() && !cd.inAny(a)
	case opRecon:
		return c.st != nil && c.inWindow(c.st.reconAt, cd.within)
	case opClassBefore:
		return c.st != nil && c.inWindow(c.st.classAt[cd.slot], cd.within)
	case opRuleBefore:
		return c.st != nil && c.inWindow(c.refAt(cd.slot), cd.within)
	}
	return false
}

// inAny reports whether a is in the prefixes or any list.
func (cd *cond) inAny(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	if cd.set.contains(a) {
		return true
	}
	for _, l := range cd.lists {
		if l.contains(a) {
			return true
		}
	}
	return false
}

// addr is the source or the destination address (parsed on first use).
func (c *evalCtx) addr(dst bool) netip.Addr {
	if dst {
		return c.dstAddr()
	}
	return c.src
}
