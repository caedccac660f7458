package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/ingest/eve"
	"github.com/aegis-nsm/aegis/ingest/zeek"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

// encodeFile encodes msgs as one file of the named format with the fixed
// clock: header, lines, footer. It returns the file and the ids of the
// skipped messages.
func encodeFile(t testing.TB, name string, msgs []sink.Message) ([]byte, []string) {
	t.Helper()
	enc, err := NewWithOptions(name, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	out := enc.Header()
	var skipped []string
	for i := range msgs {
		out, err = enc.Append(out, &msgs[i])
		switch {
		case errors.Is(err, ErrSkipped):
			skipped = append(skipped, msgs[i].ID)
		case err != nil:
			t.Fatalf("%s: message %s: %v", name, msgs[i].ID, err)
		}
	}
	return append(out, enc.Footer()...), skipped
}

func TestGolden(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			out, skipped := encodeFile(t, name, allMessages(t))
			golden(t, name+".golden", out)
			wantSkipped := 0
			if name == Zeek {
				wantSkipped = 1 // the verdict
			}
			if len(skipped) != wantSkipped {
				t.Errorf("skipped %v, want %d", skipped, wantSkipped)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"json", Options{}, true},
		{"zeek", Options{}, true},
		{"eve", Options{}, true},
		{"zeek", Options{ZeekPath: "aegis_dev"}, true},
		{"zeek", Options{ZeekPath: "bad path"}, false},
		{"csv", Options{}, false},
		{"", Options{}, false},
	} {
		enc, err := NewWithOptions(c.name, c.opts)
		if (err == nil) != c.ok {
			t.Errorf("NewWithOptions(%q, %+v): err %v, want ok=%v", c.name, c.opts, err, c.ok)
			continue
		}
		if c.ok && enc.Name() != c.name {
			t.Errorf("Name() = %q, want %q", enc.Name(), c.name)
		}
	}
	if !Valid("eve") || Valid("EVE") {
		t.Error("Valid is wrong")
	}
}

// TestJSONLines checks the json format is the native Value, one valid
// record per line.
func TestJSONLines(t *testing.T) {
	msgs := allMessages(t)
	out, _ := encodeFile(t, JSON, msgs[:len(msgs)-1]) // detections only
	n, err := schemacheck.ValidateLines(out)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(msgs)-1 {
		t.Fatalf("%d records, want %d", n, len(msgs)-1)
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		if !bytes.Equal(line, msgs[i].Value) {
			t.Errorf("line %d is not the message's Value", i+1)
		}
	}
}

func TestJSONValueForms(t *testing.T) {
	enc, _ := New(JSON)
	r := suricataRecord()
	pretty, _ := json.MarshalIndent(r, "", "  ")
	compact, _ := json.Marshal(r)
	for _, c := range []struct {
		name    string
		m       sink.Message
		want    string
		wantErr bool
	}{
		{"pretty Value is compacted", sink.Message{Value: pretty}, string(compact) + "\n", false},
		{"empty Value takes Record", sink.Message{Record: r}, string(compact) + "\n", false},
		{"CRLF object", sink.Message{Value: []byte("{\"a\":\r\n1}")}, "{\"a\":1}\n", false},
		{"broken multi-line Value", sink.Message{Value: []byte("{\"a\":\n")}, "", true},
		{"nothing", sink.Message{Kind: sink.KindCampaign}, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := enc.Append([]byte("prefix:"), &c.m)
			if c.wantErr {
				if err == nil || errors.Is(err, ErrSkipped) {
					t.Fatalf("err = %v, want a non-skip error", err)
				}
				if string(got) != "prefix:" {
					t.Fatalf("dst changed on error: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix:"+c.want {
				t.Errorf("got %q, want %q", got, "prefix:"+c.want)
			}
		})
	}
}

// zeekFile is what a generic Zeek ASCII reader makes of a log: the header
// block and each row as column name -> raw (still escaped) field.
type zeekFile struct {
	meta   map[string]string
	fields []string
	types  []string
	rows   []map[string]string
	closed bool
}

// parseZeek reads a Zeek ASCII log the way zeek-cut does, driven by the
// header, and fails the test on any structural fault: a field count that
// does not match #fields, an unknown meta line, data before the header.
func parseZeek(t *testing.T, out []byte) zeekFile {
	t.Helper()
	z := zeekFile{meta: map[string]string{}}
	if !bytes.HasSuffix(out, []byte("\n")) {
		t.Fatal("log does not end with a newline")
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if v, ok := strings.CutPrefix(line, "#separator "); ok {
			if v != `\x09` {
				t.Fatalf("line %d: separator %q", i+1, v)
			}
			continue
		}
		if strings.HasPrefix(line, "#") {
			name, value, ok := strings.Cut(line[1:], "\t")
			if !ok {
				t.Fatalf("line %d: meta line without a tab: %q", i+1, line)
			}
			switch name {
			case "fields":
				z.fields = strings.Split(value, "\t")
			case "types":
				z.types = strings.Split(value, "\t")
			case "close":
				z.closed = true
			case "set_separator", "empty_field", "unset_field", "path", "open":
			default:
				t.Fatalf("line %d: unknown meta %q", i+1, name)
			}
			z.meta[name] = value
			continue
		}
		if z.fields == nil {
			t.Fatalf("line %d: data before #fields", i+1)
		}
		if z.closed {
			t.Fatalf("line %d: data after #close", i+1)
		}
		vals := strings.Split(line, "\t")
		if len(vals) != len(z.fields) {
			t.Fatalf("line %d: %d fields, header has %d: %q", i+1, len(vals), len(z.fields), line)
		}
		row := map[string]string{}
		for j, f := range z.fields {
			row[f] = vals[j]
		}
		z.rows = append(z.rows, row)
	}
	return z
}

// zeekUnescape decodes \xHH escapes (the only escape Zeek writes).
func zeekUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// zeekString decodes a string field: unset is "", ok=false.
func zeekString(raw string) (string, bool) {
	switch raw {
	case "-":
		return "", false
	case "(empty)":
		return "", true
	}
	return zeekUnescape(raw), true
}

// zeekList decodes a set or vector field.
func zeekList(raw string) []string {
	if raw == "(empty)" || raw == "-" {
		return nil
	}
	var out []string
	for _, e := range strings.Split(raw, ",") {
		out = append(out, zeekUnescape(e))
	}
	return out
}

// TestZeekGenericReader reads aegis.log with a header-driven generic reader
// and checks every column of every row against the record it came from,
// byte for byte after unescaping (hostile SNI and reasons included).
func TestZeekGenericReader(t *testing.T) {
	msgs := allMessages(t)
	out, _ := encodeFile(t, Zeek, msgs)
	z := parseZeek(t, out)
	names, types := ZeekColumns()
	if !reflect.DeepEqual(z.fields, names) || !reflect.DeepEqual(z.types, types) {
		t.Fatalf("#fields/#types\n%v\n%v\nwant\n%v\n%v", z.fields, z.types, names, types)
	}
	if z.meta["path"] != "aegis" || z.meta["set_separator"] != "," || z.meta["empty_field"] != "(empty)" ||
		z.meta["unset_field"] != "-" || z.meta["open"] != "2026-03-02-09-30-00" || !z.closed {
		t.Fatalf("meta lines: %v closed=%v", z.meta, z.closed)
	}
	recs := msgs[:len(msgs)-1] // the verdict is skipped
	if len(z.rows) != len(recs) {
		t.Fatalf("%d rows, want %d", len(z.rows), len(recs))
	}
	for i, row := range z.rows {
		r := recs[i].Record
		t.Run(r.Event.ID, func(t *testing.T) {
			ts, _ := time.Parse(time.RFC3339Nano, r.Timestamp)
			str := func(col string) string {
				s, _ := zeekString(row[col])
				return s
			}
			uid := ""
			if r.Aegis.IDS != nil {
				uid = r.Aegis.IDS.UID
			}
			sni := ""
			if r.TLS != nil {
				sni = r.TLS.Client.ServerName
			}
			var rules []string
			for _, h := range r.Aegis.Rules {
				rules = append(rules, h.ID)
			}
			checks := []struct {
				col       string
				got, want any
			}{
				{"ts", row["ts"], fmt.Sprintf("%d.%06d", ts.Unix(), ts.Nanosecond()/1000)},
				{"uid", str("uid"), uid},
				{"id.orig_h", row["id.orig_h"], r.Source.IP},
				{"id.orig_p", row["id.orig_p"], strconv.Itoa(int(r.Source.Port))},
				{"id.resp_h", row["id.resp_h"], r.Destination.IP},
				{"id.resp_p", row["id.resp_p"], strconv.Itoa(int(r.Destination.Port))},
				{"proto", row["proto"], r.Network.Transport},
				{"service", str("service"), r.Network.Protocol},
				{"community_id", str("community_id"), r.Network.CommunityID},
				{"record_id", str("record_id"), r.Event.ID},
				{"class", str("class"), string(r.Aegis.Class)},
				{"severity", str("severity"), r.Aegis.Severity},
				{"severity_score", row["severity_score"], strconv.Itoa(r.Event.Severity)},
				{"route", str("route"), r.Aegis.Route.Name},
				{"route_sni", str("route_sni"), r.Aegis.Route.SNI},
				{"server_name", str("server_name"), sni},
				{"rules", zeekList(row["rules"]), rules},
				{"techniques", zeekList(row["techniques"]), techniques(r)},
				{"reasons", zeekList(row["reasons"]), r.Aegis.Reasons},
			}
			for _, c := range checks {
				if fmt.Sprintf("%q", c.got) != fmt.Sprintf("%q", c.want) {
					t.Errorf("%s = %q, want %q", c.col, c.got, c.want)
				}
			}
			for _, col := range []string{"confidence", "route_score", "duration"} {
				got, err := strconv.ParseFloat(row[col], 64)
				want := map[string]float64{"confidence": r.Aegis.Confidence, "route_score": r.Aegis.Route.Score,
					"duration": float64(r.Event.Duration/1000) / 1e6}[col]
				if err != nil || got-want > 1e-6 || want-got > 1e-6 {
					t.Errorf("%s = %q, want %v", col, row[col], want)
				}
			}
		})
	}
}

// TestZeekRepoReader decodes aegis.log with the repo's own Zeek reader
// (ingest/zeek), once as conn records (ConnPaths aegis: ts, uid, 4-tuple,
// proto, service, duration, community_id) and once as ssl records
// (SSLPaths aegis: uid and server_name), and checks they round-trip.
func TestZeekRepoReader(t *testing.T) {
	msgs := allMessages(t)
	out, _ := encodeFile(t, Zeek, msgs)
	recs := msgs[:len(msgs)-1]

	flows, st, err := zeek.Read(bytes.NewReader(out), "aegis.log", zeek.Config{ConnPaths: []string{"aegis"}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Bad != 0 || len(flows) != len(recs) {
		t.Fatalf("conn decode: %d flows (want %d), stats %v", len(flows), len(recs), st)
	}
	for i, f := range flows {
		r := recs[i].Record
		ts, _ := time.Parse(time.RFC3339Nano, r.Timestamp)
		startUS := ts.UnixNano() / 1000 * 1000
		uid := ""
		if r.Aegis.IDS != nil {
			uid = r.Aegis.IDS.UID
		}
		wantProto := map[string]uint8{"tcp": 6, "udp": 17}[r.Network.Transport]
		if f.UID != uid || f.Orig != netip.MustParseAddrPort(addrPort(r.Source)) ||
			f.Resp != netip.MustParseAddrPort(addrPort(r.Destination)) || f.Proto != wantProto ||
			f.CommunityID != r.Network.CommunityID || f.Service != r.Network.Protocol || f.Start != startUS ||
			f.End != startUS+r.Event.Duration/1000*1000 {
			t.Errorf("record %s: decoded %+v", r.Event.ID, f)
		}
	}

	// As an ssl log: server_name round-trips through escaping. The reader
	// repairs invalid UTF-8 (one U+FFFD per bad byte), so compare with that.
	d, err := zeek.NewDecoder("aegis.log", zeek.Config{SSLPaths: []string{"aegis"}})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for line := range bytes.Lines(out) {
		res, err := d.Decode(line)
		if err != nil {
			t.Fatalf("line %d: %v", d.Line(), err)
		}
		if res.Kind != zeek.KindSSL {
			continue
		}
		r := recs[i].Record
		i++
		want := ""
		if r.TLS != nil {
			want = strings.ToValidUTF8(r.TLS.Client.ServerName, "\uFFFD")
		}
		if res.SSL.ServerName != want {
			t.Errorf("record %s: server_name %q, want %q", r.Event.ID, res.SSL.ServerName, want)
		}
	}
	if i != len(recs) {
		t.Fatalf("%d ssl rows, want %d", i, len(recs))
	}
	if d.Stats().InvalidUTF8 != 1 {
		t.Errorf("InvalidUTF8 = %d, want 1 (the hostile SNI)", d.Stats().InvalidUTF8)
	}
	if !d.Closed() {
		t.Error("the reader did not see #close")
	}
}

func addrPort(e schemas.Endpoint) string {
	return netip.AddrPortFrom(netip.MustParseAddr(e.IP), e.Port).String()
}

// TestZeekEscape checks hostile strings: the escaped form holds no
// separator, newline or raw control byte, and unescapes to the input.
func TestZeekEscape(t *testing.T) {
	for _, c := range []struct {
		in, plain, set string
	}{
		{"api.openai.com", "api.openai.com", "api.openai.com"},
		{"a\tb", `a\x09b`, `a\x09b`},
		{"a\nb\r", `a\x0ab\x0d`, `a\x0ab\x0d`},
		{"a,b", "a,b", `a\x2cb`},
		{"-", `\x2d`, `\x2d`},
		{"(empty)", `\x28empty)`, `\x28empty)`},
		{"--", "--", "--"},
		{`\x41`, `\x5cx41`, `\x5cx41`},
		{"\xff\xfe", `\xff\xfe`, `\xff\xfe`},
		{"caf\xc3", `caf\xc3`, `caf\xc3`},
		{"café", "café", "café"},
		{"日本.example", "日本.example", "日本.example"},
		{"x\u202ey", `x\xe2\x80\xaey`, `x\xe2\x80\xaey`},
		{"x\u2028y", `x\xe2\x80\xa8y`, `x\xe2\x80\xa8y`},
		{"x\u0085y", `x\xc2\x85y`, `x\xc2\x85y`},
		{"\x00\x7f", `\x00\x7f`, `\x00\x7f`},
		{"#fields", "#fields", "#fields"},
		{hostileSNI, "", ""},
	} {
		plain, set := ZeekEscape(c.in, false), ZeekEscape(c.in, true)
		if c.plain != "" && (plain != c.plain || set != c.set) {
			t.Errorf("ZeekEscape(%q) = %q / %q (set), want %q / %q", c.in, plain, set, c.plain, c.set)
		}
		for _, esc := range []string{plain, set} {
			if strings.ContainsAny(esc, "\t\n\r\x00\x7f") {
				t.Errorf("ZeekEscape(%q) = %q holds a raw control byte", c.in, esc)
			}
			if got := zeekUnescape(esc); got != c.in {
				t.Errorf("unescape(ZeekEscape(%q)) = %q", c.in, got)
			}
		}
		if strings.Contains(set, ",") {
			t.Errorf("set element %q holds a raw comma", set)
		}
	}
}

func TestZeekNumbers(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{0, "0.0"}, {1, "1.0"}, {0.97, "0.97"}, {0.805, "0.805"}, {0.1234567, "0.123457"},
		{12, "12.0"}, {-0.0000001, "0.0"}, {-2.5, "-2.5"},
	} {
		if got := string(appendZeekDouble(nil, c.f)); got != c.want {
			t.Errorf("double %v = %q, want %q", c.f, got, c.want)
		}
	}
	for _, c := range []struct {
		ns   int64
		want string
	}{
		{0, "0.000000"}, {1, "0.000000"}, {1500, "0.000001"}, {2242969318, "2.242969"},
		{1772442003299809302, "1772442003.299809"}, {-1, "-"},
	} {
		if got := string(appendZeekNanos(nil, c.ns)); got != c.want {
			t.Errorf("nanos %d = %q, want %q", c.ns, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"tcp", "tcp"}, {"udp", "udp"}, {"icmp", "icmp"}, {"ipv6-icmp", "icmp"}, {"sctp", "unknown_transport"}, {"47", "unknown_transport"},
	} {
		if got := zeekProto(c.in); got != c.want {
			t.Errorf("zeekProto(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestZeekBadRecord(t *testing.T) {
	enc, _ := New(Zeek)
	r := suricataRecord()
	r.Timestamp = "yesterday"
	got, err := enc.Append(nil, &sink.Message{Kind: sink.KindDetection, Record: r, ID: r.Event.ID})
	if err == nil || errors.Is(err, ErrSkipped) || len(got) != 0 {
		t.Fatalf("bad timestamp: %q, %v", got, err)
	}
	if !enc.Accepts(sink.KindDetection) || enc.Accepts(sink.KindVerdict) {
		t.Error("zeek Accepts is wrong")
	}
}

var eveTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$`)

// TestEVE checks the eve events: the repo's EVE decoder accepts each line
// (as an event type it skips, like any other a pipeline does not know),
// and, read as a flow and as a tls event, gives back the 5-tuple,
// flow_id, times and SNI; the aegis object holds the native section.
func TestEVE(t *testing.T) {
	msgs := allMessages(t)
	out, _ := encodeFile(t, EVE, msgs)
	lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	if len(lines) != len(msgs) {
		t.Fatalf("%d lines, want %d", len(lines), len(msgs))
	}
	for i, line := range lines {
		m := &msgs[i]
		t.Run(m.ID, func(t *testing.T) {
			d, err := eve.NewDecoder("eve.json", eve.Config{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := d.Decode(line)
			if err != nil {
				t.Fatalf("EVE decoder rejects the line: %v", err)
			}
			wantType := "aegis"
			if m.Record == nil {
				wantType = "aegis_verdict"
			}
			if res.Kind != eve.KindSkipped || res.EventType != wantType {
				t.Fatalf("decoded as %v %q, want skipped %q", res.Kind, res.EventType, wantType)
			}
			var ev struct {
				Timestamp string          `json:"timestamp"`
				FlowID    *uint64         `json:"flow_id"`
				EventType string          `json:"event_type"`
				SrcIP     string          `json:"src_ip"`
				Proto     string          `json:"proto"`
				Aegis     json.RawMessage `json:"aegis"`
			}
			if err := json.Unmarshal(line, &ev); err != nil {
				t.Fatal(err)
			}
			if !eveTimeRE.MatchString(ev.Timestamp) {
				t.Errorf("timestamp %q is not Suricata's format", ev.Timestamp)
			}
			if m.Record == nil {
				if !bytes.Equal(ev.Aegis, m.Value) || ev.SrcIP != m.SourceIP || ev.Timestamp != "2026-03-02T09:06:00.000000+0000" {
					t.Errorf("verdict event: %s", line)
				}
				return
			}
			r := m.Record
			// The aegis object is the native section plus id, kind, score
			// and threat.
			var sec schemas.AegisSection
			if err := json.Unmarshal(ev.Aegis, &sec); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sec, r.Aegis) {
				t.Errorf("aegis section differs:\n%+v\n%+v", sec, r.Aegis)
			}
			var extra struct {
				ID       string          `json:"id"`
				Kind     string          `json:"event_kind"`
				Score    int             `json:"severity_score"`
				Threat   *schemas.Threat `json:"threat"`
				RawClass string          `json:"class"`
			}
			_ = json.Unmarshal(ev.Aegis, &extra)
			if extra.ID != r.Event.ID || extra.Kind != r.Event.Kind || extra.Score != r.Event.Severity || !reflect.DeepEqual(extra.Threat, r.Threat) {
				t.Errorf("aegis extras %+v", extra)
			}
			wantFlowID := uint64(0)
			if r.Aegis.IDS != nil {
				wantFlowID = r.Aegis.IDS.FlowID
			}
			if (ev.FlowID == nil) != (wantFlowID == 0) || (ev.FlowID != nil && *ev.FlowID != wantFlowID) {
				t.Errorf("flow_id %v, want %d", ev.FlowID, wantFlowID)
			}

			// Read as a flow event by the repo's decoder.
			flowLine := bytes.Replace(line, []byte(`"event_type":"aegis"`), []byte(`"event_type":"flow"`), 1)
			res, err = d.Decode(flowLine)
			if err != nil || res.Kind != eve.KindFlow {
				t.Fatalf("as a flow event: %v %v", res.Kind, err)
			}
			f := res.Flow
			ts, _ := time.Parse(time.RFC3339Nano, r.Timestamp)
			end, _ := time.Parse(time.RFC3339Nano, r.Event.End)
			if f.FlowID != wantFlowID || f.Orig.String() != addrPort(r.Source) || f.Resp.String() != addrPort(r.Destination) ||
				f.Proto != 6 || f.CommunityID != r.Network.CommunityID || f.Service != r.Network.Protocol ||
				f.Start != ts.UnixNano()/1000*1000 || f.End != end.UnixNano()/1000*1000 ||
				f.OrigPkts != r.Source.Packets || f.RespBytes != r.Destination.Bytes {
				t.Errorf("as a flow event: %+v", f)
			}
			// Read as a tls event: the SNI and flow_id join it to the flow.
			if r.TLS != nil {
				tlsLine := bytes.Replace(line, []byte(`"event_type":"aegis"`), []byte(`"event_type":"tls"`), 1)
				res, err = d.Decode(tlsLine)
				if err != nil || res.Kind != eve.KindContext {
					t.Fatalf("as a tls event: %v %v", res.Kind, err)
				}
				want := strings.ToValidUTF8(r.TLS.Client.ServerName, "\uFFFD")
				if res.Context.SNI != want || res.Context.FlowID != wantFlowID {
					t.Errorf("as a tls event: sni %q flow_id %d, want %q %d", res.Context.SNI, res.Context.FlowID, want, wantFlowID)
				}
			}
		})
	}
}

func TestEVEOther(t *testing.T) {
	enc, _ := NewWithOptions(EVE, Options{Now: fixedNow})
	for _, c := range []struct {
		name, value, want string
	}{
		{"rfc3339 timestamp", `{"@timestamp":"2026-03-02T10:00:00.5+01:00","x":1}`,
			`{"timestamp":"2026-03-02T09:00:00.500000+0000","event_type":"aegis_coupling","src_ip":"10.0.0.1","aegis":{"@timestamp":"2026-03-02T10:00:00.5+01:00","x":1}}` + "\n"},
		{"suricata timestamp", `{"timestamp":"2026-03-02T10:00:00.000001+0100"}`,
			`{"timestamp":"2026-03-02T09:00:00.000001+0000","event_type":"aegis_coupling","src_ip":"10.0.0.1","aegis":{"timestamp":"2026-03-02T10:00:00.000001+0100"}}` + "\n"},
		{"no timestamp: the clock", `["not","an","object"]`,
			`{"timestamp":"2026-03-02T09:30:00.000000+0000","event_type":"aegis_coupling","src_ip":"10.0.0.1","aegis":["not","an","object"]}` + "\n"},
		{"not JSON", `{"x":`, ""},
		{"empty", ``, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := sink.Message{Kind: sink.KindCoupling, Value: []byte(c.value), SourceIP: "10.0.0.1"}
			got, err := enc.Append(nil, &m)
			if c.want == "" {
				if err == nil {
					t.Fatalf("accepted %q: %s", c.value, got)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("got %s (%v)\nwant %s", got, err, c.want)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", hostileSNI, "q\"b\\s\x01\u2029", "\xc3(", "日本"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q -> %s decodes to %q, encoding/json gives %q", s, got, back, wantBack)
		}
	}
}

// TestConcurrentUse runs every encoder from several goroutines (for -race)
// and checks each goroutine gets the same bytes.
func TestConcurrentUse(t *testing.T) {
	msgs := allMessages(t)
	for _, name := range Names() {
		enc, _ := NewWithOptions(name, Options{Now: fixedNow})
		var want []byte
		for i := range msgs {
			want, _ = enc.Append(want, &msgs[i])
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 20 {
					var got []byte
					for i := range msgs {
						got, _ = enc.Append(got, &msgs[i])
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s: concurrent output differs", name)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

func benchmarkEncode(b *testing.B, name string) {
	enc, err := New(name)
	if err != nil {
		b.Fatal(err)
	}
	m := fixtures(b)[0]
	buf, _ := enc.Append(nil, &m)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, err = enc.Append(buf[:0], &m)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeJSON(b *testing.B) { benchmarkEncode(b, JSON) }
func BenchmarkEncodeZeek(b *testing.B) { benchmarkEncode(b, Zeek) }
func BenchmarkEncodeEVE(b *testing.B)  { benchmarkEncode(b, EVE) }
