package cadence

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
)

// corpusDir is the shared real-capture corpus (see DESIGN.md); AEGIS_CORPUS
// overrides it.
func corpusDir() string {
	if d := os.Getenv("AEGIS_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "corpus")
}

// tsharkFlows reads a capture with tshark and rebuilds its flows the way
// the flow table does: canonical bidirectional key, the SYN sender (else
// the first sender) as originator, payload timing without retransmissions.
// It keeps this package's tests independent of the ingest packages.
func tsharkFlows(t *testing.T, tshark, file string) []*flowtable.Flow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fields := []string{"frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst",
		"tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "tcp.len", "udp.length",
		"tcp.flags.syn", "tcp.flags.ack", "tcp.analysis.retransmission"}
	// Reassembly is not needed for packet timing and is very slow on some
	// captures (RFB); sequence analysis stays on to flag retransmissions.
	args := []string{"-n", "-o", "tcp.desegment_tcp_streams:FALSE", "-r", file, "-Y", "tcp || udp", "-T", "fields", "-E", "separator=|", "-E", "occurrence=f"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.CommandContext(ctx, tshark, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v: %s", file, err, errb.String())
	}
	type key struct{ a, b string }
	flows := map[key]*flowtable.Flow{}
	origOf := map[key]string{}
	respOf := map[key]string{}
	var order []key
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "|")
		if len(c) < len(fields) {
			continue
		}
		ts, ok := parseEpoch(c[0])
		if !ok {
			continue
		}
		src, dst := c[1]+c[2], c[3]+c[4]
		sport, dport, proto := c[5], c[6], schemas.ProtoTCP
		payload := atoiOr(c[9], 0)
		if sport == "" {
			sport, dport, proto = c[7], c[8], schemas.ProtoUDP
			payload = max(atoiOr(c[10], 8)-8, 0)
		}
		ea, eb := src+"#"+sport, dst+"#"+dport
		if ea > eb {
			ea, eb = eb, ea
		}
		k := key{fmt.Sprint(proto) + ea, eb}
		f := flows[k]
		sender := src + "#" + sport
		if f == nil {
			f = &flowtable.Flow{First: ts}
			f.Key.Proto = proto
			f.OrigTuple.Proto = proto
			flows[k] = f
			order = append(order, k)
			origOf[k] = sender
			respOf[k] = dst + "#" + dport
		}
		if proto == schemas.ProtoTCP && c[11] == "1" && c[12] != "1" && len(f.Orig.Times)+len(f.Resp.Times) == 0 {
			origOf[k] = sender // the SYN sender originates
			respOf[k] = dst + "#" + dport
		}
		f.Last = max(f.Last, ts)
		d := &f.Resp
		if sender == origOf[k] {
			d = &f.Orig
		}
		d.Packets++
		if payload == 0 {
			continue
		}
		if c[13] != "" {
			d.Retransmits++
			continue
		}
		if d.PayloadPackets > 0 {
			d.Gaps.Add(float64(ts - d.LastPayload))
		}
		d.PayloadPackets++
		d.PayloadBytes += int64(payload)
		d.LastPayload = ts
		d.Times = append(d.Times, ts)
		d.Sizes = append(d.Sizes, uint32(payload))
	}
	out2 := make([]*flowtable.Flow, 0, len(order))
	for _, k := range order {
		f := flows[k]
		f.OrigTuple.SrcPort = uint16(atoiOr(strings.SplitN(origOf[k], "#", 2)[1], 0))
		f.OrigTuple.DstPort = uint16(atoiOr(strings.SplitN(respOf[k], "#", 2)[1], 0))
		out2 = append(out2, f)
	}
	return out2
}

// serviceGuess maps well-known responder ports to IDS service names.
var serviceGuess = map[uint16]string{21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 80: "http", 443: "ssl", 6667: "irc"}

// respPort returns the responder's port of a corpus flow.
func respPort(f *flowtable.Flow) uint16 { return f.OrigTuple.DstPort }

func parseEpoch(s string) (int64, bool) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, false
	}
	frac = (frac + "000000000")[:9]
	ns, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, false
	}
	return n*1e9 + ns, true
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// TestCorpusBenign runs every real capture of the shared corpus through the
// analyzer: none of these benign flows may be called a detection, and the
// human-typed SSH sessions must come out human_interactive.
func TestCorpusBenign(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus run skipped in -short mode")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed; the corpus check needs it to read pcaps")
	}
	dir := corpusDir()
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng") || strings.HasSuffix(p, ".pcap.gz")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skipf("no captures under %s (shared corpus absent)", dir)
	}
	slices.Sort(files)
	a := newTestAnalyzer(t)
	for _, file := range files {
		rel, _ := filepath.Rel(dir, file)
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			flows := tsharkFlows(t, tshark, file)
			interactive := strings.Contains(rel, "interactive")
			sawHuman := false
			for _, f := range flows {
				// Mimic the IDS's service field from well-known ports, so the
				// weak service prior is exercised too.
				r := a.Analyze(f, FlowContext{Service: serviceGuess[respPort(f)]})
				if f.Orig.PayloadPackets+f.Resp.PayloadPackets >= 20 || r.Class != schemas.ClassOther {
					t.Logf("port %d c=%d s=%d pkts: %s %.2f %v", f.OrigTuple.SrcPort, f.Orig.PayloadPackets, f.Resp.PayloadPackets, r.Class, r.Confidence, r.Reasons)
				}
				if r.Class.IsDetection() {
					t.Errorf("benign flow (orig port %d, %d/%d payload packets) classified %s: %v",
						f.OrigTuple.SrcPort, f.Orig.PayloadPackets, f.Resp.PayloadPackets, r.Class, r.Reasons)
				}
				if r.Class == schemas.ClassHumanInteractive {
					sawHuman = true
				}
			}
			if interactive && !sawHuman {
				t.Errorf("human-typed SSH capture has no human_interactive flow")
			}
		})
	}
}
