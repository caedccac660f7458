//go:build linux

package afpacket

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/aegis-nsm/aegis/ingest/capture"
)

// fanoutFlagUniqueID asks the kernel to pick an unused fanout id
// (PACKET_FANOUT_FLAG_UNIQUEID, in the type_flags half of the argument).
const fanoutFlagUniqueID = unix.PACKET_FANOUT_FLAG_UNIQUEID

// htons converts a 16-bit value to network byte order.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// linkOf returns how the Source reads interface name: the socket type, the
// Decoder link type and the tcpdump name of that link type (-y). Ethernet
// and loopback interfaces are read whole (SOCK_RAW); any other kind
// through SOCK_DGRAM, which removes the link header so that the frame
// starts with the IP header.
func linkOf(name string) (sockType int, link capture.LinkType, dlt string, err error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return 0, 0, "", fmt.Errorf("afpacket: %s: socket for the link type query: %w", name, err)
		}
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, 0, "", fmt.Errorf("afpacket: interface %q: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return 0, 0, "", fmt.Errorf("afpacket: interface %q: %w", name, ErrNoInterface)
		}
		return 0, 0, "", fmt.Errorf("afpacket: %s: reading the link type: %w", name, err)
	}
	switch ifr.Uint16() {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		return unix.SOCK_RAW, capture.LinkEthernet, "EN10MB", nil
	}
	return unix.SOCK_DGRAM, capture.LinkRaw, "RAW", nil
}

// openSocket opens a packet socket that receives nothing yet (protocol 0
// until bind), with a ring of cfg's geometry, and binds it to ifindex
// behind a filter that drops everything: packets reach it only once it is
// in the fanout group and the real filter replaces that one.
func openSocket(cfg Config, sockType, ifindex int) (fd int, ring []byte, err error) {
	fd, err = unix.Socket(unix.AF_PACKET, sockType|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
			return -1, nil, &PermissionError{Interface: cfg.Interface, Err: err}
		case errors.Is(err, unix.EAFNOSUPPORT):
			return -1, nil, fmt.Errorf("afpacket: opening %s: this kernel has no AF_PACKET support: %w", cfg.Interface, err)
		}
		return -1, nil, fmt.Errorf("afpacket: opening %s: %w", cfg.Interface, err)
	}
	defer func() {
		if err != nil {
			if ring != nil {
				_ = unix.Munmap(ring)
				ring = nil
			}
			unix.Close(fd)
			fd = -1
		}
	}()
	if err = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fd, nil, fmt.Errorf("afpacket: %s: TPACKET_V3 not supported by this kernel: %w", cfg.Interface, err)
	}
	if err = attachFilter(fd, []bpf.RawInstruction{{Op: opRetK, K: 0}}); err != nil {
		return fd, nil, fmt.Errorf("afpacket: %s: attaching the start-up filter: %w", cfg.Interface, err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.NumBlocks),
		Frame_size:     uint32(cfg.FrameSize),
		Frame_nr:       uint32(cfg.BlockSize / cfg.FrameSize * cfg.NumBlocks),
		Retire_blk_tov: uint32(cfg.BlockTimeout.Milliseconds()),
	}
	if err = unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		if errors.Is(err, unix.ENOMEM) {
			return fd, nil, fmt.Errorf("afpacket: %s: not enough kernel memory for a ring of %d bytes (lower num_blocks or block_size): %w",
				cfg.Interface, cfg.BlockSize*cfg.NumBlocks, err)
		}
		return fd, nil, fmt.Errorf("afpacket: %s: the kernel refused the ring (block_size %d, num_blocks %d, frame_size %d): %w",
			cfg.Interface, cfg.BlockSize, cfg.NumBlocks, cfg.FrameSize, err)
	}
	ring, err = unix.Mmap(fd, 0, cfg.BlockSize*cfg.NumBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fd, nil, fmt.Errorf("afpacket: %s: mapping the ring (%d bytes): %w", cfg.Interface, cfg.BlockSize*cfg.NumBlocks, err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err = unix.Bind(fd, sa); err != nil {
		if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) {
			return fd, ring, fmt.Errorf("afpacket: interface %q: %w", cfg.Interface, ErrNoInterface)
		}
		return fd, ring, fmt.Errorf("afpacket: %s: bind: %w", cfg.Interface, err)
	}
	return fd, ring, nil
}

// attachFilter attaches (or replaces) the socket's classic BPF filter.
func attachFilter(fd int, prog []bpf.RawInstruction) error {
	ins := make([]unix.SockFilter, len(prog))
	for i, p := range prog {
		ins[i] = unix.SockFilter{Code: p.Op, Jt: p.Jt, Jf: p.Jf, K: p.K}
	}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]})
}

// joinFanout puts the socket in fanout group id with the given type and
// flags, or, when auto is set, in a new group under an id the kernel
// picks from those no group uses; it returns the group's id. The argument
// is a 4-byte int, as every kernel accepts.
func joinFanout(fd int, id, typeFlags uint16, auto bool) (uint16, error) {
	arg := int(id) | int(typeFlags)<<16
	if auto {
		arg = int(typeFlags|fanoutFlagUniqueID) << 16
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
		return 0, err
	}
	if !auto {
		return id, nil
	}
	v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
	if err != nil {
		return 0, err
	}
	return uint16(v), nil
}

// setPromiscuous adds a promiscuous-mode membership on ifindex; the
// kernel drops it when the socket closes.
func setPromiscuous(fd, ifindex int) error {
	return unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP,
		&unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC})
}

// interfaceByName looks the interface up, mapping every failure to
// ErrNoInterface.
func interfaceByName(name string) (*net.Interface, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("afpacket: interface %q: %w", name, ErrNoInterface)
	}
	return ifi, nil
}
