//go:build linux

package afpacket

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/aegis-nsm/aegis/schemas"
)

// BenchmarkAFPacket measures how many packets one worker captures and
// decodes per second on a veth while senders in the other namespace blast
// minimum-size (60-byte) UDP frames at it as fast as they can: raw frames
// written 64 at a time (sendmmsg) on packet sockets that bypass the qdisc,
// so that the sender is as cheap as it gets. One op is one packet
// delivered to the callback. Metrics:
//
//	pkts/s         packets delivered to the callback per second
//	kernel_pkts/s  packets the kernel offered the ring per second (tp_packets)
//	sent_pkts/s    frames the senders wrote per second (more than reach the
//	               veth when the receive backlog overflows)
//	drops, drop_%  packets the kernel dropped because the ring was full
//
// It needs root; run it with
//
//	go test -run x -bench AFPacket ./ingest/afpacket/
//
// The sub-benchmark "drain" measures the worker alone: it holds the
// callback until the senders have filled the ring (and overflowed it:
// drops), stops them, and times how fast the worker empties the full
// ring. One op is one packet drained.
func BenchmarkAFPacket(b *testing.B) {
	for _, senders := range []int{1, 2} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) { benchAFPacket(b, senders) })
	}
	b.Run("drain", benchDrain)
}

func benchDrain(b *testing.B) {
	v := newVethNet(b)
	cfg := DefaultConfig()
	cfg.Interface = v.Host
	cfg.Workers = 1
	cfg.NumBlocks = 16 // 16 MiB: about 110,000 minimum-size frames
	src, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var delivered atomic.Int64
	var hold sync.RWMutex // write-locked: the callback waits
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- src.Run(ctx, func(_ int, batch []schemas.Packet) error {
			hold.RLock()
			delivered.Add(int64(len(batch)))
			hold.RUnlock()
			return nil
		})
	}()
	var frame []byte
	var fd int
	if err := v.InNS(func() error {
		ifi, err := net.InterfaceByName(v.Peer)
		if err != nil {
			return err
		}
		frame = blastFrame(ifi.HardwareAddr, v)
		fd, err = rawSender(ifi.Index)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	iov := unix.Iovec{Base: &frame[0]}
	iov.SetLen(len(frame))
	msgs := make([]mmsghdr, 64)
	for i := range msgs {
		msgs[i].hdr.Iov = &iov
		msgs[i].hdr.SetIovlen(1)
	}

	b.StopTimer()
	var drained, drops int64
	var drainTime time.Duration
	for range b.N {
		hold.Lock()
		before := src.Stats().Total()
		for src.Stats().Total().Drops == before.Drops { // fill the ring until it overflows
			for range 16 {
				_, _, _ = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
			}
		}
		full := src.Stats().Total()
		d0 := delivered.Load()
		b.StartTimer()
		start := time.Now()
		hold.Unlock()
		want := int64(full.Packets - full.Drops - full.Frames) // in the ring, not yet read
		for delivered.Load()-d0 < want {
			runtime.Gosched()
		}
		drainTime += time.Since(start)
		b.StopTimer()
		drained += delivered.Load() - d0
		drops += int64(full.Drops - before.Drops)
	}
	cancel()
	if err := <-runErr; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(drained)/drainTime.Seconds(), "pkts/s")
	b.ReportMetric(float64(drained)/float64(b.N), "pkts/ring")
	b.ReportMetric(float64(drops)/float64(b.N), "drops/fill")
	b.ReportMetric(float64(drainTime.Nanoseconds())/float64(drained), "ns/pkt")
}

func benchAFPacket(b *testing.B, senders int) {
	v := newVethNet(b)
	cfg := DefaultConfig()
	cfg.Interface = v.Host
	cfg.Workers = 1
	src, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var delivered atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- src.Run(ctx, func(_ int, batch []schemas.Packet) error {
			delivered.Add(int64(len(batch)))
			return nil
		})
	}()

	fds := make([]int, senders)
	var frame []byte
	if err := v.InNS(func() error {
		ifi, err := net.InterfaceByName(v.Peer)
		if err != nil {
			return err
		}
		frame = blastFrame(ifi.HardwareAddr, v)
		for i := range fds {
			if fds[i], err = rawSender(ifi.Index); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	for _, fd := range fds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer unix.Close(fd)
			f := append([]byte(nil), frame...)
			iov := unix.Iovec{Base: &f[0]}
			iov.SetLen(len(f))
			msgs := make([]mmsghdr, 64)
			for i := range msgs {
				msgs[i].hdr.Iov = &iov
				msgs[i].hdr.SetIovlen(1)
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
				if errno != 0 {
					time.Sleep(time.Microsecond)
					continue
				}
				sent.Add(int64(n))
			}
		}()
	}

	before := src.Stats().Total()
	d0, s0 := delivered.Load(), sent.Load()
	b.ResetTimer()
	start := time.Now()
	for delivered.Load()-d0 < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	d, s := delivered.Load()-d0, sent.Load()-s0
	after := src.Stats().Total()
	b.StopTimer()
	close(stop)
	wg.Wait()
	cancel()
	if err := <-runErr; err != nil {
		b.Fatal(err)
	}

	sec := elapsed.Seconds()
	packets, drops := after.Packets-before.Packets, after.Drops-before.Drops
	b.ReportMetric(float64(d)/sec, "pkts/s")
	b.ReportMetric(float64(packets)/sec, "kernel_pkts/s")
	b.ReportMetric(float64(s)/sec, "sent_pkts/s")
	b.ReportMetric(float64(drops), "drops")
	if packets > 0 {
		b.ReportMetric(100*float64(drops)/float64(packets), "drop_%")
	}
}

// mmsghdr is struct mmsghdr, for sendmmsg.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// rawSender opens a packet socket on ifindex that writes whole frames
// straight to the device (PACKET_QDISC_BYPASS).
func rawSender(ifindex int) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// blastFrame is a 60-byte UDP frame from the peer to v.Other's unowned MAC.
func blastFrame(src net.HardwareAddr, v *vethNet) []byte {
	dst, _ := net.ParseMAC(v.OtherMAC)
	f := make([]byte, 14, 60)
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	f = append(f, ipv4(schemas.ProtoUDP, v.PeerIP.As4(), v.Other.As4(), udpDgram(40000, 9, 18))...)
	return f
}
