package flowctx

import (
	"slices"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

func uid(f *schemas.IDSFlow) string { return f.UID }

func TestAttachSNI(t *testing.T) {
	flows := []schemas.IDSFlow{{UID: "C1"}, {UID: ""}, {UID: "C2"}, {UID: "C1"}, {UID: "C3"}}
	recs := []Record[string]{
		{"C1", Fields{}},                 // no SNI in the ClientHello: matched, nothing kept
		{"C1", Fields{SNI: "a.example"}}, // the first non-empty name wins
		{"C1", Fields{SNI: "b.example"}},
		{"", Fields{SNI: "zero.example"}}, // the zero key joins nothing
		{"C9", Fields{SNI: "c.example"}},  // no such flow
		{"C3", Fields{SNI: "d.example"}},
	}
	c := Attach(flows, uid, recs)
	if c != (Counts{Matched: 4, Unmatched: 2, Attached: 3, SNIAttached: 3}) {
		t.Errorf("counts %+v", c)
	}
	want := []string{"a.example", "", "", "a.example", "d.example"}
	for i := range want {
		if flows[i].SNI != want[i] {
			t.Errorf("flow %d: SNI %q, want %q", i, flows[i].SNI, want[i])
		}
	}
}

func TestAttachAllFields(t *testing.T) {
	a1 := schemas.IDSAlert{SignatureID: 1, Signature: "one", Severity: 2}
	a2 := schemas.IDSAlert{SignatureID: 2, Signature: "two", Severity: 1}
	flows := []schemas.IDSFlow{{FlowID: 7, SNI: "own.example"}, {FlowID: 8}}
	recs := []Record[uint64]{
		{7, Fields{SNI: "tls.example", TLSVersion: "TLS 1.3", JA3: "j3", JA3S: "j3s", JA4: "j4"}},
		{7, Fields{Alerts: []schemas.IDSAlert{a1}}},
		{7, Fields{SSHClient: "c", SSHServer: "s", TLSVersion: "TLS 1.2"}},
		{7, Fields{HTTPHost: "h", HTTPUserAgent: "ua", HTTPURL: "/u", Alerts: []schemas.IDSAlert{a2}}},
	}
	c := Attach(flows, func(f *schemas.IDSFlow) uint64 { return f.FlowID }, recs)
	if c != (Counts{Matched: 4, Attached: 1, Alerts: 2}) {
		t.Errorf("counts %+v", c)
	}
	f := flows[0]
	fc := f.Ctx()
	if f.SNI != "own.example" || fc.TLSVersion != "TLS 1.3" || fc.JA3 != "j3" || fc.JA3S != "j3s" || fc.JA4 != "j4" ||
		fc.SSHClient != "c" || fc.SSHServer != "s" || fc.HTTPHost != "h" || fc.HTTPUserAgent != "ua" || fc.HTTPURL != "/u" ||
		!slices.Equal(fc.Alerts, []schemas.IDSAlert{a1, a2}) {
		t.Errorf("flow %+v", f)
	}
	if flows[1].Context != nil {
		t.Errorf("flow 8 got context: %+v", flows[1])
	}
	// The alerts slice is the flow's own.
	fc.Alerts[0].Signature = "changed"
	if recs[1].Alerts[0].Signature != "one" {
		t.Error("flow alerts alias the records'")
	}
}

func TestAttachNone(t *testing.T) {
	flows := []schemas.IDSFlow{{FlowID: 1}}
	if c := Attach(flows, func(f *schemas.IDSFlow) uint64 { return f.FlowID }, nil); c != (Counts{}) || flows[0].SNI != "" {
		t.Errorf("counts %+v, flows %+v", c, flows)
	}
}
