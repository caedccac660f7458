//go:build unix

package logscantest

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user and system, all threads: the garbage
// collector's and the kernel's page faults included) the process has
// used so far, and false where it cannot be read.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
