package eve

import (
	"bufio"
	"net/netip"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
	"github.com/aegis-nsm/aegis/schemas"
)

func ts(s string) int64 {
	tm, err := time.Parse("2006-01-02T15:04:05.999999-0700", s)
	if err != nil {
		panic(err)
	}
	return tm.UnixNano()
}

func TestCorpusDocExamples(t *testing.T) {
	path := logscantest.Corpus(t, "suricata-eve-reference/eve-doc-examples.jsonl")

	// Every event decodes on its own.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := newTestDecoder(t)
	var types []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		res, err := d.Decode(sc.Bytes())
		if err != nil {
			t.Errorf("line %d: %v", d.Line(), err)
			continue
		}
		types = append(types, res.EventType)
	}
	want := []string{"alert", "alert", "fileinfo", "http", "anomaly", "flow", "anomaly", "anomaly", "anomaly", "mqtt"}
	if len(types) != len(want) {
		t.Fatalf("event types %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Errorf("line %d: event_type %q, want %q", i+1, types[i], want[i])
		}
	}

	flows, st, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The two alerts and the http event are context: the http event and
	// the first alert share the flow event's flow_id.
	if st.Bad != 0 || st.Lines != 10 || st.Flows != 1 || st.Context != 3 || st.Skipped != 6 || st.Events["anomaly"] != 4 || st.Events["alert"] != 2 ||
		st.ContextMatched != 2 || st.AlertsAttached != 1 {
		t.Errorf("stats %+v", st)
	}
	wantFlow := schemas.IDSFlow{
		Sensor: schemas.SensorSuricata, File: path, Line: 6,
		Start: ts("2023-09-18T06:13:33.324862+0000"), End: ts("2023-09-18T06:14:13.752399+0000"),
		FlowID: 1676750115612680,
		Orig:   netip.MustParseAddrPort("192.168.100.237:49175"), Resp: netip.MustParseAddrPort("142.11.240.191:35361"),
		Proto: 6, Service: "http", ConnState: "closed",
		OrigPkts: 3869, RespPkts: 1523, OrigBytes: 3536402, RespBytes: 94102, OrigIPBytes: -1, RespIPBytes: -1,
		Context: &schemas.FlowContext{
			HTTPHost: "142.11.240.191", HTTPURL: "/",
			Alerts: []schemas.IDSAlert{{
				Time: ts("2023-09-18T06:13:41.532140+0000"), GID: 1, SignatureID: 2045001, Rev: 1,
				Signature: "ET ATTACK_RESPONSE Win32/LeftHook Stealer Browser Extension Config Inbound",
				Category:  "A Network Trojan was detected", Severity: 1, Action: "allowed",
			}},
		},
	}
	if len(flows) != 1 || !reflect.DeepEqual(flows[0], wantFlow) {
		t.Errorf("flows %+v\nwant %+v", flows, wantFlow)
	}
}

func TestCorpusStoredEVE(t *testing.T) {
	// The only eve.json suricata-verify stores, exactly as Suricata wrote
	// it (note the escaped slashes).
	flows, st, err := ReadFile(logscantest.Corpus(t, "suricata/output-eve-fileinfo/expected/eve.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 0 || st.Bad != 0 || st.Events["fileinfo"] != 1 || st.Skipped != 1 {
		t.Errorf("flows %v, stats %+v", flows, st)
	}
}
