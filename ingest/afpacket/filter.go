package afpacket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/bpf"
)

const (
	// maxFilterLen is the kernel's limit on classic BPF programs
	// (BPF_MAXINSNS).
	maxFilterLen = 4096
	// opRetK is BPF_RET|BPF_K: return a constant (the number of bytes to
	// keep, 0 to drop).
	opRetK = 0x06
	// compileTimeout bounds the tcpdump run.
	compileTimeout = 10 * time.Second
)

// tcpdumpCandidates are tried, in order, when tcpdump is not in PATH
// (service managers often leave /usr/sbin out).
var tcpdumpCandidates = []string{"/usr/sbin/tcpdump", "/usr/bin/tcpdump", "/sbin/tcpdump", "/usr/local/sbin/tcpdump", "/usr/local/bin/tcpdump"}

// findTcpdump returns the path of a tcpdump binary.
func findTcpdump() (string, error) {
	if p, err := exec.LookPath("tcpdump"); err == nil {
		return p, nil
	}
	for _, p := range tcpdumpCandidates {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", ErrNoTcpdump
}

// isRawFilter reports whether f is a compiled program (`tcpdump -ddd`
// output: numbers, whitespace and commas only) rather than an expression.
func isRawFilter(f string) bool {
	f = strings.TrimSpace(f)
	if f == "" {
		return false
	}
	for _, r := range f {
		if !(r >= '0' && r <= '9' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ',') {
			return false
		}
	}
	return true
}

// filterDesc describes Config.Filter for messages: the expression, or
// that it is a compiled program.
func filterDesc(f string) string {
	switch {
	case strings.TrimSpace(f) == "":
		return "(none)"
	case isRawFilter(f):
		return "(compiled program)"
	}
	return strconv.Quote(strings.TrimSpace(f))
}

// parseRawFilter parses a classic BPF program in `tcpdump -ddd` form: the
// instruction count, then one "code jt jf k" line per instruction, all in
// decimal. Commas may separate the lines (the form iptables' bpf match
// takes).
func parseRawFilter(f string) ([]bpf.RawInstruction, error) {
	var lines []string
	for _, l := range strings.FieldsFunc(f, func(r rune) bool { return r == '\n' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("afpacket: filter: compiled program (tcpdump -ddd form): "+format, a...)
	}
	if len(lines) == 0 {
		return nil, bad("empty")
	}
	n, err := strconv.Atoi(lines[0])
	if err != nil || n < 1 || n > maxFilterLen {
		return nil, bad("first line %q must be the instruction count, 1 to %d", lines[0], maxFilterLen)
	}
	if len(lines)-1 != n {
		return nil, bad("count says %d instructions, %d follow", n, len(lines)-1)
	}
	prog := make([]bpf.RawInstruction, n)
	for i, l := range lines[1:] {
		fs := strings.Fields(l)
		if len(fs) != 4 {
			return nil, bad("instruction %d %q: want 4 numbers \"code jt jf k\"", i+1, l)
		}
		op, e1 := strconv.ParseUint(fs[0], 10, 16)
		jt, e2 := strconv.ParseUint(fs[1], 10, 8)
		jf, e3 := strconv.ParseUint(fs[2], 10, 8)
		k, e4 := strconv.ParseUint(fs[3], 10, 32)
		if err := errors.Join(e1, e2, e3, e4); err != nil {
			return nil, bad("instruction %d %q: a number is out of range", i+1, l)
		}
		prog[i] = bpf.RawInstruction{Op: uint16(op), Jt: uint8(jt), Jf: uint8(jf), K: uint32(k)}
	}
	if last := prog[n-1]; last.Op&0x07 != 0x06 { // BPF_RET class
		return nil, bad("the last instruction must return (BPF_RET), got code %d", last.Op)
	}
	return prog, nil
}

// compileFilter turns Config.Filter into the program attached to the
// sockets: dlt is the tcpdump name of the interface's link type (-y), and
// every constant accept is capped at snapLen. An empty filter accepts
// every packet, cut to snapLen.
func compileFilter(filter, dlt string, snapLen int) ([]bpf.RawInstruction, error) {
	var prog []bpf.RawInstruction
	switch f := strings.TrimSpace(filter); {
	case f == "":
		prog = []bpf.RawInstruction{{Op: opRetK, K: uint32(snapLen)}}
	case isRawFilter(f):
		p, err := parseRawFilter(f)
		if err != nil {
			return nil, err
		}
		prog = p
	default:
		p, err := tcpdumpCompile(f, dlt, snapLen)
		if err != nil {
			return nil, err
		}
		prog = p
	}
	capSnapLen(prog, snapLen)
	return prog, nil
}

// capSnapLen lowers every constant accept of prog to at most snapLen bytes
// (a classic BPF filter's return value is the number of bytes to keep).
func capSnapLen(prog []bpf.RawInstruction, snapLen int) {
	for i := range prog {
		if prog[i].Op == opRetK && prog[i].K > uint32(snapLen) {
			prog[i].K = uint32(snapLen)
		}
	}
}

// tcpdumpCompile compiles a tcpdump expression by running
// `tcpdump -ddd -y DLT -s SNAPLEN -- EXPR`, which compiles without
// opening an interface and needs no privileges.
func tcpdumpCompile(expr, dlt string, snapLen int) ([]bpf.RawInstruction, error) {
	path, err := findTcpdump()
	if err != nil {
		return nil, fmt.Errorf("afpacket: filter %q is a tcpdump expression, and compiling it needs tcpdump: "+
			"install tcpdump, or compile it elsewhere with `tcpdump -ddd -y %s '<expression>'` and set filter to that output: %w",
			expr, dlt, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), compileTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-ddd", "-y", dlt, "-s", strconv.Itoa(snapLen), "--", expr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("afpacket: filter %q: %s (compiled with %s -ddd -y %s)", expr, msg, path, dlt)
	}
	prog, err := parseRawFilter(stdout.String())
	if err != nil {
		return nil, fmt.Errorf("afpacket: filter %q: unexpected output from %s: %w", expr, path, err)
	}
	return prog, nil
}
