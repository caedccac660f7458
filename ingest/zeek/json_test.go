package zeek

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// A conn record as Zeek's JSON writer prints it (LogAscii::use_json=T,
// default JSON::TS_EPOCH), with community-id-logging loaded.
const jsonConn = `{"ts":1300475167.096535,"uid":"CHhAvVGS1DHFjwGM9","id.orig_h":"141.142.220.202","id.orig_p":5353,"id.resp_h":"224.0.0.251","id.resp_p":5353,"proto":"udp","service":"dns","duration":0.000435,"orig_bytes":38,"resp_bytes":89,"conn_state":"SF","local_orig":false,"local_resp":true,"missed_bytes":0,"history":"Dd","orig_pkts":1,"orig_ip_bytes":66,"resp_pkts":1,"resp_ip_bytes":117,"ip_proto":17,"community_id":"1:d/FP5EW3wiY1vCndhwleRRKHowQ="}`

var jsonConnWant = schemas.IDSFlow{
	Sensor: schemas.SensorZeek, File: "test.log", Line: 1,
	Start: 1300475167_096535000, End: 1300475167_096535000 + 435000,
	UID: "CHhAvVGS1DHFjwGM9", CommunityID: "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
	Orig: ap("141.142.220.202:5353"), Resp: ap("224.0.0.251:5353"),
	Proto: 17, Service: "dns", ConnState: "SF", History: "Dd",
	OrigPkts: 1, RespPkts: 1, OrigBytes: 38, RespBytes: 89, OrigIPBytes: 66, RespIPBytes: 117,
}

func TestJSONConn(t *testing.T) {
	d := newTestDecoder(t, Config{})
	res, err := d.Decode([]byte(jsonConn))
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != KindConn || res.Path != "conn" || !reflect.DeepEqual(res.Flow, jsonConnWant) {
		t.Errorf("got %v %q %+v\nwant %+v", res.Kind, res.Path, res.Flow, jsonConnWant)
	}
}

func TestJSONTimestampForms(t *testing.T) {
	start := time.Date(2008, 7, 9, 16, 13, 30, 5432000, time.UTC).UnixNano()
	tests := []struct {
		ts   string
		want int64
	}{
		{`1215620010.005432`, start},                  // JSON::TS_EPOCH
		{`1215620010005`, start - 432000},             // JSON::TS_MILLIS
		{`"2008-07-09T16:13:30.005432Z"`, start},      // JSON::TS_ISO8601, json-streaming-logs
		{`"2008-07-09T18:13:30.005432+02:00"`, start}, // ISO 8601 with an offset
		{`"1215620010.005432"`, start},                // stringified by a shipper
		{`1215620010`, start - 5432000},               // whole seconds
		{`1.215620010005432e9`, start},                // exponent form
		{`"XXXXXXXXXX.XXXXXX"`, 0},                    // btest mask
	}
	for _, tt := range tests {
		d := newTestDecoder(t, Config{})
		line := `{"ts":` + tt.ts + `,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp","conn_state":"S0"}`
		res, err := d.Decode([]byte(line))
		if err != nil || res.Flow.Start != tt.want {
			t.Errorf("ts %s: Start %d, err %v; want %d", tt.ts, res.Flow.Start, err, tt.want)
		}
	}
}

func TestJSONVariants(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		line  string
		kind  Kind
		path  string
		check func(Result) bool
	}{
		{"json-streaming-logs _path", Config{},
			`{"_path":"conn","_write_ts":"2026-01-01T00:00:01.000000Z","ts":"2026-01-01T00:00:00.000000Z","uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp"}`,
			KindConn, "conn", func(r Result) bool { return r.Flow.Proto == 6 }},
		{"unset fields omitted", Config{},
			`{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"udp","conn_state":"S0"}`,
			KindConn, "conn", func(r Result) bool {
				f := r.Flow
				return f.End == f.Start && f.OrigIPBytes == -1 && f.Service == "" && f.History == ""
			}},
		{"unset fields null (json_include_unset_fields)", Config{},
			`{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"udp","service":null,"duration":null,"orig_ip_bytes":null,"conn_state":"S0","tunnel_parents":null,"community_id":null}`,
			KindConn, "conn", func(r Result) bool { f := r.Flow; return f.End == f.Start && f.OrigIPBytes == -1 && !f.Tunnelled }},
		{"sets are arrays", Config{},
			`{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp","service":["imap","ssl"],"tunnel_parents":["CA"],"conn_state":"SF"}`,
			KindConn, "conn", func(r Result) bool { return r.Flow.Service == "imap,ssl" && r.Flow.Tunnelled }},
		{"quoted numbers", Config{},
			`{"ts":"1.0","uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":"1","id.resp_h":"10.0.0.2","id.resp_p":"2","proto":"tcp","duration":"0.5","orig_bytes":"12","conn_state":"SF"}`,
			KindConn, "conn", func(r Result) bool {
				return r.Flow.OrigBytes == 12 && r.Flow.End-r.Flow.Start == 5e8 && r.Flow.Resp.Port() == 2
			}},
		{"empty set", Config{},
			`{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp","tunnel_parents":[],"conn_state":"SF"}`,
			KindConn, "conn", func(r Result) bool { return !r.Flow.Tunnelled }},
		{"nested id object", Config{},
			`{"ts":1.0,"uid":"C1","id":{"orig_h":"fe80::1","orig_p":128,"resp_h":"ff02::1","resp_p":129},"proto":"icmp","conn_state":"OTH"}`,
			KindConn, "conn", func(r Result) bool { return r.Flow.Proto == 58 && r.Flow.Resp == ap("[ff02::1]:129") }},
		{"JSON escapes in strings", Config{},
			`{"ts":1.0,"uid":"C\u0031","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp","history":"Sh\/A","conn_state":"SF"}`,
			KindConn, "conn", func(r Result) bool { return r.Flow.UID == "C1" && r.Flow.History == "Sh/A" }},
		{"ssl by _path", Config{},
			`{"_path":"ssl","ts":1.0,"uid":"Cssl","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":443,"server_name":"api.anthropic.com"}`,
			KindSSL, "ssl", func(r Result) bool { return r.SSL.UID == "Cssl" && r.SSL.ServerName == "api.anthropic.com" }},
		{"ssl inferred from keys", Config{},
			`{"ts":1.0,"uid":"Cssl","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":443,"version":"TLSv13","cipher":"TLS_AES_128_GCM_SHA256","established":true}`,
			KindSSL, "ssl", func(r Result) bool { return r.SSL.UID == "Cssl" && r.SSL.ServerName == "" }},
		{"dns skipped", Config{},
			`{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":53,"proto":"udp","query":"example.com"}`,
			KindSkipped, "unknown", nil},
		{"dns skipped by _path", Config{},
			`{"_path":"dns","ts":1.0,"uid":"C1","query":"example.com"}`,
			KindSkipped, "dns", nil},
		{"Config.Path for a file without _path", Config{Path: "conn"},
			`{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp"}`,
			KindConn, "conn", nil},
		{"leading space", Config{},
			`  ` + jsonConn,
			KindConn, "conn", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDecoder(t, tt.cfg)
			res, err := d.Decode([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != tt.kind || res.Path != tt.path || (tt.check != nil && !tt.check(res)) {
				t.Errorf("got %v %q %+v %+v", res.Kind, res.Path, res.Flow, res.SSL)
			}
		})
	}
}

func TestJSONErrors(t *testing.T) {
	const tail = `"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp","conn_state":"SF"}`
	tests := []struct {
		line   string
		field  string
		reason Reason
	}{
		{`{"ts":1.0,` + tail[:40], "", ReasonBadJSON},
		{`{"ts":1.0,` + tail + `x`, "", ReasonBadJSON},
		{`{"ts":1.0 ` + tail, "", ReasonBadJSON},
		{`{not json at all`, "", ReasonBadJSON},
		{`{"ts":"yesterday",` + tail, "ts", ReasonBadTimestamp},
		{`{"ts":-1.0,` + tail, "ts", ReasonBadTimestamp},
		{`{"ts":null,` + tail, "ts", ReasonMissingField},
		{`{` + tail, "ts", ReasonMissingField},
		{`{"ts":1.0,"orig_bytes":"12x",` + tail, "orig_bytes", ReasonBadNumber},
		{`{"ts":1.0,"orig_bytes":true,` + tail, "orig_bytes", ReasonBadValue},
		{`{"ts":1.0,"orig_bytes":{},` + tail, "orig_bytes", ReasonBadValue},
		{`{"ts":1.0,"orig_bytes":1.5,` + tail, "orig_bytes", ReasonBadNumber},
		{`{"ts":1.0,"orig_pkts":-1,` + tail, "orig_pkts", ReasonBadNumber},
		{`{"ts":1.0,"duration":[1.0],` + tail, "duration", ReasonBadValue},
		{`{"ts":1.0,"uid":5,"id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"conn_state":"SF"}`, "uid", ReasonBadValue},
		{`{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":70000,"id.resp_h":"10.0.0.2","id.resp_p":2,"conn_state":"SF"}`, "id.orig_p", ReasonBadPort},
		{`{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"conn_state":"SF"}`, "id.orig_h", ReasonBadAddress},
		{`{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_p":2,"conn_state":"SF"}`, "id.resp_h", ReasonMissingField},
		{`{"_path":7,"ts":1.0}`, "_path", ReasonBadValue},
		{`{"ts":1.0,"service":[1,2],` + tail, "service", ReasonBadValue},
		{`{"ts":1.0,"service":true,` + tail, "service", ReasonBadValue},
		{`{"ts":1.0,"tunnel_parents":true,` + tail, "tunnel_parents", ReasonBadValue},
		{`{"ts":1.0,"tunnel_parents":{"a":1},` + tail, "tunnel_parents", ReasonBadValue},
		{`{"ts":1.0,"history":false,` + tail, "history", ReasonBadValue},
		{`{"ts":{},` + tail, "ts", ReasonBadTimestamp},
	}
	for _, tt := range tests {
		d := newTestDecoder(t, Config{})
		_, err := d.Decode([]byte(tt.line))
		var le *LineError
		if !errors.As(err, &le) || le.Field != tt.field || le.Reason != tt.reason || le.Line != 1 {
			t.Errorf("%s\n  err = %v, want field %q reason %s", tt.line, err, tt.field, tt.reason)
		}
	}
}

func TestJSONDecodeAllocations(t *testing.T) {
	d := newTestDecoder(t, Config{})
	line := []byte(jsonConn)
	d.Decode(line)
	n := testing.AllocsPerRun(1000, func() {
		if _, err := d.Decode(line); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Errorf("%.1f allocations per JSON conn line, want at most 1 (uid + community_id)", n)
	}
}
