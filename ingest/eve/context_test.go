package eve

import (
	"bytes"
	"strings"
	"testing"
)

func TestReadContextJoin(t *testing.T) {
	flow := flowWith(`"flow_id":2251799813685247`) // 2^51-1: exact, not through float64
	lines := []string{
		`{"timestamp":"2026-11-25T10:00:00.100000+0000","flow_id":2251799813685247,"event_type":"tls","tls":{"sni":"api.openai.com","version":"TLS 1.3","ja3":{"hash":"j3","string":"771,..."},"ja3s":{"hash":"j3s"},"ja4":"t13d1516h2_8daaf6152771_02713d6af862"}}`,
		`{"timestamp":"2026-11-25T10:00:00.200000+0000","flow_id":2251799813685247,"event_type":"alert","alert":{"action":"allowed","gid":1,"signature_id":2000001,"rev":3,"signature":"first","category":"c1","severity":2}}`,
		flow,
		`{"timestamp":"2026-11-25T10:00:00.300000+0000","flow_id":2251799813685247,"event_type":"alert","alert":{"action":"blocked","signature_id":2000002,"signature":"second","severity":1},"http":{"hostname":"h.example","http_user_agent":"python-httpx/0.27","url":"/v1/chat"}}`,
		`{"flow_id":2251799813685247,"event_type":"ssh","ssh":{"client":{"proto_version":"2.0","software_version":"OpenSSH_9.6"},"server":{"software_version":"OpenSSH_8.9p1"}}}`,
		`{"flow_id":99,"event_type":"alert","alert":{"signature_id":1}}`,
	}
	flows, st, err := Read(strings.NewReader(strings.Join(lines, "\n")), "eve.json", Config{KeepRaw: true})
	if err != nil || len(flows) != 1 || st.Bad != 0 {
		t.Fatalf("%v %v %d", err, st, len(flows))
	}
	f := flows[0]
	fc := f.Ctx()
	if f.FlowID != 2251799813685247 || f.SNI != "api.openai.com" || fc.TLSVersion != "TLS 1.3" || fc.JA3 != "j3" || fc.JA3S != "j3s" ||
		fc.JA4 != "t13d1516h2_8daaf6152771_02713d6af862" || fc.SSHClient != "OpenSSH_9.6" || fc.SSHServer != "OpenSSH_8.9p1" ||
		fc.HTTPHost != "h.example" || fc.HTTPUserAgent != "python-httpx/0.27" || fc.HTTPURL != "/v1/chat" {
		t.Errorf("flow %+v", f)
	}
	if len(fc.Alerts) != 2 || fc.Alerts[0].SignatureID != 2000001 || fc.Alerts[0].Rev != 3 || fc.Alerts[0].Severity != 2 ||
		fc.Alerts[0].Time != ts("2026-11-25T10:00:00.200000+0000") || fc.Alerts[1].Signature != "second" || fc.Alerts[1].Action != "blocked" {
		t.Errorf("alerts %+v", fc.Alerts)
	}
	if string(f.Raw) != flow {
		t.Errorf("Raw %q", f.Raw)
	}
	if st.Context != 5 || st.ContextMatched != 4 || st.ContextUnmatched != 1 || st.AlertsAttached != 2 || st.Alerts != 3 {
		t.Errorf("stats %v", st)
	}
	// Raw is off by default.
	flows, _, _ = Read(strings.NewReader(flow), "eve.json", Config{})
	if flows[0].Raw != nil {
		t.Error("Raw kept without KeepRaw")
	}
}

func TestRawIsACopy(t *testing.T) {
	d, _ := NewDecoder("eve.json", Config{KeepRaw: true})
	line := []byte(flowWith() + "\r\n")
	res, err := d.Decode(line)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.TrimRight(bytes.Clone(line), "\r\n")
	for i := range line {
		line[i] = 'x'
	}
	if !bytes.Equal(res.Flow.Raw, want) {
		t.Errorf("Raw %q", res.Flow.Raw)
	}
}

func TestWrongFormatAndUTF8(t *testing.T) {
	d := newTestDecoder(t)
	_, err := d.Decode([]byte(`{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp","conn_state":"SF"}`))
	if le, ok := err.(*LineError); !ok || le.Reason != ReasonWrongFormat {
		t.Errorf("Zeek line: %v", err)
	}
	res, err := d.Decode([]byte(`{"flow_id":5,"event_type":"tls","tls":{"sni":"bad` + "\xff\xfe" + `.example"}}`))
	if err != nil || res.Context.SNI != "bad\uFFFD.example" || d.Stats().InvalidUTF8 != 1 {
		t.Errorf("%v %q %v", err, res.Context.SNI, d.Stats())
	}
}

func TestCommunityIDComputed(t *testing.T) {
	d, _ := NewDecoder("eve.json", Config{ComputeCommunityID: true})
	res, err := d.Decode([]byte(flowWith(`"src_ip":"128.232.110.120","src_port":34855,"dest_ip":"66.35.250.204","dest_port":80`)))
	if err != nil || res.Flow.CommunityID != "1:LQU9qZlK+B5F3KDmev6m5PMibrg=" || d.Stats().CommunityIDComputed != 1 {
		t.Errorf("%v %q", err, res.Flow.CommunityID)
	}
	d = newTestDecoder(t)
	if res, _ := d.Decode([]byte(flowWith())); res.Flow.CommunityID != "" {
		t.Errorf("computed without ComputeCommunityID: %q", res.Flow.CommunityID)
	}
}
