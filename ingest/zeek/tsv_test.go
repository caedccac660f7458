package zeek

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

func TestTSVRow(t *testing.T) {
	d := newTestDecoder(t, Config{})
	feed(t, d, connHeader)
	res := feed(t, d, []string{connRow})[0]
	want := schemas.IDSFlow{
		Sensor: schemas.SensorZeek, File: "test.log", Line: 9,
		Start: 1300475167_096535000, End: 1300475167_096535000 + 435000,
		UID: "CHhAvVGS1DHFjwGM9", Orig: ap("141.142.220.202:5353"), Resp: ap("224.0.0.251:5353"),
		Proto: 17, Service: "dns", ConnState: "SF", History: "Dd",
		OrigPkts: 1, RespPkts: 1, OrigBytes: 38, RespBytes: 89, OrigIPBytes: 66, RespIPBytes: 117,
	}
	if res.Kind != KindConn || res.Path != "conn" || !reflect.DeepEqual(res.Flow, want) {
		t.Errorf("got %v %q %+v\nwant %+v", res.Kind, res.Path, res.Flow, want)
	}
	if d.Path() != "conn" || len(d.Fields()) != 22 || d.Line() != 9 {
		t.Errorf("Path %q, %d fields, line %d", d.Path(), len(d.Fields()), d.Line())
	}
}

func TestTSVFieldValues(t *testing.T) {
	tests := []struct {
		name  string
		col   int
		value string
		check func(f schemas.IDSFlow) bool
	}{
		{"escaped tab in service", 7, `a\x09b`, func(f schemas.IDSFlow) bool { return f.Service == "a\tb" }},
		{"escaped dash is a value, not unset", 15, `\x2d`, func(f schemas.IDSFlow) bool { return f.History == "-" }},
		{"unset history", 15, "-", func(f schemas.IDSFlow) bool { return f.History == "" }},
		{"empty service", 7, "(empty)", func(f schemas.IDSFlow) bool { return f.Service == "" }},
		{"backslash not an escape", 7, `a\b`, func(f schemas.IDSFlow) bool { return f.Service == `a\b` }},
		{"unset duration", 8, "-", func(f schemas.IDSFlow) bool { return f.End == f.Start }},
		{"unset orig_bytes", 9, "-", func(f schemas.IDSFlow) bool { return f.OrigBytes == 0 }},
		{"unset orig_ip_bytes", 17, "-", func(f schemas.IDSFlow) bool { return f.OrigIPBytes == -1 }},
		{"unset resp_ip_bytes", 19, "-", func(f schemas.IDSFlow) bool { return f.RespIPBytes == -1 }},
		{"tunnel parents", 20, "CAbc,CDef", func(f schemas.IDSFlow) bool { return f.Tunnelled }},
		{"empty tunnel parents", 20, "(empty)", func(f schemas.IDSFlow) bool { return !f.Tunnelled }},
		{"icmp over IPv4", 6, "icmp", func(f schemas.IDSFlow) bool { return f.Proto == 1 }},
		{"tcp", 6, "tcp", func(f schemas.IDSFlow) bool { return f.Proto == 6 }},
		{"unknown_transport", 6, "unknown_transport", func(f schemas.IDSFlow) bool { return f.Proto == 17 }}, // from ip_proto
		{"masked ts", 0, "XXXXXXXXXX.XXXXXX", func(f schemas.IDSFlow) bool { return f.Start == 0 && f.End == 435000 }},
		{"ts with exponent", 0, "1.300475167096535e9", func(f schemas.IDSFlow) bool { return f.Start == 1300475167_096535000 }},
		{"IPv4-mapped IPv6", 2, "::ffff:10.1.2.3", func(f schemas.IDSFlow) bool { return f.Orig.Addr() == netip.MustParseAddr("::ffff:10.1.2.3") }},
		{"zone", 2, "fe80::1%eth0", func(f schemas.IDSFlow) bool { return f.Orig.Addr().Zone() == "eth0" }},
		{"ip_proto unset", 21, "-", func(f schemas.IDSFlow) bool { return f.Proto == 17 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDecoder(t, Config{})
			feed(t, d, connHeader)
			res := feed(t, d, []string{row(tt.col, tt.value)})[0]
			if res.Kind != KindConn || !tt.check(res.Flow) {
				t.Errorf("%s=%q: got %+v", strings.Split(connHeader[6], "\t")[tt.col+1], tt.value, res.Flow)
			}
		})
	}
}

func TestTSVFieldErrors(t *testing.T) {
	tests := []struct {
		col    int
		value  string
		field  string
		reason Reason
	}{
		{0, "-", "ts", ReasonMissingField},
		{0, "XXXXXXXXXX", "ts", ReasonBadTimestamp}, // only the exact btest mask is accepted
		{0, "XXXXXXXXXX.XXXXXY", "ts", ReasonBadTimestamp},
		{0, "-5.0", "ts", ReasonBadTimestamp},
		{2, "-", "id.orig_h", ReasonMissingField},
		{2, "141.142.220", "id.orig_h", ReasonBadAddress},
		{4, "host.example", "id.resp_h", ReasonBadAddress},
		{3, "65536", "id.orig_p", ReasonBadPort},
		{5, "-", "id.resp_p", ReasonMissingField},
		{8, "0.5s", "duration", ReasonBadNumber},
		{10, "-3", "resp_bytes", ReasonBadNumber},
		{16, "1.0", "orig_pkts", ReasonBadNumber},
		{19, "99999999999999999999", "resp_ip_bytes", ReasonBadNumber},
		{21, "256", "ip_proto", ReasonBadNumber},
	}
	for _, tt := range tests {
		d := newTestDecoder(t, Config{})
		feed(t, d, connHeader)
		_, err := d.Decode([]byte(row(tt.col, tt.value)))
		var le *LineError
		if !errors.As(err, &le) || le.Field != tt.field || le.Reason != tt.reason || le.Line != 9 {
			t.Errorf("%s=%q: err = %v, want field %s reason %s", tt.field, tt.value, err, tt.field, tt.reason)
		}
	}
}

func TestTSVCustomSeparators(t *testing.T) {
	// Log::separator="|", set_separator=";", empty_field="EMPTY",
	// unset_field="NONE", as a site might redef them.
	d := newTestDecoder(t, Config{})
	res := feed(t, d, []string{
		`#separator \x7c`,
		"#set_separator|;",
		"#empty_field|EMPTY",
		"#unset_field|NONE",
		"#path|conn",
		"#fields|ts|uid|id.orig_h|id.orig_p|id.resp_h|id.resp_p|proto|service|duration|tunnel_parents|history",
		"#types|time|string|addr|port|addr|port|enum|string|interval|set[string]|string",
		`1.5|CSep|10.0.0.1|1|10.0.0.2|2|tcp|a\x7cb|NONE|CA;CB|-`,
		`2.5|CSep2|10.0.0.1|1|10.0.0.2|2|tcp|EMPTY|0.25|EMPTY|NONE`,
	})
	f, g := res[7].Flow, res[8].Flow
	if f.Service != "a|b" || f.End != f.Start || !f.Tunnelled || f.History != "-" || f.OrigIPBytes != -1 {
		t.Errorf("row 1: %+v", f)
	}
	if g.Service != "" || g.End-g.Start != 250_000_000 || g.Tunnelled || g.History != "" {
		t.Errorf("row 2: %+v", g)
	}
}

func TestTSVMultiByteSeparator(t *testing.T) {
	d := newTestDecoder(t, Config{})
	res := feed(t, d, []string{
		`#separator \x3a\x3a`,
		"#path::conn",
		"#fields::ts::uid::id.orig_h::id.orig_p::id.resp_h::id.resp_p::proto",
		"1.5::CSep::10.0.0.1::1::10.0.0.2::2::udp",
	})
	if f := res[3].Flow; f.UID != "CSep" || f.Resp != ap("10.0.0.2:2") || f.Proto != 17 {
		t.Errorf("got %+v", f)
	}
}

func TestTSVHeaderHandling(t *testing.T) {
	t.Run("no #path: kind from the columns", func(t *testing.T) {
		d := newTestDecoder(t, Config{})
		var lines []string
		for _, l := range connHeader {
			if !strings.HasPrefix(l, "#path") {
				lines = append(lines, l)
			}
		}
		res := feed(t, d, append(lines, connRow))
		if r := res[len(res)-1]; r.Kind != KindConn || r.Path != "conn" {
			t.Errorf("got %v %q", r.Kind, r.Path)
		}
	})
	t.Run("#types count mismatch is reported, the header still used", func(t *testing.T) {
		d := newTestDecoder(t, Config{})
		feed(t, d, connHeader[:7])
		_, err := d.Decode([]byte("#types\ttime\tstring"))
		var le *LineError
		if !errors.As(err, &le) || le.Reason != ReasonBadHeader || le.Field != "#types" {
			t.Fatalf("err = %v", err)
		}
		if res := feed(t, d, []string{connRow})[0]; res.Kind != KindConn {
			t.Errorf("got %v", res.Kind)
		}
	})
	t.Run("a column the record needs is missing", func(t *testing.T) {
		d := newTestDecoder(t, Config{})
		feed(t, d, []string{`#separator \x09`, "#path\tconn", "#fields\tts\tuid\tid.orig_p\tid.resp_h\tid.resp_p\tconn_state"})
		_, err := d.Decode([]byte("1.0\tC1\t1\t10.0.0.2\t2\tSF"))
		var le *LineError
		if !errors.As(err, &le) || le.Reason != ReasonMissingField || le.Field != "id.orig_h" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown_transport without ip_proto", func(t *testing.T) {
		d := newTestDecoder(t, Config{})
		feed(t, d, []string{`#separator \x09`, "#path\tconn", "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto"})
		res := feed(t, d, []string{"1.0\tC1\t10.0.0.1\t0\t10.0.0.2\t0\tunknown_transport"})[0]
		if res.Flow.Proto != 0 || d.Stats().UnknownProto != 1 {
			t.Errorf("Proto %d, stats %+v", res.Flow.Proto, d.Stats())
		}
	})
	t.Run("other paths are skipped and counted", func(t *testing.T) {
		d := newTestDecoder(t, Config{})
		res := feed(t, d, []string{`#separator \x09`, "#path\tdns", "#fields\tts\tuid\tquery", "1.0\tC1\texample.com", "garbage"})
		if res[3].Kind != KindSkipped || res[3].Path != "dns" || d.Stats().SkippedByPath["dns"] != 2 {
			t.Errorf("got %v %q, stats %+v", res[3].Kind, res[3].Path, d.Stats())
		}
	})
	t.Run("conn_long is interim", func(t *testing.T) {
		lines := append([]string(nil), connHeader...)
		lines[4] = "#path\tconn_long"
		lines = append(lines, connRow)
		d := newTestDecoder(t, Config{})
		if res := feed(t, d, lines); res[8].Kind != KindConn || res[8].Path != "conn_long" || !res[8].Flow.Interim || d.Stats().Interim != 1 {
			t.Errorf("default config: %v %q %+v", res[8].Kind, res[8].Path, res[8].Flow)
		}
		d = newTestDecoder(t, Config{InterimPaths: []string{}})
		if res := feed(t, d, lines); res[8].Kind != KindSkipped {
			t.Errorf("no interim paths: %v %q", res[8].Kind, res[8].Path)
		}
		d = newTestDecoder(t, Config{})
		lines[4] = "#path\tconn"
		if res := feed(t, d, lines); res[8].Kind != KindConn || res[8].Flow.Interim {
			t.Errorf("conn: %v %+v", res[8].Kind, res[8].Flow)
		}
	})
	t.Run("CRLF line ends and a BOM", func(t *testing.T) {
		d := newTestDecoder(t, Config{})
		lines := append([]string(nil), connHeader...)
		lines[0] = "\xef\xbb\xbf" + lines[0]
		for i := range lines {
			lines[i] += "\r\n"
		}
		res := feed(t, d, append(lines, connRow+"\r\n"))
		if f := res[8].Flow; f.Proto != 17 || f.UID != "CHhAvVGS1DHFjwGM9" {
			t.Errorf("got %+v", f)
		}
	})
	t.Run("SetLine", func(t *testing.T) {
		d := newTestDecoder(t, Config{})
		feed(t, d, connHeader)
		d.SetLine(1000)
		if res := feed(t, d, []string{connRow})[0]; res.Flow.Line != 1001 {
			t.Errorf("Line %d, want 1001", res.Flow.Line)
		}
	})
}

func TestSSLRecord(t *testing.T) {
	d := newTestDecoder(t, Config{})
	res := feed(t, d, []string{
		`#separator \x09`, "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tssl",
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\tcipher\tserver_name\testablished",
		"1.0\tCssl1\t10.0.0.1\t1\t10.0.0.2\t443\tTLSv13\tTLS_AES_128_GCM_SHA256\tapi.openai.com\tT",
		"1.0\tCssl2\t10.0.0.1\t2\t10.0.0.2\t443\tTLSv13\tTLS_AES_128_GCM_SHA256\t-\tT",
		"1.0\tCssl3\t10.0.0.1\t3\t10.0.0.2\t443\tTLSv13\tTLS_AES_128_GCM_SHA256\tweird\\x09name\tT",
	})
	want := []SSLRecord{
		{UID: "Cssl1", ServerName: "api.openai.com", Version: "TLSv13", Line: 7},
		{UID: "Cssl2", Version: "TLSv13", Line: 8},
		{UID: "Cssl3", ServerName: "weird\tname", Version: "TLSv13", Line: 9},
	}
	for i, w := range want {
		if r := res[6+i]; r.Kind != KindSSL || r.SSL != w {
			t.Errorf("row %d: %v %+v, want %+v", i, r.Kind, r.SSL, w)
		}
	}
}

func TestTSVDecodeAllocations(t *testing.T) {
	d := newTestDecoder(t, Config{})
	feed(t, d, connHeader)
	line := []byte(connRow)
	d.Decode(line) // warm the interner
	n := testing.AllocsPerRun(1000, func() {
		if _, err := d.Decode(line); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Errorf("%.1f allocations per conn line, want at most 1 (uid + community_id)", n)
	}
}

func TestClosed(t *testing.T) {
	d := newTestDecoder(t, Config{})
	feed(t, d, append(append([]string(nil), connHeader...), connRow))
	if d.Closed() {
		t.Error("closed before #close")
	}
	feed(t, d, []string{"#close\t2026-08-21-11-00-00"})
	if !d.Closed() {
		t.Error("not closed after #close")
	}
	feed(t, d, []string{`#separator \x09`})
	if d.Closed() {
		t.Error("still closed after a new header block")
	}
	d = newTestDecoder(t, Config{})
	feed(t, d, []string{"#close XXXX-XX-XX-XX-XX-XX"}) // btest's canonical form
	if !d.Closed() {
		t.Error("btest #close not seen")
	}
}
