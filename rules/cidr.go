package rules

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// prefixSet is a precompiled set of CIDR prefixes. Small sets are scanned;
// larger ones are hashed per prefix length, so a lookup costs one map probe
// per distinct length whatever the number of prefixes. A prefixSet is
// immutable after build and safe for concurrent use.
type prefixSet struct {
	list []netip.Prefix // small sets: scanned
	v4   []lenTable4    // large sets, longest length first
	v6   []lenTable6
	n    int
}

type lenTable4 struct {
	bits int
	mask uint32
	m    map[uint32]struct{}
}

type lenTable6 struct {
	bits int
	m    map[[16]byte]struct{}
}

// smallSet is the size up to which a linear scan beats hashing.
const smallSet = 8

// parsePrefix parses a CIDR or a bare address (a host prefix), unmapping
// IPv4-mapped IPv6 so that 10.0.0.0/8 and ::ffff:10.0.0.0/104 are the same.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad address or CIDR %q; write e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %q has a zone; drop the %%zone", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q; write e.g. 10.0.0.0/8 or 2001:db8::/32", s)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// buildPrefixSet compiles prefixes (already parsed).
func buildPrefixSet(ps []netip.Prefix) *prefixSet {
	s := &prefixSet{n: len(ps)}
	if len(ps) <= smallSet {
		s.list = slices.Clone(ps)
		return s
	}
	by4 := map[int]map[uint32]struct{}{}
	by6 := map[int]map[[16]byte]struct{}{}
	for _, p := range ps {
		if p.Addr().Is4() {
			m := by4[p.Bits()]
			if m == nil {
				m = map[uint32]struct{}{}
				by4[p.Bits()] = m
			}
			b := p.Addr().As4()
			m[binary.BigEndian.Uint32(b[:])] = struct{}{}
			continue
		}
		m := by6[p.Bits()]
		if m == nil {
			m = map[[16]byte]struct{}{}
			by6[p.Bits()] = m
		}
		m[p.Addr().As16()] = struct{}{}
	}
	for bits, m := range by4 {
		s.v4 = append(s.v4, lenTable4{bits: bits, mask: mask4(bits), m: m})
	}
	for bits, m := range by6 {
		s.v6 = append(s.v6, lenTable6{bits: bits, m: m})
	}
	slices.SortFunc(s.v4, func(a, b lenTable4) int { return b.bits - a.bits })
	slices.SortFunc(s.v6, func(a, b lenTable6) int { return b.bits - a.bits })
	return s
}

func mask4(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

// empty reports whether the set holds no prefix (nil is empty).
func (s *prefixSet) empty() bool { return s == nil || s.n == 0 }

// contains reports whether a (unmapped) is inside any prefix.
func (s *prefixSet) contains(a netip.Addr) bool {
	if s == nil || !a.IsValid() {
		return false
	}
	if s.list != nil {
		for _, p := range s.list {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if a.Is4() {
		b := a.As4()
		v := binary.BigEndian.Uint32(b[:])
		for i := range s.v4 {
			if _, ok := s.v4[i].m[v&s.v4[i].mask]; ok {
				return true
			}
		}
		return false
	}
	for i := range s.v6 {
		p, _ := a.Prefix(s.v6[i].bits)
		if _, ok := s.v6[i].m[p.Addr().As16()]; ok {
			return true
		}
	}
	return false
}
