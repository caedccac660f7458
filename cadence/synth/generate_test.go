package synth

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

func smallConfig(seed int64) Config {
	c := TestdataConfig()
	c.Seed = seed
	c.EpisodesPerScenario = 1
	return c
}

func TestDeterminism(t *testing.T) {
	a := generate(t, smallConfig(7))
	b := generate(t, smallConfig(7))
	for _, x := range []struct {
		name string
		a, b []byte
	}{{"pcap", a.pcap, b.pcap}, {"conn", a.conn, b.conn}, {"ssl", a.ssl, b.ssl}, {"truth", a.truth, b.truth}} {
		if !bytes.Equal(x.a, x.b) {
			t.Errorf("%s differs between two runs with the same config", x.name)
		}
	}
	c := generate(t, smallConfig(8))
	if bytes.Equal(a.pcap, c.pcap) {
		t.Error("different seeds gave the same pcap")
	}
}

func TestPcapOrderedAndDecodes(t *testing.T) {
	g := testdataSet(t)
	pkts := readPcap(t, g.pcap)
	if int64(len(pkts)) != g.sum.Packets {
		t.Fatalf("pcap has %d packets, summary says %d", len(pkts), g.sum.Packets)
	}
	var v6, vlan int
	for i, p := range pkts {
		if i > 0 && p.ts < pkts[i-1].ts {
			t.Fatalf("packet %d at %d is before packet %d at %d", i+1, p.ts, i, pkts[i-1].ts)
		}
		if p.src.Addr().Is6() {
			v6++
		}
		if p.vlan != 0 {
			vlan++
		}
	}
	if v6 == 0 || vlan == 0 || vlan == len(pkts) {
		t.Errorf("want a mix of IPv6 (%d) and VLAN-tagged (%d of %d) packets", v6, vlan, len(pkts))
	}
}

// TestConnLogMatchesPcap checks that every conn.log row counts exactly the
// packets and IP bytes the pcap holds for that flow, and that sequence
// numbers advance the way the byte counts say.
func TestConnLogMatchesPcap(t *testing.T) {
	g := testdataSet(t)
	flows := join(t, g)
	byUID := map[string]*flowPkts{}
	for _, f := range flows {
		byUID[f.tr.UID] = f
	}
	rows := parseZeek(t, g.conn)
	if len(rows) != len(flows) {
		t.Fatalf("conn.log has %d rows, truth %d flows", len(rows), len(flows))
	}
	states := map[string]int{}
	for _, row := range rows {
		f := byUID[row["uid"]]
		if f == nil {
			t.Fatalf("conn.log uid %s not in truth", row["uid"])
		}
		var op, ob, rp, rb int64
		for _, p := range f.pkts {
			if f.fromOrig(p) {
				op++
				ob += int64(p.ipLen)
			} else {
				rp++
				rb += int64(p.ipLen)
			}
		}
		got := [4]int64{atoi(t, row["orig_pkts"]), atoi(t, row["orig_ip_bytes"]), atoi(t, row["resp_pkts"]), atoi(t, row["resp_ip_bytes"])}
		if got != [4]int64{op, ob, rp, rb} {
			t.Errorf("%s: conn.log pkts/ip_bytes %v, pcap %v", describe(f), got, [4]int64{op, ob, rp, rb})
		}
		if row["id.orig_h"] != f.tr.OrigH || row["id.resp_p"] != itoa(int(f.tr.RespP)) {
			t.Errorf("%s: conn.log tuple %s:%s", describe(f), row["id.orig_h"], row["id.resp_p"])
		}
		if f.tr.Packets != op+rp {
			t.Errorf("%s: truth packets %d, pcap %d", describe(f), f.tr.Packets, op+rp)
		}
		states[row["conn_state"]]++
		if row["proto"] == "tcp" && row["orig_bytes"] != "-" {
			// Payload bytes from sequence numbers: highest data end minus
			// the initial sequence number + 1.
			for side, col := range []string{"orig_bytes", "resp_bytes"} {
				var isn, hi uint32
				var seen bool
				var max int64
				for _, p := range f.pkts {
					if f.fromOrig(p) != (side == 0) {
						continue
					}
					if p.flags&schemas.TCPSyn != 0 {
						isn, seen = p.seq, true
						continue
					}
					if p.payload > 0 && seen {
						end := p.seq + uint32(p.payload) - isn - 1
						if int64(end) > max {
							max, hi = int64(end), end
						}
					}
				}
				_ = hi
				if want := atoi(t, row[col]); seen && want != max {
					t.Errorf("%s: %s %d, sequence numbers say %d", describe(f), col, want, max)
				}
			}
		}
	}
	for _, s := range []string{"SF", "S1", "RSTO"} {
		if states[s] == 0 {
			t.Errorf("no %s connections (states %v)", s, states)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestTCPConsistency checks sequence and acknowledgement numbers: each side's
// sequence numbers never go backwards except for retransmissions of data
// already sent, acknowledgements never go backwards and never cover data
// the other side has not sent yet.
func TestTCPConsistency(t *testing.T) {
	checkTCP(t, testdataSet(t))
	// Bulk transfers at a larger volume must show losses and recoveries.
	c := smallConfig(11)
	c.Scenarios = []string{"bulk_download", "backup_upload", "exfil_scp", "video_dash"}
	c.VolumeScale = 0.05
	c.EpisodesPerScenario = 3
	if retx := checkTCP(t, generate(t, c)); retx == 0 {
		t.Error("no retransmissions in bulk transfers")
	}
}

func checkTCP(t *testing.T, g *generated) int {
	retx := 0
	for _, f := range join(t, g) {
		if f.tr.Proto != "tcp" {
			continue
		}
		var isn [2]uint32
		var nxt, lastAck [2]uint32
		var synSeen [2]bool
		for _, p := range f.pkts {
			d := 1
			if f.fromOrig(p) {
				d = 0
			}
			if p.flags&schemas.TCPSyn != 0 {
				isn[d], synSeen[d] = p.seq, true
				nxt[d] = 1
				continue
			}
			if !synSeen[0] || !synSeen[1] {
				t.Fatalf("%s: data before the handshake", describe(f))
			}
			rel := p.seq - isn[d]
			end := rel + uint32(p.payload)
			if p.flags&schemas.TCPFin != 0 {
				end++
			}
			if rel < nxt[d] && p.payload > 0 {
				retx++
			} else if rel != nxt[d] && p.payload > 0 && rel > nxt[d] {
				// A segment lost before the sensor leaves a hole that a
				// later retransmission fills.
				retx++
			}
			if end > nxt[d] {
				nxt[d] = end
			}
			ack := p.ack - isn[1-d]
			if int32(ack-lastAck[d]) < 0 {
				t.Errorf("%s: side %d ack went back from %d to %d at %d", describe(f), d, lastAck[d], ack, p.ts)
			}
			lastAck[d] = ack
			if int32(ack-nxt[1-d]) > 0 {
				t.Errorf("%s: side %d acks %d, the other side has sent only %d", describe(f), d, ack, nxt[1-d])
			}
		}
	}
	return retx
}

func TestSSLLog(t *testing.T) {
	g := testdataSet(t)
	truth, _ := ReadTruth(bytes.NewReader(g.truth))
	byUID := map[string]Truth{}
	for _, tr := range truth {
		byUID[tr.UID] = tr
	}
	rows := parseZeek(t, g.ssl)
	if len(rows) < 50 {
		t.Fatalf("only %d ssl.log rows", len(rows))
	}
	unlisted := 0
	for _, row := range rows {
		tr, ok := byUID[row["uid"]]
		if !ok {
			t.Fatalf("ssl.log uid %s not in truth", row["uid"])
		}
		sni := row["server_name"]
		if sni == "-" {
			sni = ""
		}
		if sni != tr.SNI {
			t.Errorf("%s: ssl.log server_name %q, truth %q", tr.UID, sni, tr.SNI)
		}
		if row["version"] != "TLSv13" || row["established"] != "T" {
			t.Errorf("%s: version %s established %s", tr.UID, row["version"], row["established"])
		}
		for _, g := range gateways {
			if sni == g {
				unlisted++
			}
		}
	}
	if unlisted == 0 {
		t.Error("no LLM flow through an unlisted gateway name")
	}
}

// TestTruthCoverage checks the checked-in set covers what it promises: at
// least 8 flows per class, every route and every negative scenario twice.
func TestTruthCoverage(t *testing.T) {
	g := testdataSet(t)
	truth, _ := ReadTruth(bytes.NewReader(g.truth))
	class := map[schemas.Class]int{}
	route := map[string]int{}
	scen := map[string]int{}
	for _, tr := range truth {
		class[tr.Class]++
		if tr.Class == schemas.ClassLLMStream {
			route[tr.Route]++
			if tr.Route == "" {
				t.Errorf("%s: llm_stream without a route", tr.UID)
			}
		} else if tr.Route != "" {
			t.Errorf("%s: %s with a route", tr.UID, tr.Class)
		}
		if tr.Class == schemas.ClassHandoff {
			if tr.HandoffAtNS <= tr.StartNS || tr.HandoffAtNS >= tr.EndNS {
				t.Errorf("%s: handoff at %d outside the flow %d..%d", tr.UID, tr.HandoffAtNS, tr.StartNS, tr.EndNS)
			}
			if tr.HandoffDirection != "human_to_agent" && tr.HandoffDirection != "agent_to_human" {
				t.Errorf("%s: handoff direction %q", tr.UID, tr.HandoffDirection)
			}
		} else if tr.HandoffAtNS != 0 {
			t.Errorf("%s: handoff time on a %s flow", tr.UID, tr.Class)
		}
		scen[tr.Scenario]++
	}
	for _, c := range schemas.Classes {
		if class[c] < 8 {
			t.Errorf("class %s: %d flows, want >= 8", c, class[c])
		}
	}
	for _, r := range routes {
		if route[r.name] < 2 {
			t.Errorf("route %s: %d flows, want >= 2", r.name, route[r.name])
		}
	}
	for _, s := range allScenarios() {
		if scen[s.name] < 2 {
			t.Errorf("scenario %s: %d flows, want >= 2", s.name, scen[s.name])
		}
	}
	t.Logf("flows per class: %v", class)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"testdata", func(c *Config) { *c = TestdataConfig() }, true},
		{"negative scale", func(c *Config) { c.Scale = -1 }, false},
		{"share above one", func(c *Config) { c.IPv6Share = 1.5 }, false},
		{"tiny snaplen", func(c *Config) { c.Snaplen = 40 }, false},
		{"unknown scenario", func(c *Config) { c.Scenarios = []string{"nope"} }, false},
		{"known scenario", func(c *Config) { c.Scenarios = []string{"llm_chat", "dns"} }, true},
		{"negative target", func(c *Config) { c.TargetPackets = -5 }, false},
		{"start before 1970", func(c *Config) { c.Start = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestScenarioSubset(t *testing.T) {
	c := smallConfig(3)
	c.Scenarios = []string{"voip_rtp", "dns"}
	g := generate(t, c)
	truth, _ := ReadTruth(bytes.NewReader(g.truth))
	for _, tr := range truth {
		if tr.Scenario != "voip_rtp" && tr.Scenario != "dns" {
			t.Errorf("unexpected scenario %s", tr.Scenario)
		}
	}
	if len(truth) == 0 {
		t.Fatal("no flows")
	}
}

// TestBenchmarkMode writes a target number of packets in time order with
// memory bounded by the flows in flight, not by the file.
func TestBenchmarkMode(t *testing.T) {
	target := int64(150_000)
	if testing.Short() {
		target = 30_000
	}
	cfg := BenchmarkConfig(target)
	var pc countingWriter
	var conn bytes.Buffer
	sum, err := Generate(cfg, Outputs{PCAP: &pc, Conn: &conn})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Packets < target || sum.Packets > 2*target {
		t.Errorf("wrote %d packets for a target of %d", sum.Packets, target)
	}
	if pc.n != sum.PcapBytes {
		t.Errorf("pcap bytes %d, summary %d", pc.n, sum.PcapBytes)
	}
	if wantClasses := 5; testing.Short() {
		wantClasses = 2
		if len(sum.FlowsByClass) < wantClasses {
			t.Errorf("benchmark mix has only classes %v", sum.FlowsByClass)
		}
	} else if len(sum.FlowsByClass) < wantClasses {
		t.Errorf("benchmark mix has only classes %v", sum.FlowsByClass)
	}
	rows := parseZeek(t, conn.Bytes())
	if len(rows) != sum.Flows {
		t.Errorf("%d conn rows for %d flows", len(rows), sum.Flows)
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(b []byte) (int, error) { w.n += int64(len(b)); return len(b), nil }

// TestBenchmarkModeMemory checks that the heap stays far below the size of
// the file written (streaming, not buffering).
func TestBenchmarkModeMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("memory check needs a full-size run without the race detector")
	}
	var pc countingWriter
	done := make(chan struct{})
	var peak uint64
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			default:
			}
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	sum, err := Generate(BenchmarkConfig(600_000), Outputs{PCAP: &pc})
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	if peak > uint64(sum.PcapBytes)/2 {
		t.Errorf("peak heap %d MB for a %d MB pcap", peak>>20, sum.PcapBytes>>20)
	}
	t.Logf("%d packets, %d MB pcap, peak heap %d MB", sum.Packets, sum.PcapBytes>>20, peak>>20)
}

func TestTsharkReads(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	g := testdataSet(t)
	dir := t.TempDir()
	p := filepath.Join(dir, PcapFile)
	if err := os.WriteFile(p, g.pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-n", "-r", p, "-q", "-z", "io,stat,0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if l != "" && !strings.Contains(l, "Running as user") {
			t.Errorf("tshark stderr: %s", l)
		}
	}
	if !strings.Contains(string(out), itoa(int(g.sum.Packets))) {
		t.Errorf("tshark did not count %d frames:\n%s", g.sum.Packets, out)
	}
	// The SNI is in the ClientHello bytes, not only in ssl.log.
	cmd = exec.Command(tshark, "-n", "-r", p, "-Y", "tls.handshake.type == 1", "-T", "fields", "-e", "tls.handshake.extensions_server_name")
	out, err = cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "api.anthropic.com") {
		t.Error("tshark found no ClientHello with SNI api.anthropic.com")
	}
}
