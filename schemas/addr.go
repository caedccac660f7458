package schemas

import (
	"net/netip"
)

// IP is an IPv4 or IPv6 address in 16 bytes, IPv4 stored IPv4-mapped
// (::ffff:a.b.c.d). Unlike netip.Addr it holds no pointer, so keys built from
// it hash as plain memory and cost the garbage collector nothing.
type IP [16]byte

// v4InV6Prefix is the IPv4-mapped IPv6 prefix ::ffff:0:0/96.
var v4InV6Prefix = [12]byte{10: 0xff, 11: 0xff}

// IPv4 returns the IP for the four bytes a, b, c, d.
func IPv4(a, b, c, d byte) IP {
	var ip IP
	copy(ip[:12], v4InV6Prefix[:])
	ip[12], ip[13], ip[14], ip[15] = a, b, c, d
	return ip
}

// IPFrom4 returns the IP for a 4-byte slice (the caller guarantees len 4).
func IPFrom4(b []byte) IP { return IPv4(b[0], b[1], b[2], b[3]) }

// IPFrom16 returns the IP for a 16-byte slice (the caller guarantees len 16).
func IPFrom16(b []byte) IP {
	var ip IP
	copy(ip[:], b)
	return ip
}

// IPFromAddr converts a netip.Addr; the zone is dropped.
func IPFromAddr(a netip.Addr) IP {
	if a.Is4() {
		b := a.As4()
		return IPv4(b[0], b[1], b[2], b[3])
	}
	return IP(a.As16())
}

// Is4 reports whether ip is an IPv4 address (IPv4-mapped).
func (ip IP) Is4() bool { return [12]byte(ip[:12]) == v4InV6Prefix }

// Addr returns ip as a netip.Addr (unmapped for IPv4).
func (ip IP) Addr() netip.Addr {
	if ip.Is4() {
		return netip.AddrFrom4([4]byte(ip[12:]))
	}
	return netip.AddrFrom16(ip)
}

// String formats ip the way netip.Addr does.
func (ip IP) String() string { return ip.Addr().String() }
