package eve

import (
	"errors"
	"github.com/aegis-nsm/aegis/ingest/flowctx"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFlowEvent(t *testing.T) {
	d := newTestDecoder(t)
	res, err := d.Decode([]byte(docFlow))
	if err != nil {
		t.Fatal(err)
	}
	f := res.Flow
	if res.Kind != KindFlow || res.EventType != "flow" || f.Line != 1 || f.File != "eve.json" || f.FlowID != 1676750115612680 ||
		f.Start != ts("2023-09-18T06:13:33.324862+0000") || f.End-f.Start != 40_427537000 {
		t.Errorf("got %v %+v", res.Kind, f)
	}
}

// flowWith returns a flow event with fields added after the others (the
// decoder, like encoding/json, lets a later duplicate key win). A "flow"
// object among kv replaces the default one.
func flowWith(kv ...string) string {
	flow := `"flow":{"pkts_toserver":1,"pkts_toclient":2,"bytes_toserver":3,"bytes_toclient":4,"start":"2026-11-25T10:00:00.123456+0000","end":"2026-11-25T10:00:01.000000+0000","age":1,"state":"established"}`
	for _, s := range kv {
		if strings.HasPrefix(s, `"flow":`) {
			flow = ""
		}
	}
	parts := []string{`"timestamp":"2026-11-25T10:00:01.000000+0000","flow_id":1,"event_type":"flow","src_ip":"10.0.0.1","src_port":1234,"dest_ip":"10.0.0.2","dest_port":443,"proto":"TCP","app_proto":"tls"`}
	if flow != "" {
		parts = append(parts, flow)
	}
	return "{" + strings.Join(append(parts, kv...), ",") + "}"
}

func TestFlowFieldValues(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC).UnixNano()
	tests := []struct {
		name  string
		line  string
		check func(r Result) bool
	}{
		{"baseline", flowWith(), func(r Result) bool {
			f := r.Flow
			return f.Start == start && f.End == start+876544000 && f.Orig == netip.MustParseAddrPort("10.0.0.1:1234") &&
				f.Proto == 6 && f.Service == "tls" && f.ConnState == "established" && f.OrigPkts == 1 && f.RespPkts == 2 &&
				f.OrigBytes == 3 && f.RespBytes == 4 && f.OrigIPBytes == -1 && f.RespIPBytes == -1 && !f.Tunnelled
		}},
		{"+0000 and -0500 are the same instant", flowWith(`"flow":{"start":"2026-11-25T05:00:00.123456-0500"}`), func(r Result) bool {
			return r.Flow.Start == start && r.Flow.End == start
		}},
		{"+05:30 with a colon", flowWith(`"flow":{"start":"2026-11-25T15:30:00.123456+05:30"}`), func(r Result) bool { return r.Flow.Start == start }},
		{"no flow.start: the timestamp", flowWith(`"flow":{"pkts_toserver":1}`), func(r Result) bool {
			return r.Flow.Start == start+876544000 && r.Flow.End == r.Flow.Start
		}},
		{"flow_id above 2^53 kept exactly", flowWith(`"flow_id":9007199254740993`), func(r Result) bool { return r.Flow.FlowID == 1<<53+1 }},
		{"flow_id 2^64-1", flowWith(`"flow_id":18446744073709551615`), func(r Result) bool { return r.Flow.FlowID == math.MaxUint64 }},
		{"flow_id as a string", flowWith(`"flow_id":"1676750115612680"`), func(r Result) bool { return r.Flow.FlowID == 1676750115612680 }},
		{"no flow_id", strings.Replace(flowWith(), `"flow_id":1,`, "", 1), func(r Result) bool { return r.Flow.FlowID == 0 }},
		{"UDP", flowWith(`"proto":"UDP"`), func(r Result) bool { return r.Flow.Proto == 17 }},
		{"lower-case name", flowWith(`"proto":"udp"`), func(r Result) bool { return r.Flow.Proto == 17 }},
		{"SCTP", flowWith(`"proto":"SCTP"`), func(r Result) bool { return r.Flow.Proto == 132 }},
		{"numeric proto string", flowWith(`"proto":"047"`), func(r Result) bool { return r.Flow.Proto == 47 }},
		{"numeric proto", flowWith(`"proto":50`), func(r Result) bool { return r.Flow.Proto == 50 }},
		{"unknown proto name", flowWith(`"proto":"XYZ"`), func(r Result) bool { return r.Flow.Proto == 0 }},
		{"ICMP echo: type and reply type as ports", flowWith(`"proto":"ICMP","src_port":null,"dest_port":null,"icmp_type":8,"icmp_code":0`), func(r Result) bool {
			return r.Flow.Proto == 1 && r.Flow.Orig.Port() == 8 && r.Flow.Resp.Port() == 0
		}},
		{"ICMP one-way: type and code", flowWith(`"proto":"ICMP","icmp_type":11,"icmp_code":1`), func(r Result) bool {
			return r.Flow.Orig.Port() == 11 && r.Flow.Resp.Port() == 1
		}},
		{"ICMPv6 echo", `{"timestamp":"2026-11-25T10:00:00.000000+0000","event_type":"flow","src_ip":"2001:db8::1","dest_ip":"2001:db8::2","proto":"IPv6-ICMP","icmp_type":128,"icmp_code":0,"flow":{"pkts_toserver":1}}`, func(r Result) bool {
			return r.Flow.Proto == 58 && r.Flow.Orig.Port() == 128 && r.Flow.Resp.Port() == 129
		}},
		{"ICMPv6 router advert without proto", `{"timestamp":"2026-11-25T10:00:00.000000+0000","event_type":"flow","src_ip":"fe80::1","dest_ip":"ff02::1","icmp_type":134,"icmp_code":0}`, func(r Result) bool {
			return r.Flow.Proto == 58 && r.Flow.Orig.Port() == 134 && r.Flow.Resp.Port() == 133
		}},
		{"ESP: no ports", `{"timestamp":"2026-11-25T10:00:00.000000+0000","event_type":"flow","src_ip":"190.0.0.1","dest_ip":"190.0.0.2","proto":"ESP","spi":123,"flow":{"pkts_toserver":2,"pkts_toclient":0}}`, func(r Result) bool {
			return r.Flow.Proto == 50 && r.Flow.Orig.Port() == 0 && r.Flow.OrigPkts == 2
		}},
		{"full-form IPv6", flowWith(`"src_ip":"0000:0000:0000:0000:0000:0000:0000:0001"`), func(r Result) bool { return r.Flow.Orig.Addr() == netip.IPv6Loopback() }},
		{"community_id", flowWith(`"community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg="`), func(r Result) bool { return r.Flow.CommunityID == "1:LQU9qZlK+B5F3KDmev6m5PMibrg=" }},
		{"tunnel", flowWith(`"tunnel":{"src_ip":"192.0.2.1","dest_ip":"192.0.2.2","proto":"UDP","depth":1}`), func(r Result) bool { return r.Flow.Tunnelled }},
		{"null counters", flowWith(`"flow":{"start":"2026-11-25T10:00:00.123456+0000","pkts_toserver":null}`), func(r Result) bool { return r.Flow.OrigPkts == 0 }},
		{"app_proto failed kept", flowWith(`"app_proto":"failed"`), func(r Result) bool { return r.Flow.Service == "failed" }},
		{"escaped strings", flowWith(`"app_proto":"h\u0074tp","community_id":"1:a\/b"`), func(r Result) bool {
			return r.Flow.Service == "http" && r.Flow.CommunityID == "1:a/b"
		}},
		{"pretty-printed whitespace", strings.ReplaceAll(flowWith(), ",", " ,\t"), func(r Result) bool { return r.Flow.OrigBytes == 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDecoder(t)
			res, err := d.Decode([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != KindFlow || !tt.check(res) {
				t.Errorf("got %v %+v", res.Kind, res.Flow)
			}
		})
	}
}

func TestFlowErrors(t *testing.T) {
	tests := []struct {
		line   string
		field  string
		reason Reason
	}{
		{flowWith()[:100], "", ReasonBadJSON},
		{flowWith()[:len(flowWith())-1], "", ReasonBadJSON},
		{flowWith() + "}", "", ReasonBadJSON},
		{"garbage", "", ReasonBadJSON},
		{`[{"event_type":"flow"}]`, "", ReasonBadJSON},
		{`{"timestamp":"2026-11-25T10:00:00.000000+0000"}`, "event_type", ReasonMissingField},
		{`{"event_type":7}`, "event_type", ReasonBadValue},
		{flowWith(`"flow_id":-1`), "flow_id", ReasonBadNumber},
		{flowWith(`"flow_id":1.5`), "flow_id", ReasonBadNumber},
		{flowWith(`"flow_id":1e15`), "flow_id", ReasonBadNumber},
		{flowWith(`"flow_id":18446744073709551616`), "flow_id", ReasonBadNumber},
		{flowWith(`"flow_id":true`), "flow_id", ReasonBadValue},
		{flowWith(`"src_ip":"10.0.0"`), "src_ip", ReasonBadAddress},
		{flowWith(`"dest_ip":null`), "dest_ip", ReasonMissingField},
		{flowWith(`"dest_ip":167772162`), "dest_ip", ReasonBadValue},
		{flowWith(`"src_port":65536`), "src_port", ReasonBadPort},
		{flowWith(`"dest_port":-1`), "dest_port", ReasonBadPort},
		{flowWith(`"dest_port":[443]`), "dest_port", ReasonBadValue},
		{flowWith(`"proto":300`), "proto", ReasonBadValue},
		{flowWith(`"proto":{}`), "proto", ReasonBadValue},
		{flowWith(`"flow":{"start":"2026-11-25T10:00:00.123456"}`), "flow.start", ReasonBadTimestamp},
		{flowWith(`"flow":{"start":"2026-11-25 10:00:00.123456+0000"}`), "flow.start", ReasonBadTimestamp},
		{flowWith(`"flow":{"end":"yesterday"}`), "flow.end", ReasonBadTimestamp},
		{flowWith(`"flow":{"start":1764064800}`), "flow.start", ReasonBadValue},
		{flowWith(`"timestamp":"2026-11-25T10:00:00"`), "timestamp", ReasonBadTimestamp},
		{`{"event_type":"flow","src_ip":"10.0.0.1","dest_ip":"10.0.0.2"}`, "flow.start", ReasonMissingField},
		{flowWith(`"flow":{"start":"2026-11-25T10:00:00.123456+0000","pkts_toserver":-3}`), "flow.pkts_toserver", ReasonBadNumber},
		{flowWith(`"flow":{"start":"2026-11-25T10:00:00.123456+0000","bytes_toclient":"many"}`), "flow.bytes_toclient", ReasonBadNumber},
		{flowWith(`"flow":{"start":"2026-11-25T10:00:00.123456+0000","state":1}`), "flow.state", ReasonBadValue},
		{flowWith(`"proto":"ICMP","icmp_type":70000`), "icmp_type", ReasonBadNumber},
		{flowWith(`"app_proto":["tls"]`), "app_proto", ReasonBadValue},
		{`{"event_type":"tls","flow_id":"x","tls":{"sni":"a"}}`, "flow_id", ReasonBadNumber},
		{`{"event_type":"tls","flow_id":1,"tls":{"sni":5}}`, "tls.sni", ReasonBadValue},
	}
	for _, tt := range tests {
		d := newTestDecoder(t)
		res, err := d.Decode([]byte(tt.line))
		var le *LineError
		if !errors.As(err, &le) || le.Field != tt.field || le.Reason != tt.reason || le.Line != 1 || le.File != "eve.json" {
			t.Errorf("%s\n  err = %v, want field %q reason %s", tt.line, err, tt.field, tt.reason)
		}
		if res.Kind != KindBlank {
			t.Errorf("%s: Kind %v on error", tt.line, res.Kind)
		}
	}
}

func TestSNIEvents(t *testing.T) {
	tests := []struct {
		line string
		want SNIRecord
		et   string
	}{
		{`{"timestamp":"2026-11-25T10:00:00.000000+0000","flow_id":42,"event_type":"tls","src_ip":"10.0.0.1","src_port":1,"dest_ip":"10.0.0.2","dest_port":443,"proto":"TCP","tls":{"subject":"CN=x","sni":"api.openai.com","version":"TLS 1.3"}}`,
			SNIRecord{FlowID: 42, Fields: flowctx.Fields{SNI: "api.openai.com", TLSVersion: "TLS 1.3"}, Line: 1}, "tls"},
		{`{"flow_id":43,"event_type":"quic","quic":{"version":"1","sni":"generativelanguage.googleapis.com"}}`,
			SNIRecord{FlowID: 43, Fields: flowctx.Fields{SNI: "generativelanguage.googleapis.com"}, Line: 1}, "quic"},
		{`{"flow_id":44,"event_type":"tls","tls":{"version":"TLS 1.2"}}`, SNIRecord{FlowID: 44, Fields: flowctx.Fields{TLSVersion: "TLS 1.2"}, Line: 1}, "tls"},
		{`{"flow_id":45,"event_type":"tls","tls":"odd"}`, SNIRecord{FlowID: 45, Line: 1}, "tls"},
	}
	for _, tt := range tests {
		d := newTestDecoder(t)
		res, err := d.Decode([]byte(tt.line))
		if err != nil || res.Kind != KindContext || !reflect.DeepEqual(res.Context, tt.want) || res.EventType != tt.et {
			t.Errorf("%s: %v %v %+v", tt.line, err, res.Kind, res.Context)
		}
	}
}

func TestOtherEventsSkipped(t *testing.T) {
	for _, et := range []string{"netflow", "dns", "fileinfo", "anomaly", "stats", "drop", "some_future_type"} {
		d := newTestDecoder(t)
		res, err := d.Decode([]byte(`{"timestamp":"2026-11-25T10:00:00.000000+0000","event_type":"` + et + `","flow":{"start":"bad time is not looked at"}}`))
		if err != nil || res.Kind != KindSkipped || res.EventType != et || d.Stats().Events[et] != 1 || d.Stats().Skipped != 1 {
			t.Errorf("%s: %v %v %+v", et, err, res.Kind, d.Stats())
		}
	}
}

func TestBlankLines(t *testing.T) {
	d := newTestDecoder(t)
	for _, l := range []string{"", "\n", "  \r\n", "\t"} {
		if res, err := d.Decode([]byte(l)); err != nil || res.Kind != KindBlank {
			t.Errorf("%q: %v %v", l, res.Kind, err)
		}
	}
	if st := d.Stats(); st.Blank != 4 || st.Lines != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestFlowDecodeAllocations(t *testing.T) {
	d := newTestDecoder(t)
	line := []byte(flowWith(`"community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg="`))
	d.Decode(line)
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := d.Decode(line); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("%.1f allocations per flow line, want at most 1 (community_id)", n)
	}
	skipped := []byte(`{"timestamp":"2023-09-18T06:13:41.532140+0000","flow_id":1676750115612680,"event_type":"anomaly","src_ip":"142.11.240.191","src_port":35361,"dest_ip":"192.168.100.237","dest_port":49175,"proto":"TCP","anomaly":{"type":"stream","event":"stream.pkt_invalid_timestamp"}}`)
	d.Decode(skipped)
	if n := testing.AllocsPerRun(1000, func() { d.Decode(skipped) }); n != 0 {
		t.Errorf("%.1f allocations per skipped event, want 0", n)
	}
}

func TestEventTypeCountBounded(t *testing.T) {
	d := newTestDecoder(t)
	for i := range 1000 {
		d.Decode([]byte(`{"event_type":"t` + strconv.Itoa(i) + `"}`))
	}
	st := d.Stats()
	if len(st.Events) != maxEventTypes+1 || st.Events[OtherEventTypes] != 1000-maxEventTypes || st.Skipped != 1000 {
		t.Errorf("%d event types, %d other", len(st.Events), st.Events[OtherEventTypes])
	}
}
