package enrich

import (
	"github.com/aegis-nsm/aegis/enrich/attack"
	"net/netip"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/communityid"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

func ids(orig, resp string, proto uint8, start, end int64, uid string) schemas.IDSFlow {
	return schemas.IDSFlow{Sensor: schemas.SensorZeek, File: "conn.log", Line: 9, UID: uid,
		Orig: netip.MustParseAddrPort(orig), Resp: netip.MustParseAddrPort(resp), Proto: proto, Start: start, End: end}
}

func tup(orig, resp string, proto uint8) schemas.Tuple {
	o, r := netip.MustParseAddrPort(orig), netip.MustParseAddrPort(resp)
	return schemas.Tuple{SrcIP: schemas.IPFromAddr(o.Addr()), DstIP: schemas.IPFromAddr(r.Addr()), SrcPort: o.Port(), DstPort: r.Port(), Proto: proto}
}

const sec = int64(1e9)

func TestMatch(t *testing.T) {
	flows := []schemas.IDSFlow{
		ids("10.0.0.2:5000", "10.0.0.1:443", 6, 100*sec, 110*sec, "early"),
		ids("10.0.0.2:5000", "10.0.0.1:443", 6, 500*sec, 510*sec, "late"),
		ids("10.0.0.2:5000", "10.0.0.1:443", 17, 100*sec, 110*sec, "udp"),
		ids("10.0.0.3:6000", "10.0.0.1:22", 6, 0, 0, "untimed-0"),
		ids("10.0.0.3:6000", "10.0.0.1:22", 6, 0, 0, "untimed-1"),
	}
	withCID := ids("10.0.0.9:1", "10.0.0.8:2", 6, 50*sec, 60*sec, "cid")
	withCID.CommunityID = communityid.Hasher{}.ID(tup("10.0.0.9:1", "10.0.0.8:2", 6))
	flows = append(flows, withCID)
	ix := NewIndex(flows)
	cases := []struct {
		name   string
		q      Query
		uid    string
		method JoinMethod
	}{
		{"tuple and time, first", Query{Tuple: tup("10.0.0.2:5000", "10.0.0.1:443", 6), First: 101 * sec, Last: 109 * sec}, "early", JoinTupleTime},
		{"tuple and time, reversed direction", Query{Tuple: tup("10.0.0.1:443", "10.0.0.2:5000", 6), First: 501 * sec, Last: 505 * sec}, "late", JoinTupleTime},
		{"protocol must agree", Query{Tuple: tup("10.0.0.2:5000", "10.0.0.1:443", 17), First: 101 * sec, Last: 102 * sec}, "udp", JoinTupleTime},
		{"no overlap", Query{Tuple: tup("10.0.0.2:5000", "10.0.0.1:443", 6), First: 300 * sec, Last: 301 * sec}, "", JoinNone},
		{"untimed by ordinal", Query{Tuple: tup("10.0.0.3:6000", "10.0.0.1:22", 6), First: 1, Last: 2, Ordinal: 1}, "untimed-1", JoinTupleTime},
		{"community id", Query{Tuple: tup("10.0.0.9:1", "10.0.0.8:2", 6), CommunityID: withCID.CommunityID, First: 55 * sec, Last: 56 * sec}, "cid", JoinCommunityID},
		{"unknown", Query{Tuple: tup("1.1.1.1:1", "2.2.2.2:2", 6), First: 1, Last: 2}, "", JoinNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i, m := ix.Match(c.q)
			uid := ""
			if i >= 0 {
				uid = ix.Flow(i).UID
			}
			if uid != c.uid || m != c.method {
				t.Fatalf("got %q by %q, want %q by %q", uid, m, c.uid, c.method)
			}
		})
	}
}

func summary() FlowSummary {
	tp := tup("10.0.0.2:5000", "10.0.0.1:443", 6)
	return FlowSummary{Tuple: tp, First: 100 * sec, Last: 112 * sec, OrigPackets: 10, RespPackets: 300,
		OrigIPBytes: 2000, RespIPBytes: 90000, CommunityID: communityid.Hasher{}.ID(tp), Capture: schemas.CaptureInfo{Packets: 310}}
}

func TestAssembleValidatesAndIsDeterministic(t *testing.T) {
	rec := ids("10.0.0.2:5000", "10.0.0.1:443", 6, 100*sec, 112*sec, "CabC")
	rec.SNI, rec.Service = "api.openai.com", "ssl"
	for _, c := range schemas.Classes {
		v := Verdict{Class: c, Confidence: 0.8, Reasons: []string{"because"}, Route: schemas.RouteMatch{Name: "unknown", SNI: "none"}}
		v.Cadence.Session.CommandSide = "none"
		for _, withIDS := range []bool{false, true} {
			var r schemas.Record
			if withIDS {
				r = Assemble(summary(), v, &rec, JoinTupleTime)
			} else {
				r = Assemble(summary(), v, nil, JoinNone)
			}
			if err := schemacheck.ValidateRecord(&r); err != nil {
				t.Fatalf("class %s ids %v: %v", c, withIDS, err)
			}
			if wantAlert := c.IsDetection(); (r.Event.Kind == "alert") != wantAlert {
				t.Fatalf("class %s kind %s", c, r.Event.Kind)
			}
		}
	}
	a := Assemble(summary(), Verdict{Class: schemas.ClassOther}, &rec, JoinTupleTime)
	b := Assemble(summary(), Verdict{Class: schemas.ClassLLMStream}, &rec, JoinTupleTime)
	if a.Event.ID != b.Event.ID {
		t.Fatal("record id depends on the verdict; it must identify the flow")
	}
	s2 := summary()
	s2.First++
	if c := Assemble(s2, Verdict{Class: schemas.ClassOther}, &rec, JoinTupleTime); c.Event.ID == a.Event.ID {
		t.Fatal("different flows share a record id")
	}
	if a.TLS == nil || a.TLS.Client.ServerName != "api.openai.com" || a.Aegis.IDS.Source != "conn.log:9" {
		t.Fatalf("IDS context lost: %+v %+v", a.TLS, a.Aegis.IDS)
	}
	if a.Aegis.FlowKey != "tcp 10.0.0.1:443 10.0.0.2:5000" {
		t.Fatalf("flow key %q", a.Aegis.FlowKey)
	}
}

func TestSeverity(t *testing.T) {
	cases := []struct {
		c    schemas.Class
		conf float64
		want Severity
	}{
		{schemas.ClassLLMStream, 0.9, SeverityLow},
		{schemas.ClassLLMStream, 0.3, SeverityLow},
		{schemas.ClassAgentShell, 0.9, SeverityHigh},
		{schemas.ClassAgentShell, 0.5, SeverityMedium},
		{schemas.ClassAgentExfil, 0.9, SeverityCritical},
		{schemas.ClassHumanInteractive, 1, SeverityNone},
		{schemas.ClassOther, 1, SeverityNone},
	}
	for _, c := range cases {
		if got := BaseSeverity(c.c, c.conf); got != c.want {
			t.Errorf("%s %.1f: %s want %s", c.c, c.conf, got, c.want)
		}
	}
}

// TestClassTechniquesAreInTheTable checks every technique a class maps to
// is in the vetted ATT&CK table (which its own test checks against MITRE).
func TestClassTechniquesAreInTheTable(t *testing.T) {
	for _, id := range ClassTechniques {
		if _, ok := attack.Lookup(id); !ok {
			t.Errorf("%s is not in enrich/attack's table", id)
		}
	}
}
