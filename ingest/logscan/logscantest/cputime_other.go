//go:build !unix

package logscantest

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
