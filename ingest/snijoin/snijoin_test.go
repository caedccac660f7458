package snijoin

import (
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

func TestAttach(t *testing.T) {
	flows := []schemas.IDSFlow{{UID: "C1"}, {UID: ""}, {UID: "C2"}, {UID: "C1"}, {UID: "C3"}}
	names := []Name[string]{
		{"C1", ""},          // no SNI in the ClientHello: matched, nothing kept
		{"C1", "a.example"}, // the first non-empty name wins
		{"C1", "b.example"},
		{"", "zero.example"}, // the zero key joins nothing
		{"C9", "c.example"},  // no such flow
		{"C3", "d.example"},
	}
	c := Attach(flows, func(f *schemas.IDSFlow) string { return f.UID }, names)
	if c != (Counts{Matched: 4, Unmatched: 2, Attached: 3}) {
		t.Errorf("counts %+v", c)
	}
	var got []string
	for _, f := range flows {
		got = append(got, f.SNI)
	}
	want := []string{"a.example", "", "", "a.example", "d.example"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("flow %d: SNI %q, want %q", i, got[i], want[i])
		}
	}
}

func TestAttachNoNames(t *testing.T) {
	flows := []schemas.IDSFlow{{FlowID: 1}}
	if c := Attach(flows, func(f *schemas.IDSFlow) uint64 { return f.FlowID }, nil); c != (Counts{}) || flows[0].SNI != "" {
		t.Errorf("counts %+v, flows %+v", c, flows)
	}
}
