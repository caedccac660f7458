package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
	"gopkg.in/yaml.v3"
)

// Rule test cases live in the rule file, under the rule:
//
//	tests:
//	  - name: scan then agent shell
//	    expect: hit                    # or miss
//	    message: "..."                 # optional: the exact rendered message
//	    lists: {llm_clients: [10.1.0.0/16]}   # optional: named lists for this case
//	    prior:                         # optional: context fed first, in order
//	      - at: -5m                    # offset from the record's time
//	        ids: {resp: 10.0.0.9:1, conn_state: REJ, repeat: 30}
//	      - at: -1m
//	        record: {aegis: {class: llm_stream}}
//	    record:                        # a fragment of the published record
//	      source: {ip: 10.0.0.5}
//	      aegis: {class: agent_shell, confidence: 0.9}
//
// A record fragment uses the record's JSON names (a published record,
// pasted as JSON, is a valid fragment); unknown names are errors. Without
// event.end, a record ends at testBase plus its at offset. An ids entry
// uses Zeek conn.log names; orig defaults to the test record's source
// address, resp to 198.51.100.1:80, proto to tcp, sensor to zeek; repeat N
// sends N copies, 1 ms apart, whose responder port (vary: port, the
// default) or address (vary: host) counts up, or that are all alike (vary:
// none).

// testBase is the time a test case's record ends at unless it says.
var testBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// maxRepeat bounds an ids entry's repeat.
const maxRepeat = 10000

// testCase is one compiled test case.
type testCase struct {
	name    string
	line    int
	hit     bool
	message *string
	lists   map[string][]string
	prior   []priorEvent
	rec     schemas.Record
}

// priorEvent is context fed before the test record.
type priorEvent struct {
	ids []schemas.IDSFlow
	rec *schemas.Record
}

// tests compiles a rule's test cases.
func (cp *compiler) tests(ts []testYAML) []*testCase {
	out := make([]*testCase, 0, len(ts))
	for i := range ts {
		if tc := cp.test(&ts[i], i); tc != nil {
			out = append(out, tc)
		}
	}
	return out
}

func (cp *compiler) test(ty *testYAML, i int) *testCase {
	tc := &testCase{name: ty.Name.V, line: ty.Name.Line}
	if tc.name == "" {
		tc.name = fmt.Sprintf("test #%d", i+1)
	}
	line := func(l int) int {
		if l == 0 {
			return tc.line
		}
		return l
	}
	fail := func(l int, format string, a ...any) *testCase {
		cp.errorf(line(l), "test %q: %s", tc.name, fmt.Sprintf(format, a...))
		return nil
	}
	switch ty.Expect.V {
	case "hit":
		tc.hit = true
	case "miss":
	default:
		return fail(ty.Expect.Line, "expect must be hit or miss (got %q)", ty.Expect.V)
	}
	if tc.line == 0 {
		tc.line = ty.Expect.Line
	}
	if ty.Message != nil {
		if !tc.hit {
			return fail(ty.Message.Line, "message: only a test that expects a hit can check the message")
		}
		m := ty.Message.V
		tc.message = &m
	}
	if len(ty.Lists) > 0 {
		tc.lists = map[string][]string{}
		for name, l := range ty.Lists {
			if !nameRE.MatchString(name) {
				return fail(l.Line, "lists: %q is not a list name", name)
			}
			for _, s := range l.V {
				if _, err := parsePrefix(s.V); err != nil {
					return fail(s.Line, "lists.%s: %v", name, err)
				}
			}
			tc.lists[name] = l.values()
		}
	}
	if ty.Record.N == nil {
		return fail(0, "record: is missing; give the record fragment the rule is tested on")
	}
	if err := decodeRecord(ty.Record.N, &tc.rec, 0); err != nil {
		return fail(ty.Record.N.Line, "record: %v", err)
	}
	for j := range ty.Prior {
		p := &ty.Prior[j]
		switch {
		case p.IDS != nil && p.Record.N != nil, p.IDS == nil && p.Record.N == nil:
			return fail(p.At.Line, "prior #%d: give exactly one of ids: or record:", j+1)
		case p.Record.N != nil:
			rec := new(schemas.Record)
			if err := decodeRecord(p.Record.N, rec, p.At.V); err != nil {
				return fail(p.Record.N.Line, "prior #%d: record: %v", j+1, err)
			}
			if rec.Source.IP == "" {
				rec.Source.IP = tc.rec.Source.IP
			}
			tc.prior = append(tc.prior, priorEvent{rec: rec})
		default:
			flows, l, err := buildIDS(p.IDS, p.At.V, tc.rec.Source.IP)
			if err != nil {
				return fail(l, "prior #%d: ids: %v", j+1, err)
			}
			tc.prior = append(tc.prior, priorEvent{ids: flows})
		}
	}
	return tc
}

// decodeRecord decodes a record fragment (YAML or JSON) strictly into rec
// and gives it a time: event.end testBase+at unless the fragment set it.
func decodeRecord(n *yaml.Node, rec *schemas.Record, at time.Duration) error {
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("expected a mapping of record fields, e.g. {aegis: {class: llm_stream}}")
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot convert to JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(rec); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if rec.Event.End == "" && rec.Timestamp == "" {
		end := testBase.Add(at)
		rec.Event.End = end.Format(time.RFC3339Nano)
		if rec.Event.Start == "" {
			rec.Event.Start = end.Add(-time.Duration(rec.Event.Duration)).Format(time.RFC3339Nano)
		}
		rec.Timestamp = rec.Event.Start
	}
	return nil
}

// buildIDS expands an ids entry. It returns the line of a bad field.
func buildIDS(y *idsYAML, at time.Duration, defOrig string) ([]schemas.IDSFlow, int, error) {
	f := schemas.IDSFlow{
		Sensor: schemas.SensorZeek, File: "test", Proto: schemas.ProtoTCP,
		Service: y.Service.V, SNI: y.SNI.V, ConnState: y.ConnState.V, History: y.History.V,
		OrigPkts: y.OrigPkts, RespPkts: y.RespPkts, OrigBytes: y.OrigBytes, RespBytes: y.RespBytes,
		OrigIPBytes: -1, RespIPBytes: -1, Interim: y.Interim,
	}
	switch y.Sensor.V {
	case "", "zeek":
	case "suricata":
		f.Sensor = schemas.SensorSuricata
	default:
		return nil, y.Sensor.Line, fmt.Errorf("sensor %q is not zeek or suricata", y.Sensor.V)
	}
	switch strings.ToLower(y.Proto.V) {
	case "", "tcp":
	case "udp":
		f.Proto = schemas.ProtoUDP
	case "icmp":
		f.Proto = schemas.ProtoICMP
	default:
		return nil, y.Proto.Line, fmt.Errorf("proto %q is not tcp, udp or icmp", y.Proto.V)
	}
	orig := y.Orig.V
	if orig == "" {
		orig = defOrig
	}
	var err error
	if f.Orig, err = parseEndpoint(orig, 40000); err != nil {
		return nil, y.Orig.Line, fmt.Errorf("orig: %v", err)
	}
	resp := y.Resp.V
	if resp == "" {
		resp = "198.51.100.1:80"
	}
	if f.Resp, err = parseEndpoint(resp, 0); err != nil {
		return nil, y.Resp.Line, fmt.Errorf("resp: %v", err)
	}
	f.Start = testBase.Add(at).UnixNano()
	f.End = f.Start + int64(y.Duration.V)
	for _, a := range y.Alerts {
		if f.Context == nil {
			f.Context = &schemas.FlowContext{}
		}
		f.Context.Alerts = append(f.Context.Alerts, schemas.IDSAlert{Time: f.Start, GID: 1, Signature: a.Signature, Category: a.Category, Severity: a.Severity})
	}
	n := max(y.Repeat, 1)
	if y.Repeat < 0 || y.Repeat > maxRepeat {
		return nil, y.Vary.Line, fmt.Errorf("repeat must be 0..%d (got %d)", maxRepeat, y.Repeat)
	}
	vary := y.Vary.V
	if vary != "" && vary != "port" && vary != "host" && vary != "none" {
		return nil, y.Vary.Line, fmt.Errorf("vary %q is not port, host or none", vary)
	}
	out := make([]schemas.IDSFlow, 0, n)
	host := f.Resp.Addr()
	for i := range n {
		g := f
		switch vary {
		case "none":
		case "host":
			g.Resp = netip.AddrPortFrom(host, f.Resp.Port())
			if next := host.Next(); next.IsValid() {
				host = next
			}
		default:
			g.Resp = netip.AddrPortFrom(f.Resp.Addr(), f.Resp.Port()+uint16(i))
		}
		g.Start += int64(i) * int64(time.Millisecond)
		g.End += int64(i) * int64(time.Millisecond)
		out = append(out, g)
	}
	return out, 0, nil
}

// parseEndpoint reads "ip", "ip:port" or "[v6]:port".
func parseEndpoint(s string, defPort uint16) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not an address or address:port", s)
	}
	return netip.AddrPortFrom(a.Unmap(), defPort), nil
}

// TestResult is the outcome of one rule test case.
type TestResult struct {
	Rule   string // rule id
	File   string
	Line   int
	Name   string
	Pass   bool
	Detail string // why it failed; empty when it passed
}

// String formats "PASS|FAIL FILE:LINE rule "ID" test "NAME": detail".
func (r TestResult) String() string {
	status := "PASS"
	if !r.Pass {
		status = "FAIL"
	}
	s := fmt.Sprintf("%s %s:%d: rule %q: test %q", status, r.File, r.Line, r.Rule, r.Name)
	if r.Detail != "" {
		s += ": " + r.Detail
	}
	return s
}

// RunTests runs the test cases of every rule in the set (built-in rules
// included), each on a fresh Engine with the set's Config, and returns one
// result per case in rule order. A case's lists are added to the config's
// for that case only.
func (s *Set) RunTests() []TestResult {
	var out []TestResult
	for _, r := range s.rules {
		for _, tc := range r.tests {
			res := TestResult{Rule: r.id, File: r.file, Line: tc.line, Name: tc.name}
			res.Pass, res.Detail = s.runTest(r.id, tc)
			out = append(out, res)
		}
	}
	return out
}

// runTest runs one case against the set (recompiled when the case has
// lists of its own).
func (s *Set) runTest(id string, tc *testCase) (bool, string) {
	set := s
	if len(tc.lists) > 0 {
		var errs []error
		if set, errs = s.withLists(tc.lists); len(errs) > 0 {
			return false, fmt.Sprintf("lists: %v", errs[0])
		}
	}
	e := NewEngine(set, s.cfg)
	for _, p := range tc.prior {
		for i := range p.ids {
			e.ObserveIDS(&p.ids[i])
		}
		if p.rec != nil {
			e.Evaluate(p.rec)
		}
	}
	rec := tc.rec
	hits := e.Evaluate(&rec)
	i := slices.IndexFunc(hits, func(h schemas.RuleHit) bool { return h.ID == id })
	switch {
	case tc.hit && i < 0:
		return false, fmt.Sprintf("expected a hit, got none (rules that fired: %s)", hitIDs(hits))
	case !tc.hit && i >= 0:
		return false, fmt.Sprintf("expected no hit, got one: %q", hits[i].Message)
	case tc.message != nil && hits[i].Message != *tc.message:
		return false, fmt.Sprintf("message is %q, want %q", hits[i].Message, *tc.message)
	}
	return true, ""
}

func hitIDs(hits []schemas.RuleHit) string {
	if len(hits) == 0 {
		return "none"
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	return strings.Join(ids, ", ")
}
