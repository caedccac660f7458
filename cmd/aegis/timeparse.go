package main

import "time"

// parseTime parses an RFC 3339 timestamp into ns since the epoch.
func parseTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}
