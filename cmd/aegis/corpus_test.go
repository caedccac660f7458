package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/ingest/zeek"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
	"gopkg.in/yaml.v3"
)

// corpusDir is the shared real-data corpus, beside the repository.
const corpusDir = "../../../shared/corpus"

func needCorpus(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("real-data corpus not found at %s (%v): it is laid beside the repository in CI and developer sessions", corpusDir, err)
	}
}

// readFlows runs pcaps through one flow table and returns every flow in
// publication order.
func readFlows(t *testing.T, pcaps ...string) []*flowtable.Flow {
	t.Helper()
	return readFlowsWith(t, flowtable.DefaultConfig(), pcaps...)
}

func readFlowsWith(t *testing.T, cfg flowtable.Config, pcaps ...string) []*flowtable.Flow {
	t.Helper()
	src := capture.OpenMerger(pcaps)
	defer src.Close()
	if errs := src.OpenErrors(); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	var flows []*flowtable.Flow
	tab, err := flowtable.New(cfg, func(f *flowtable.Flow) { flows = append(flows, f) })
	if err != nil {
		t.Fatal(err)
	}
	var p schemas.Packet
	for src.Next(&p) == nil {
		tab.Add(&p)
	}
	tab.Flush()
	sort.SliceStable(flows, func(i, j int) bool { return flowtable.FlowLess(flows[i], flows[j]) })
	return flows
}

// zeekMismatchExplained lists conn.log rows whose counts differ from the
// flow table's for a reason we understand; every other row must match.
var zeekMismatchExplained = map[string]string{
	"teredo/C0LAHyvtKSQHyJxIl":  dnsSession,
	"teredo/CtxTCR2Yer0FR1tIBg": dnsSession,
	"teredo/C9mvWx3ezztgzcexV7": teredoInner,
	"teredo/CNnMIj2QSd84NKf7U3": teredoInner,
	"teredo/CP5puj4I8PtEU4qzYg": teredoInner,
	"teredo/CUM0KZ3MLUfNB0cl11": teredoInner,
}

const (
	dnsSession = "Zeek's DNS analyzer ends a UDP DNS connection once its queries are answered " +
		"(dns_session_timeout), so one 5-tuple reused for later queries becomes several conn rows; " +
		"the flow table keeps one flow per 5-tuple until the UDP idle timeout"
	teredoInner = "a flow inside the Teredo tunnel: Zeek logs inner and outer connections, " +
		"Aegis reports tunnelled traffic as the outer UDP flow (see README)"
)

// TestFlowTableMatchesZeek compares per-connection packet and IP-byte
// counts with Zeek's conn.log for every Zeek pcap in the corpus.
func TestFlowTableMatchesZeek(t *testing.T) {
	needCorpus(t)
	dirs, _ := filepath.Glob(filepath.Join(corpusDir, "zeek", "*"))
	total, matched := 0, 0
	var unexplained []string
	for _, dir := range dirs {
		pcaps, _ := filepath.Glob(filepath.Join(dir, "trace.pcap*"))
		if len(pcaps) == 0 {
			continue
		}
		rows, _, err := zeek.ReadFiles(filepath.Join(dir, "conn.log"))
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		flows := readFlows(t, pcaps...)
		byKey := map[string][]*flowtable.Flow{}
		for _, f := range flows {
			k := enrich.FlowKeyString(f.OrigTuple)
			byKey[k] = append(byKey[k], f)
		}
		seen := map[string]int{}
		name := filepath.Base(dir)
		for i := range rows {
			r := &rows[i]
			k := enrich.FlowKeyString(enrich.IDSTuple(r))
			ord := seen[k]
			seen[k]++
			total++
			id := fmt.Sprintf("%s/%s", name, r.UID)
			var got string
			if ord >= len(byKey[k]) {
				got = "no such flow in the packets"
			} else {
				f := byKey[k][ord]
				// Zeek's orig is ours when the tuples agree; else compare crosswise.
				o, p := &f.Orig, &f.Resp
				if f.OrigTuple != enrich.IDSTuple(r) {
					o, p = p, o
				}
				if o.Packets == r.OrigPkts && p.Packets == r.RespPkts && o.IPBytes == r.OrigIPBytes && p.IPBytes == r.RespIPBytes {
					matched++
					continue
				}
				got = fmt.Sprintf("ours %d/%d pkts %d/%d ip bytes, zeek %d/%d pkts %d/%d ip bytes",
					o.Packets, p.Packets, o.IPBytes, p.IPBytes, r.OrigPkts, r.RespPkts, r.OrigIPBytes, r.RespIPBytes)
			}
			if why, ok := zeekMismatchExplained[id]; ok {
				t.Logf("explained mismatch %s (%s): %s: %s", id, k, got, why)
				continue
			}
			unexplained = append(unexplained, fmt.Sprintf("%s %s: %s", id, k, got))
		}
	}
	t.Logf("Zeek conn.log rows whose orig/resp pkts and ip_bytes match the flow table: %d of %d (%.1f%%)", matched, total, 100*float64(matched)/float64(max(total, 1)))
	for _, u := range unexplained {
		t.Errorf("unexplained mismatch: %s", u)
	}
}

// suricataCheck is the part of a suricata-verify test.yaml this test reads.
type suricataCheck struct {
	Checks []struct {
		Filter struct {
			Count    int            `yaml:"count"`
			Match    map[string]any `yaml:"match"`
			Requires map[string]any `yaml:"requires"`
		} `yaml:"filter"`
	} `yaml:"checks"`
}

// suricataMismatchExplained lists flow expectations the flow table does not
// meet for a reason we understand.
var suricataMismatchExplained = map[string]string{
	"decode-teredo-01#30": "an ICMPv6 flow inside the Teredo tunnel; Aegis reports the outer UDP flow",
	"eve-flow-esp#0":      espSPI,
	"eve-flow-esp#2":      espSPI,
}

const espSPI = "Suricata keys ESP flows by SPI; Aegis keys port-less protocols by address pair, " +
	"so the two SPIs between 190.0.0.1 and 190.0.0.2 are one flow of 4 packets"

// TestFlowTableMatchesSuricata checks the flow.pkts_* and flow.bytes_*
// expectations of the suricata-verify tests against the flow table.
func TestFlowTableMatchesSuricata(t *testing.T) {
	needCorpus(t)
	files, _ := filepath.Glob(filepath.Join(corpusDir, "suricata", "*", "test.yaml"))
	total, matched := 0, 0
	for _, file := range files {
		dir := filepath.Dir(file)
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var tc suricataCheck
		if err := yaml.Unmarshal(raw, &tc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		pcaps, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
		if len(pcaps) != 1 {
			continue
		}
		var flows []*flowtable.Flow
		loaded := false
		for ci, c := range tc.Checks {
			m := c.Filter.Match
			if m["event_type"] != "flow" || m["flow.pkts_toserver"] == nil {
				continue
			}
			if v, ok := c.Filter.Requires["lt-version"]; ok && fmt.Sprint(v) <= "8" {
				continue // expectations for old Suricata versions
			}
			if !loaded {
				flows, loaded = readFlowsWith(t, flowtable.SuricataConfig(), pcaps[0]), true
			}
			total++
			id := fmt.Sprintf("%s#%d", filepath.Base(dir), ci)
			want := [4]int64{toInt(m["flow.pkts_toserver"]), toInt(m["flow.pkts_toclient"]), toInt(m["flow.bytes_toserver"]), toInt(m["flow.bytes_toclient"])}
			n := 0
			for _, f := range flows {
				// Suricata calls the first packet's sender the client, Aegis
				// the peer of a service port: compare either way round.
				o, r, tp := &f.Orig, &f.Resp, f.OrigTuple
				if !suricataSelects(tp, m) {
					o, r, tp = r, o, tp.Reverse()
					if !suricataSelects(tp, m) {
						continue
					}
				}
				got := [4]int64{o.Packets, r.Packets, o.WireBytes, r.WireBytes}
				ok := true
				for i := range want {
					if want[i] >= 0 && want[i] != got[i] {
						ok = false
					}
				}
				if ok {
					n++
				}
			}
			if n == c.Filter.Count || (c.Filter.Count == 0 && n == 0) {
				matched++
				continue
			}
			if why, ok := suricataMismatchExplained[id]; ok {
				t.Logf("explained mismatch %s: %s", id, why)
				continue
			}
			t.Errorf("%s: %d flows of the table match %v (pkts/bytes toserver/toclient %v), test.yaml expects %d", id, n, m, want, c.Filter.Count)
		}
	}
	t.Logf("Suricata flow expectations met by the flow table: %d of %d", matched, total)
}

// suricataSelects applies the address and port parts of a match.
func suricataSelects(o schemas.Tuple, m map[string]any) bool {
	if v, ok := m["src_ip"]; ok && !sameIP(v, o.SrcIP) {
		return false
	}
	if v, ok := m["dest_ip"]; ok && !sameIP(v, o.DstIP) {
		return false
	}
	if v, ok := m["src_port"]; ok && toInt(v) != int64(o.SrcPort) {
		return false
	}
	if v, ok := m["dest_port"]; ok && toInt(v) != int64(o.DstPort) {
		return false
	}
	if v, ok := m["proto"]; ok {
		want := map[string]uint8{"TCP": 6, "UDP": 17, "ICMP": 1, "IPv6-ICMP": 58, "ESP": 50}[strings.ToUpper(fmt.Sprint(v))]
		if want != 0 && want != o.Proto {
			return false
		}
	}
	return true
}

func sameIP(v any, ip schemas.IP) bool {
	s := fmt.Sprint(v)
	a, err := netip.ParseAddr(s)
	return err == nil && schemas.IPFromAddr(a) == ip
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return -1
}

// benignExplained lists corpus flows that the analysis calls a detection
// class, with the reason; the goal is none.
var benignExplained = map[string]string{}

// TestCorpusIsBenign analyses every pcap of the corpus (real traffic, none
// of it LLM or agent traffic) and requires that no flow is called
// llm_stream, agent_shell, handoff or agent_exfil unless explained above.
// Every record produced is also validated against the JSON Schema.
func TestCorpusIsBenign(t *testing.T) {
	needCorpus(t)
	var pcaps []string
	filepath.WalkDir(corpusDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng") || strings.HasSuffix(p, ".pcap.gz")) {
			pcaps = append(pcaps, p)
		}
		return nil
	})
	profiles, err := cadence.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	an, err := cadence.NewAnalyzer(cadence.DefaultConfig(), profiles)
	if err != nil {
		t.Fatal(err)
	}
	classes := map[schemas.Class]int{}
	for _, p := range pcaps {
		src := capture.OpenMerger([]string{p})
		if errs := src.OpenErrors(); len(errs) > 0 {
			t.Fatal(errs[0])
		}
		eng, err := newEngine(engineConfig{Table: flowtable.DefaultConfig(), All: true, Analyzer: an, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		recs, err := eng.run(context.Background(), src)
		src.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		rel, _ := filepath.Rel(corpusDir, p)
		for _, r := range recs {
			if err := schemacheck.ValidateJSON(r.line); err != nil {
				t.Fatalf("%s: record does not validate: %v\n%s", rel, err, r.line)
			}
			classes[r.class]++
			if !r.class.IsDetection() {
				continue
			}
			var rec schemas.Record
			_ = json.Unmarshal(r.line, &rec)
			id := rel + " " + rec.Aegis.FlowKey
			if why, ok := benignExplained[id]; ok {
				t.Logf("explained: %s called %s: %s", id, r.class, why)
				continue
			}
			t.Errorf("benign flow called %s: %s (confidence %.2f; %s)", r.class, id, rec.Aegis.Confidence, strings.Join(rec.Aegis.Reasons, "; "))
		}
	}
	t.Logf("corpus: %d pcaps, classes %v", len(pcaps), classes)
}

// TestHumanSSHIsHumanInteractive requires the human-typed SSH sessions of
// the corpus to be classified human_interactive.
func TestHumanSSHIsHumanInteractive(t *testing.T) {
	needCorpus(t)
	pcaps, _ := filepath.Glob(filepath.Join(corpusDir, "interactive", "ssh-sshniff", "*.pcapng"))
	if len(pcaps) == 0 {
		t.Skip("no interactive SSH captures in the corpus")
	}
	profiles, _ := cadence.LoadProfiles("")
	an, err := cadence.NewAnalyzer(cadence.DefaultConfig(), profiles)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pcaps {
		var ssh []*flowtable.Flow
		for _, f := range readFlows(t, p) {
			if f.OrigTuple.Proto == schemas.ProtoTCP && f.OrigTuple.DstPort == 22 {
				ssh = append(ssh, f)
			}
		}
		if len(ssh) == 0 {
			t.Fatalf("%s: no SSH flow found", p)
		}
		for _, f := range ssh {
			res := an.Analyze(f, cadence.FlowContext{})
			if res.Class != schemas.ClassHumanInteractive {
				t.Errorf("%s %s: class %s (%.2f), want human_interactive; reasons: %s", filepath.Base(p), enrich.FlowKeyString(f.OrigTuple), res.Class, res.Confidence, strings.Join(res.Reasons, "; "))
			} else {
				t.Logf("%s: human_interactive (%.2f): %s", filepath.Base(p), res.Confidence, strings.Join(res.Reasons, "; "))
			}
		}
	}
}

func suricataTable() flowtable.Config { return flowtable.SuricataConfig() }
