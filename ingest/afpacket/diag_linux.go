//go:build linux

package afpacket

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// sock_diag for packet sockets (linux/packet_diag.h).
const (
	packetShowFanout  = 0x08 // PACKET_SHOW_FANOUT
	packetDiagFanout  = 4    // PACKET_DIAG_FANOUT attribute: u32 id | type<<16
	packetDiagReqLen  = 20   // struct packet_diag_req
	packetDiagMsgLen  = 16   // struct packet_diag_msg
	nlmsgHdrLen       = 16
	nlattrHdrLen      = 4
	diagReceiveBuffer = 64 << 10
)

// fanoutIDsInUse returns the fanout group ids of the packet sockets in the
// caller's network namespace, from the kernel's sock_diag interface. It
// fails when the kernel lacks packet_diag (CONFIG_PACKET_DIAG).
func fanoutIDsInUse() (map[uint16]bool, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer unix.Close(fd)

	req := make([]byte, nlmsgHdrLen+packetDiagReqLen)
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1) // sequence number
	req[nlmsgHdrLen] = unix.AF_PACKET
	ne.PutUint32(req[nlmsgHdrLen+8:], packetShowFanout)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag request: %w", err)
	}

	used := make(map[uint16]bool)
	buf := make([]byte, diagReceiveBuffer)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, fmt.Errorf("sock_diag reply: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("sock_diag reply: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return used, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(ne.Uint32(m.Data)); errno != 0 {
						return nil, fmt.Errorf("sock_diag: %w", syscall.Errno(-errno))
					}
				}
				return used, nil
			}
			if len(m.Data) < packetDiagMsgLen {
				continue
			}
			attrs := m.Data[packetDiagMsgLen:]
			for len(attrs) >= nlattrHdrLen {
				l := int(ne.Uint16(attrs))
				if l < nlattrHdrLen || l > len(attrs) {
					break
				}
				if ne.Uint16(attrs[2:])&0x3fff == packetDiagFanout && l >= nlattrHdrLen+4 {
					used[uint16(ne.Uint32(attrs[nlattrHdrLen:]))] = true
				}
				attrs = attrs[min((l+3)&^3, len(attrs)):]
			}
		}
	}
}
