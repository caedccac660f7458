package main

import (
	"net/netip"
	"time"
)

// parseTime parses an RFC 3339 timestamp into ns since the epoch.
func parseTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

// parseAddr parses an IP address as the IDS logs write it.
func parseAddr(s string) (netip.Addr, error) { return netip.ParseAddr(s) }
