package afpacket

import (
	"errors"
)

var (
	// ErrNoInterface: the configured interface does not exist in Aegis's
	// network namespace.
	ErrNoInterface = errors.New("no such interface (list them with `ip link show`; the interface must be in Aegis's network namespace)")
	// ErrFanoutInUse: the configured fanout id is already used by a group
	// of packet sockets (another capture process) in the network
	// namespace; joining it would take packets away from that process.
	ErrFanoutInUse = errors.New("fanout id already in use")
	// ErrNoTcpdump: Config.Filter is a tcpdump expression and no tcpdump
	// binary was found to compile it.
	ErrNoTcpdump = errors.New("tcpdump not found")
	// ErrUnsupported: AF_PACKET capture is not available on this system
	// (not Linux).
	ErrUnsupported = errors.New("afpacket: AF_PACKET capture needs Linux")
)

// PermissionError reports that the kernel refused to open a packet socket
// because the process lacks CAP_NET_RAW. errors.Is(err, os.ErrPermission)
// holds for it.
type PermissionError struct {
	// Interface is the interface that was being opened.
	Interface string
	// Err is the system call's error (EPERM or EACCES).
	Err error
}

// Error names the missing capability and the fix.
func (e *PermissionError) Error() string {
	return "afpacket: opening " + e.Interface +
		" needs CAP_NET_RAW (run as root or grant AmbientCapabilities=CAP_NET_RAW)"
}

// Unwrap returns the system call's error.
func (e *PermissionError) Unwrap() error { return e.Err }
