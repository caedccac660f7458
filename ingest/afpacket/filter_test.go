package afpacket

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

// udpProg is `tcpdump -ddd -y EN10MB udp` (libpcap 1.10).
const udpProg = `12
40 0 0 12
21 0 2 2048
48 0 0 23
21 6 7 17
21 0 6 34525
48 0 0 20
21 3 0 17
21 0 3 44
48 0 0 54
21 0 1 17
6 0 0 262144
6 0 0 0
`

func TestParseRawFilter(t *testing.T) {
	prog, err := parseRawFilter(udpProg)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) != 12 || prog[0] != (bpf.RawInstruction{Op: 40, K: 12}) || prog[10] != (bpf.RawInstruction{Op: 6, K: 262144}) {
		t.Fatalf("parsed %v", prog)
	}
	comma, err := parseRawFilter(strings.ReplaceAll(strings.TrimSpace(udpProg), "\n", ","))
	if err != nil {
		t.Fatal(err)
	}
	if len(comma) != len(prog) {
		t.Fatalf("comma form: %d instructions, want %d", len(comma), len(prog))
	}
	for _, tt := range []struct{ in, want string }{
		{"", "empty"},
		{"x\n6 0 0 0", "instruction count"},
		{"0\n", "instruction count"},
		{"5000\n6 0 0 0", "instruction count"},
		{"2\n6 0 0 0", "count says 2 instructions, 1 follow"},
		{"1\n6 0 0", "want 4 numbers"},
		{"1\n70000 0 0 0", "out of range"},
		{"1\n6 300 0 0", "out of range"},
		{"1\n6 0 0 4294967296", "out of range"},
		{"1\n40 0 0 12", "last instruction must return"},
	} {
		if _, err := parseRawFilter(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseRawFilter(%q) = %v, want error containing %q", tt.in, err, tt.want)
		}
	}
}

func TestIsRawFilter(t *testing.T) {
	for in, want := range map[string]bool{
		"":                false,
		"   ":             false,
		udpProg:           true,
		"1,6 0 0 0":       true,
		"tcp port 80":     false,
		"port 80":         false,
		"1\n6 0 0 0\nudp": false,
	} {
		if got := isRawFilter(in); got != want {
			t.Errorf("isRawFilter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCompileFilterSnapLen(t *testing.T) {
	prog, err := compileFilter("", "EN10MB", 256)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) != 1 || prog[0] != (bpf.RawInstruction{Op: opRetK, K: 256}) {
		t.Fatalf("empty filter compiled to %v, want [ret #256]", prog)
	}
	prog, err = compileFilter(udpProg, "EN10MB", 128)
	if err != nil {
		t.Fatal(err)
	}
	if prog[10].K != 128 || prog[11].K != 0 {
		t.Fatalf("accept not capped at the snap length, or drop changed: %v %v", prog[10], prog[11])
	}
	// The capped program keeps accepting UDP (at most 128 bytes of it) and
	// dropping TCP.
	vm := mustVM(t, prog)
	if n := run(t, vm, udpFrame(1000, 53, 400)); n != 128 {
		t.Errorf("UDP frame: filter keeps %d bytes, want 128", n)
	}
	if n := run(t, vm, tcpFrame(1000, 80, 1, 0x02, 0)); n != 0 {
		t.Errorf("TCP frame: filter keeps %d bytes, want 0", n)
	}
}

// TestCompileFilterTcpdump compiles tcpdump expressions the way New does
// and checks what they accept by running them on frames.
func TestCompileFilterTcpdump(t *testing.T) {
	if _, err := findTcpdump(); err != nil {
		t.Skip("tcpdump is not installed: expression filters cannot be compiled here (the raw form is tested without it)")
	}
	prog, err := compileFilter("udp dst port 5353 or tcp port 443", "EN10MB", 256)
	if err != nil {
		t.Fatal(err)
	}
	vm := mustVM(t, prog)
	// A filter returns how many bytes to keep (the kernel keeps at most
	// the frame): the snap length for an accepted frame, 0 for a dropped one.
	for _, tt := range []struct {
		name  string
		frame []byte
		keep  int
	}{
		{"mdns", udpFrame(5353, 5353, 100), 256},
		{"mdns from other port", udpFrame(40000, 5353, 1000), 256},
		{"udp other port", udpFrame(5353, 53, 10), 0},
		{"https", tcpFrame(50000, 443, 1, 0x18, 10), 256},
		{"https reply", tcpFrame(443, 50000, 1, 0x18, 10), 256},
		{"ssh", tcpFrame(50000, 22, 1, 0x18, 10), 0},
		{"arp", arpFrame(), 0},
	} {
		if n := run(t, vm, tt.frame); n != tt.keep {
			t.Errorf("%s: filter keeps %d bytes, want %d", tt.name, n, tt.keep)
		}
	}

	raw, err := compileFilter("udp", "RAW", 256)
	if err != nil {
		t.Fatal(err)
	}
	if n := run(t, mustVM(t, raw), udpFrame(1, 2, 3)[14:]); n != 256 {
		t.Errorf("raw-IP link type: UDP packet kept %d bytes, want 256", n)
	}
	if n := run(t, mustVM(t, raw), tcpFrame(1, 2, 3, 0, 0)[14:]); n != 0 {
		t.Errorf("raw-IP link type: TCP packet kept %d bytes, want 0", n)
	}

	_, err = compileFilter("tcp port", "EN10MB", 256)
	if err == nil || !strings.Contains(err.Error(), `filter "tcp port"`) || !strings.Contains(err.Error(), "syntax error") {
		t.Fatalf("bad expression: %v, want tcpdump's syntax error naming the filter", err)
	}
}

// TestCompileFilterNoTcpdump checks the message when tcpdump is missing.
func TestCompileFilterNoTcpdump(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := tcpdumpCandidates
	tcpdumpCandidates = nil
	t.Cleanup(func() { tcpdumpCandidates = saved })

	_, err := compileFilter("tcp port 443", "EN10MB", 256)
	if !errors.Is(err, ErrNoTcpdump) || !strings.Contains(err.Error(), "tcpdump -ddd -y EN10MB") {
		t.Fatalf("err = %v, want ErrNoTcpdump with the command that compiles the filter elsewhere", err)
	}
	// The raw form needs no tcpdump.
	if _, err := compileFilter(udpProg, "EN10MB", 256); err != nil {
		t.Fatal(err)
	}
}

func mustVM(t *testing.T, prog []bpf.RawInstruction) *bpf.VM {
	t.Helper()
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("program has instructions x/net/bpf cannot run: %v", ins)
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

func run(t *testing.T, vm *bpf.VM, frame []byte) int {
	t.Helper()
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
