//go:build linux

package afpacket

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// needNetAdmin skips t unless it can build network namespaces and veth
// pairs: root and the ip command.
func needNetAdmin(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: AF_PACKET tests need root (CAP_NET_RAW to capture, CAP_NET_ADMIN and CAP_SYS_ADMIN for a network namespace and a veth pair); CI runs them as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: AF_PACKET tests need the ip command (iproute2) to make a network namespace and a veth pair")
	}
}

// vethNet is a veth pair: Host in the test's network namespace, Peer in a
// namespace of its own (NS), with the addresses HostIP and PeerIP in a
// /30 and IPv6 address generation off so that the link stays quiet.
type vethNet struct {
	NS, Host, Peer string
	HostIP, PeerIP netip.Addr
	Other          netip.Addr // in the subnet, but no host's: a tap sees it, the stack drops it
	OtherMAC       string
}

// newVethNet makes a vethNet with names unique to this run, removed when
// the test ends.
func newVethNet(t testing.TB) *vethNet {
	t.Helper()
	needNetAdmin(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tag := hex.EncodeToString(rnd[:3])
	base := netip.AddrFrom4([4]byte{10, 200 + rnd[3]%50, rnd[4], rnd[5] &^ 3})
	v := &vethNet{
		NS:       "aegis-afp-" + tag,
		Host:     "agh" + tag,
		Peer:     "agn" + tag,
		HostIP:   base.Next(),
		PeerIP:   base.Next().Next(),
		Other:    base.Next().Next().Next(),
		OtherMAC: "02:00:5e:00:53:01",
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	// Where namespaces or veth pairs cannot be made at all (a container
	// without CAP_SYS_ADMIN, a kernel without veth), skip; later failures
	// are failures.
	if out, err := exec.Command("ip", "netns", "add", v.NS).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot make a network namespace here (ip netns add: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", v.NS).Run() })
	if out, err := exec.Command("ip", "link", "add", v.Host, "type", "veth", "peer", "name", v.Peer, "netns", v.NS).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot make a veth pair here (ip link add: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", v.Host).Run() })
	ip("link", "set", v.Host, "addrgenmode", "none")
	ip("-n", v.NS, "link", "set", v.Peer, "addrgenmode", "none")
	ip("addr", "add", v.HostIP.String()+"/30", "dev", v.Host)
	ip("-n", v.NS, "addr", "add", v.PeerIP.String()+"/30", "dev", v.Peer)
	ip("-n", v.NS, "link", "set", "lo", "up")
	ip("-n", v.NS, "link", "set", v.Peer, "up")
	ip("link", "set", v.Host, "up")
	// Frames to Other go out with a MAC nobody has: the host side's tap
	// sees them, its IP stack drops them without answering.
	ip("-n", v.NS, "neigh", "add", v.Other.String(), "lladdr", v.OtherMAC, "dev", v.Peer, "nud", "permanent")
	return v
}

// InNS runs f on a thread that has entered the peer namespace; sockets
// made there belong to the namespace for good. The thread is thrown away
// afterwards.
func (v *vethNet) InNS(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ns, err := os.Open("/run/netns/" + v.NS)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", v.NS, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}
