package eve

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
	"github.com/aegis-nsm/aegis/schemas"
)

// A suricata-verify check: a filter that requires count events whose
// dotted fields equal the match values.
type verifyFilter struct {
	file  string
	line  int
	count int
	match []verifyKV
}

type verifyKV struct {
	key, value string
	quoted     bool
}

// readTestYAML reads the "checks" filters of a suricata-verify test.yaml.
// It understands just the shape those files have (block mappings, scalar
// values, quoted or plain, plain values folded over several lines), so the
// test needs no YAML library.
func readTestYAML(t *testing.T, path string) []verifyFilter {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out         []verifyFilter
		cur         *verifyFilter
		matchIndent = -1 // indent of "match:"; entries are deeper
		entryIndent = -1
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		text := strings.TrimSpace(raw)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " "))
		if strings.HasPrefix(text, "- filter:") {
			out = append(out, verifyFilter{file: path, line: n})
			cur = &out[len(out)-1]
			matchIndent, entryIndent = -1, -1
			continue
		}
		if cur == nil {
			continue
		}
		if matchIndent >= 0 && indent > matchIndent {
			if entryIndent < 0 {
				entryIndent = indent
			}
			if indent > entryIndent && len(cur.match) > 0 { // folded plain scalar
				kv := &cur.match[len(cur.match)-1]
				kv.value += " " + text
				continue
			}
			key, value, _ := strings.Cut(text, ":")
			value = strings.TrimSpace(value)
			kv := verifyKV{key: key, value: value}
			if len(value) >= 2 && (value[0] == '\'' || value[0] == '"') {
				kv.quoted = true
				if value[0] == '"' {
					kv.value, _ = strconv.Unquote(value)
				} else {
					kv.value = strings.ReplaceAll(value[1:len(value)-1], "''", "'")
				}
			}
			cur.match = append(cur.match, kv)
			continue
		}
		matchIndent = -1
		switch {
		case text == "match:":
			matchIndent, entryIndent = indent, -1
		case strings.HasPrefix(text, "count:"):
			cur.count, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(text, "count:")))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (f verifyFilter) get(key string) (string, bool) {
	for _, kv := range f.match {
		if kv.key == key {
			return kv.value, true
		}
	}
	return "", false
}

// eveLine builds the EVE event a filter describes: its match values as
// nested JSON, plus the fields Suricata always writes that a partial
// expectation leaves out (timestamp, flow_id), from extra.
func (f verifyFilter) eveLine(t *testing.T, extra map[string]any) []byte {
	t.Helper()
	obj := map[string]any{}
	set := func(key string, v any) {
		m := obj
		parts := strings.Split(key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	for k, v := range extra {
		set(k, v)
	}
	for _, kv := range f.match {
		if strings.ContainsAny(kv.key, "[]") {
			continue // array paths (dns.queries[0]...) are not needed here
		}
		var v any = kv.value
		if !kv.quoted {
			if kv.value == "true" || kv.value == "false" {
				v = kv.value == "true"
			} else if _, err := strconv.ParseUint(kv.value, 10, 64); err == nil {
				v = json.Number(kv.value)
			}
		}
		set(kv.key, v)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// protoNumbers is the reference mapping of the proto names in the tests.
var protoNumbers = map[string]uint8{"TCP": 6, "UDP": 17, "ICMP": 1, "IPv6-ICMP": 58, "SCTP": 132, "ESP": 50, "GRE": 47}

// TestSuricataVerifyFlows decodes an EVE flow event built from every flow
// expectation in the corpus's suricata-verify test.yaml files, and checks
// each expected field against the decoded IDSFlow.
func TestSuricataVerifyFlows(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(logscantest.Corpus(t, "suricata"), "*", "test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var flows, netflows, checked int
	for _, path := range files {
		for i, flt := range readTestYAML(t, path) {
			et, _ := flt.get("event_type")
			if et != "flow" && et != "netflow" {
				continue
			}
			name := fmt.Sprintf("%s/%d", filepath.Base(filepath.Dir(path)), i)
			d := newTestDecoder(t)
			// The expectations are partial: fields Suricata always writes
			// may be left out. Stand-ins fill them; the match values win.
			line := flt.eveLine(t, map[string]any{
				"timestamp": "2020-01-01T00:00:00.000000+0000",
				"flow_id":   json.Number("1234567890123456"),
				"src_ip":    "192.0.2.1",
				"dest_ip":   "192.0.2.2",
			})
			res, err := d.Decode(line)
			if err != nil {
				t.Errorf("%s: %s: %v", name, line, err)
				continue
			}
			if et == "netflow" {
				netflows++
				if res.Kind != KindSkipped || res.EventType != "netflow" {
					t.Errorf("%s: netflow decoded as %v", name, res.Kind)
				}
				continue
			}
			flows++
			f := res.Flow
			if res.Kind != KindFlow || f.FlowID != 1234567890123456 || f.OrigIPBytes != -1 {
				t.Errorf("%s: %v %+v", name, res.Kind, f)
				continue
			}
			_, hasStart := flt.get("flow.start")
			_, hasEnd := flt.get("flow.end")
			for _, kv := range flt.match {
				var ok bool
				switch v := kv.value; kv.key {
				case "src_ip":
					ok = f.Orig.Addr() == netip.MustParseAddr(v)
				case "dest_ip":
					ok = f.Resp.Addr() == netip.MustParseAddr(v)
				case "src_port", "icmp_type":
					ok = strconv.Itoa(int(f.Orig.Port())) == v
				case "dest_port":
					ok = strconv.Itoa(int(f.Resp.Port())) == v
				case "proto":
					ok = f.Proto == protoNumbers[v]
				case "app_proto":
					ok = f.Service == v
				case "community_id":
					ok = f.CommunityID == v
				case "flow.pkts_toserver":
					ok = strconv.FormatInt(f.OrigPkts, 10) == v
				case "flow.pkts_toclient":
					ok = strconv.FormatInt(f.RespPkts, 10) == v
				case "flow.bytes_toserver":
					ok = strconv.FormatInt(f.OrigBytes, 10) == v
				case "flow.bytes_toclient":
					ok = strconv.FormatInt(f.RespBytes, 10) == v
				case "flow.state":
					ok = f.ConnState == v
				case "flow.start":
					ok = f.Start == ts(v)
				case "flow.end":
					ok = f.End == ts(v)
				case "flow.age":
					if !hasStart || !hasEnd {
						continue
					}
					ok = strconv.FormatInt((f.End-f.Start)/int64(time.Second), 10) == v
				default:
					continue // not an IDSFlow field
				}
				checked++
				if !ok {
					t.Errorf("%s: %s = %s, decoded %+v", name, kv.key, kv.value, f)
				}
			}
		}
	}
	if flows < 25 || netflows < 4 || checked < 250 {
		t.Errorf("only %d flow and %d netflow expectations, %d values checked", flows, netflows, checked)
	}
	t.Logf("%d flow and %d netflow expectations, %d values checked", flows, netflows, checked)
}

// TestSuricataVerifyContext decodes an EVE event built from every tls, ssh,
// quic, http and alert expectation in the corpus's suricata-verify
// test.yaml files and checks each expected field that Aegis keeps against
// the decoded ContextRecord, then joins it to a flow event of the same
// flow_id and checks the IDSFlow.
func TestSuricataVerifyContext(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(logscantest.Corpus(t, "suricata"), "*", "test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]int{}
	checked := 0
	for _, path := range files {
		for i, flt := range readTestYAML(t, path) {
			et, _ := flt.get("event_type")
			switch et {
			case "tls", "ssh", "quic", "http", "alert":
			default:
				continue
			}
			name := fmt.Sprintf("%s/%d", filepath.Base(filepath.Dir(path)), i)
			line := flt.eveLine(t, map[string]any{
				"timestamp": "2020-01-01T00:00:00.000000+0000",
				"flow_id":   json.Number("1234567890123456"),
				"src_ip":    "192.0.2.1",
				"dest_ip":   "192.0.2.2",
			})
			d := newTestDecoder(t)
			res, err := d.Decode(line)
			if err != nil {
				t.Errorf("%s: %s: %v", name, line, err)
				continue
			}
			c := res.Context
			if res.Kind != KindContext || c.FlowID != 1234567890123456 {
				t.Errorf("%s: %v %+v", name, res.Kind, c)
				continue
			}
			events[et]++
			var a schemas.IDSAlert
			if et == "alert" {
				if len(c.Alerts) != 1 {
					t.Fatalf("%s: alerts %+v", name, c.Alerts)
				}
				a = c.Alerts[0]
			}
			for _, kv := range flt.match {
				var got string
				switch kv.key {
				case "tls.sni", "quic.sni":
					got = c.SNI
				case "tls.version":
					got = c.TLSVersion
				case "tls.ja3.hash", "quic.ja3.hash":
					got = c.JA3
				case "tls.ja3s.hash", "quic.ja3s.hash":
					got = c.JA3S
				case "tls.ja4", "quic.ja4":
					got = c.JA4
				case "ssh.client.software_version":
					got = c.SSHClient
				case "ssh.server.software_version":
					got = c.SSHServer
				case "http.hostname":
					got = c.HTTPHost
				case "http.http_user_agent":
					got = c.HTTPUserAgent
				case "http.url":
					got = c.HTTPURL
				case "alert.signature_id":
					got = strconv.FormatInt(a.SignatureID, 10)
				case "alert.gid":
					got = strconv.FormatInt(a.GID, 10)
				case "alert.rev":
					got = strconv.FormatInt(a.Rev, 10)
				case "alert.signature":
					got = a.Signature
				case "alert.category":
					got = a.Category
				case "alert.severity":
					got = strconv.Itoa(a.Severity)
				case "alert.action":
					got = a.Action
				default:
					continue
				}
				checked++
				if got != kv.value {
					t.Errorf("%s: %s = %q, decoded %q", name, kv.key, kv.value, got)
				}
			}
			// Joined to its flow by flow_id.
			flow := flowWith(`"flow_id":1234567890123456`)
			flows, st, err := Read(strings.NewReader(flow+"\n"+string(line)+"\n"), "eve.json", Config{})
			if err != nil || len(flows) != 1 || st.ContextMatched != 1 {
				t.Fatalf("%s: join: %v %v", name, err, st)
			}
			f := flows[0]
			fc := f.Ctx()
			if f.SNI != c.SNI || fc.TLSVersion != c.TLSVersion || fc.JA3 != c.JA3 || fc.JA4 != c.JA4 || fc.SSHClient != c.SSHClient ||
				fc.SSHServer != c.SSHServer || fc.HTTPHost != c.HTTPHost || len(fc.Alerts) != len(c.Alerts) {
				t.Errorf("%s: joined flow %+v, context %+v", name, f, c)
			}
		}
	}
	if events["tls"] < 4 || events["ssh"] < 2 || events["alert"] < 100 || checked < 150 {
		t.Errorf("events %v, %d values checked", events, checked)
	}
	t.Logf("events %v, %d values checked", events, checked)
}
