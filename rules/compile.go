package rules

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
	"gopkg.in/yaml.v3"
)

// Class slots index per-class tables; unknown and empty classes share the
// last slot.
const nClassSlots = 7

// classSlot maps a class to its slot.
func classSlot(c schemas.Class) int {
	switch c {
	case schemas.ClassLLMStream:
		return 0
	case schemas.ClassAgentShell:
		return 1
	case schemas.ClassHandoff:
		return 2
	case schemas.ClassAgentExfil:
		return 3
	case schemas.ClassHumanInteractive:
		return 4
	case schemas.ClassOther:
		return 5
	}
	return 6
}

// allClasses is the class mask of a rule without a class condition.
const allClasses = 1<<nClassSlots - 1

// severities are the rule severities, lowest first (as the record's
// aegis.severity; "none" is not a rule severity).
var severities = []string{"none", "low", "medium", "high", "critical"}

// SeverityRank orders severity names: 0 for "none" up to 4 for
// "critical", -1 for anything else. The caller raising a record's severity
// to its highest rule hit compares ranks.
func SeverityRank(name string) int {
	return slices.Index(severities, name)
}

var techniqueRE = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

var tagRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$`)

// rule is a compiled rule; immutable once its Set is built.
type rule struct {
	id, name, desc, severity string
	tags, techs              []string // shared by every hit: read-only
	msg                      *template
	file                     string
	line                     int
	builtin, overrides       bool
	classMask                uint16
	conds                    []cond
	needState                bool // reads per-source state (steps, recon.* in the message)
	refSlot                  int  // history slot when a step refers to this rule, else -1
	order                    int  // index in Set.rules
	tests                    []*testCase
	def                      *ruleDef
}

// compileEnv is what compiling a rule needs from its set.
type compileEnv struct {
	lists    map[string]*prefixSet
	window   time.Duration
	refSlots map[string]int // rule id -> history slot
	ids      map[string]bool
	warnings *[]string
}

// compiler collects one rule's errors.
type compiler struct {
	env  *compileEnv
	def  *ruleDef
	id   string
	errs []error
}

func (cp *compiler) errorf(line int, format string, a ...any) {
	if line == 0 {
		line = cp.def.line
	}
	cp.errs = append(cp.errs, &Error{File: cp.def.file, Line: line, Rule: cp.id, Msg: fmt.Sprintf(format, a...)})
}

// compileRule checks a decoded rule and builds its conditions.
func compileRule(def *ruleDef, env *compileEnv) (*rule, []error) {
	y := def.y
	cp := &compiler{env: env, def: def, id: y.ID.V}
	r := &rule{
		id: y.ID.V, name: y.Name.V, desc: y.Description.V,
		severity: strings.ToLower(y.Severity.V),
		file:     def.file, line: def.line, builtin: def.builtin, overrides: def.overrides,
		classMask: allClasses, refSlot: -1, def: def,
	}
	if s, ok := env.refSlots[r.id]; ok {
		r.refSlot = s
	}
	switch {
	case !y.ID.Set || y.ID.V == "":
		cp.errorf(0, "id is missing; set id: (letters, digits, '.', '_', ':', '-')")
	case !idRE.MatchString(y.ID.V):
		cp.errorf(y.ID.Line, "id %q is not valid: use letters, digits, '.', '_', ':', '-' (at most 64, starting with a letter or digit)", y.ID.V)
	}
	if r.name == "" {
		cp.errorf(0, "name is missing; set name: (a short title for analysts)")
	}
	if SeverityRank(r.severity) < 1 {
		cp.errorf(y.Severity.Line, "severity %q is not one of low, medium, high, critical", y.Severity.V)
	}
	for _, t := range y.Tags.V {
		if !tagRE.MatchString(t.V) {
			cp.errorf(t.Line, "tag %q is not valid: letters, digits, '.', '_', ':', '/', '-' (at most 64)", t.V)
		}
		r.tags = append(r.tags, t.V)
	}
	for _, t := range y.Techniques.V {
		if !techniqueRE.MatchString(t.V) {
			cp.errorf(t.Line, "technique %q is not an ATT&CK technique id; write T1234 or T1234.001", t.V)
		}
		r.techs = append(r.techs, t.V)
	}
	r.tags, r.techs = slices.Clip(r.tags), slices.Clip(r.techs)
	msg := y.Message.V
	if msg == "" {
		msg = "${rule.name}"
	}
	t, err := compileTemplate(msg)
	if err != nil {
		cp.errorf(y.Message.Line, "%v", err)
	} else {
		r.msg = t
		for _, s := range t.segs {
			if s.spec == specReconTargets || s.spec == specReconProbes {
				r.needState = true
			}
		}
	}
	if y.When == nil {
		cp.errorf(0, "when: is missing; a rule needs at least one condition (e.g. when: {class: llm_stream})")
	} else {
		cp.when(r, y.When)
	}
	if len(cp.errs) == 0 {
		r.tests = cp.tests(y.Tests)
	}
	if len(cp.errs) > 0 {
		return nil, cp.errs
	}
	return r, nil
}

// when compiles the conditions, cheapest first.
func (cp *compiler) when(r *rule, w *whenYAML) {
	n0 := len(cp.errs)
	cp.notEmpty(map[string]strList{
		"class": w.Class, "transport": w.Transport, "service": w.Service, "sni": w.SNI, "not_sni": w.NotSNI,
	})
	for key, p := range map[string]portList{"source_port": w.SourcePort, "destination_port": w.DestinationPort} {
		if p.Set && len(p.V) == 0 {
			cp.errorf(p.Line, "%s: is empty; give a port or a list of ports, or leave the key out", key)
		}
	}
	for key, a := range map[string]*addrYAML{"source": w.Source, "destination": w.Destination} {
		if a != nil {
			cp.notEmpty(map[string]strList{key + ".cidr": a.CIDR, key + ".lists": a.Lists, key + ".not_cidr": a.NotCIDR, key + ".not_lists": a.NotLists})
		}
	}
	if ry := w.Route; ry != nil {
		cp.notEmpty(map[string]strList{"route.name": ry.Name, "route.not_name": ry.NotName, "route.provider": ry.Provider, "route.sni": ry.SNI})
	}
	count := 0
	add := func(c cond) {
		r.conds = append(r.conds, c)
		count++
	}
	if len(w.Class.V) > 0 {
		r.classMask = 0
		for _, c := range w.Class.V {
			cl := schemas.Class(c.V)
			if !slices.Contains(schemas.Classes, cl) {
				cp.errorf(c.Line, "class %q is not one of %s", c.V, classList())
				continue
			}
			r.classMask |= 1 << classSlot(cl)
		}
		count++
	}
	if w.Handoff.Set {
		dir := w.Handoff.V
		if dir != "human_to_agent" && dir != "agent_to_human" {
			cp.errorf(w.Handoff.Line, "handoff %q is not human_to_agent or agent_to_human", dir)
		}
		add(cond{op: opHandoff, strs: []string{dir}})
	}
	if w.Confidence != nil {
		add(cond{op: opConfidence, rng: *w.Confidence})
	}
	if w.DurationS != nil {
		add(cond{op: opDuration, rng: *w.DurationS})
	}
	if len(w.Transport.V) > 0 {
		add(cond{op: opTransport, strs: lowerAll(w.Transport.values())})
	}
	if len(w.SourcePort.V) > 0 {
		add(cond{op: opSrcPort, ports: w.SourcePort})
	}
	if len(w.DestinationPort.V) > 0 {
		add(cond{op: opDstPort, ports: w.DestinationPort})
	}
	if len(w.Service.V) > 0 {
		add(cond{op: opService, strs: lowerAll(w.Service.values())})
	}
	for _, tree := range []struct {
		n      *yaml.Node
		prefix string
		key    string
	}{{w.Client.N, "aegis.cadence.client", "client"}, {w.Server.N, "aegis.cadence.server", "server"}, {w.Fields.N, "", "fields"}} {
		if tree.n != nil {
			for _, c := range cp.numTree(tree.n, tree.key, tree.prefix) {
				add(c)
			}
		}
	}
	if w.Route != nil {
		before := count
		cp.route(w.Route, add)
		if count == before {
			cp.errorf(0, "route: is empty; set name, not_name, provider, score or sni")
		}
	}
	if len(w.SNI.V) > 0 {
		add(cond{op: opSNI, globs: cp.globs(w.SNI, "sni")})
	}
	if len(w.NotSNI.V) > 0 {
		add(cond{op: opNotSNI, globs: cp.globs(w.NotSNI, "not_sni")})
	}
	if w.Source != nil {
		cp.addr(w.Source, "source", false, add)
	}
	if w.Destination != nil {
		cp.addr(w.Destination, "destination", true, add)
	}
	for i := range w.PrecededBy {
		if c, ok := cp.step(&w.PrecededBy[i]); ok {
			add(c)
			r.needState = true
		}
	}
	if count == 0 && len(cp.errs) == n0 {
		cp.errorf(0, "when: has no condition; add at least one (e.g. class: llm_stream)")
	}
}

// notEmpty reports lists that were written with no value: an empty
// "class:" would otherwise silently mean "any class".
func (cp *compiler) notEmpty(lists map[string]strList) {
	keys := make([]string, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if l := lists[k]; l.Set && len(l.V) == 0 {
			cp.errorf(l.Line, "%s: is empty; give a value or a list, or leave the key out", k)
		}
	}
}

// classList names the classes for messages.
func classList() string {
	names := make([]string, len(schemas.Classes))
	for i, c := range schemas.Classes {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

// anyEqualFold reports whether s equals one of the lower-case values.
func anyEqualFold(s string, vals []string) bool {
	for _, v := range vals {
		if equalFold(s, v) {
			return true
		}
	}
	return false
}

// serviceMatch compares the record's application protocol (network.protocol,
// else aegis.ids.service) with the values. Zeek writes several services
// comma-separated ("ssl,http"); any of them matches.
func serviceMatch(rec *schemas.Record, vals []string) bool {
	svc := rec.Network.Protocol
	if svc == "" && rec.Aegis.IDS != nil {
		svc = rec.Aegis.IDS.Service
	}
	for svc != "" {
		part, rest, _ := strings.Cut(svc, ",")
		if anyEqualFold(strings.TrimSpace(part), vals) {
			return true
		}
		svc = rest
	}
	return false
}

// sniOf returns the record's TLS server name, "" when it has none.
func sniOf(rec *schemas.Record) string {
	if rec.TLS == nil {
		return ""
	}
	return rec.TLS.Client.ServerName
}

// globs compiles a pattern list, reporting bad patterns at their lines.
func (cp *compiler) globs(l strList, key string) globList {
	out := make(globList, 0, len(l.V))
	for _, s := range l.V {
		g, err := compileGlob(s.V)
		if err != nil {
			cp.errorf(s.Line, "%s: %v", key, err)
			continue
		}
		out = append(out, g)
	}
	return out
}

// route compiles the model-route conditions.
func (cp *compiler) route(ry *routeYAML, add func(cond)) {
	if len(ry.Name.V) > 0 {
		add(cond{op: opRouteName, globs: cp.globs(ry.Name, "route.name")})
	}
	if len(ry.NotName.V) > 0 {
		add(cond{op: opRouteNotName, globs: cp.globs(ry.NotName, "route.not_name")})
	}
	if len(ry.Provider.V) > 0 {
		add(cond{op: opRouteProvider, strs: lowerAll(ry.Provider.values())})
	}
	if ry.Score != nil {
		add(cond{op: opRouteScore, rng: *ry.Score})
	}
	if len(ry.SNI.V) > 0 {
		for _, s := range ry.SNI.V {
			if s.V != "listed" && s.V != "unlisted" && s.V != "none" {
				cp.errorf(s.Line, "route.sni %q is not one of listed, unlisted, none", s.V)
			}
		}
		add(cond{op: opRouteSNI, strs: ry.SNI.values()})
	}
}

// addr compiles a source or destination condition. Positive CIDRs and
// lists match when the address is in any of them. A negation (not_cidr,
// not_lists) holds when the address is in none of them; a negated list
// that is undefined or empty makes the condition false, because "not an
// expected host" means nothing until the expected hosts are listed (so a
// rule built on it stays quiet until the list is configured).
func (cp *compiler) addr(a *addrYAML, key string, dst bool, add func(cond)) {
	pos := cp.prefixes(a.CIDR, key+".cidr")
	neg := cp.prefixes(a.NotCIDR, key+".not_cidr")
	var posLists, negLists []*prefixSet
	negUsable := true
	for _, l := range a.Lists.V {
		if ps := cp.list(l, key+".lists"); ps != nil {
			posLists = append(posLists, ps)
		}
	}
	for _, l := range a.NotLists.V {
		ps := cp.list(l, key+".not_lists")
		if ps.empty() {
			negUsable = false
			continue
		}
		negLists = append(negLists, ps)
	}
	if len(a.CIDR.V)+len(a.Lists.V) > 0 {
		add(cond{op: opAddrIn, dst: dst, set: pos, lists: posLists})
	}
	if len(a.NotCIDR.V)+len(a.NotLists.V) > 0 {
		if negUsable {
			add(cond{op: opAddrNotIn, dst: dst, set: neg, lists: negLists})
		} else {
			add(cond{op: opFalse})
		}
	}
	if len(a.CIDR.V)+len(a.Lists.V)+len(a.NotCIDR.V)+len(a.NotLists.V) == 0 {
		cp.errorf(0, "%s: has no cidr, lists, not_cidr or not_lists", key)
	}
}

// prefixes compiles a CIDR list.
func (cp *compiler) prefixes(l strList, key string) *prefixSet {
	if len(l.V) == 0 {
		return nil
	}
	ps := make([]netip.Prefix, 0, len(l.V))
	for _, s := range l.V {
		p, err := parsePrefix(s.V)
		if err != nil {
			cp.errorf(s.Line, "%s: %v", key, err)
			continue
		}
		ps = append(ps, p)
	}
	return buildPrefixSet(ps)
}

// list resolves a named list; an undefined one is a warning (it matches
// nothing) so that rule files stay valid on sensors that do not define it.
// Built-in rules refer to lists that are unset by default (llm_clients) and
// document it, so they do not warn.
func (cp *compiler) list(l str, key string) *prefixSet {
	if !nameRE.MatchString(l.V) {
		cp.errorf(l.Line, "%s: %q is not a list name", key, l.V)
		return nil
	}
	ps, ok := cp.env.lists[l.V]
	if !ok && cp.env.warnings != nil && !cp.def.builtin {
		*cp.env.warnings = append(*cp.env.warnings, fmt.Sprintf("%s:%d: rule %q: %s: list %q is not defined in the rules config (lists:); the condition treats it as empty", cp.def.file, l.Line, cp.id, key, l.V))
	}
	return ps
}

// numTree compiles a block of numeric ranges keyed by record path. Keys
// nest or use dots: {iat: {p90_ms: {max: 300}}} and {iat.p90_ms: {max:
// 300}} are the same. base is the path the block's keys are under ("" for
// fields:).
func (cp *compiler) numTree(n *yaml.Node, key, base string) []cond {
	var out []cond
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
			cp.errorf(n.Line, "%s: expected field names with ranges, e.g. {bytes: {min: 1000000}}", key)
			return
		}
		if path != base && isRange(n) {
			f, ok := lookupField(path)
			switch {
			case ok && f.leaf == leafNumber:
				var rg numRange
				if err := rg.UnmarshalYAML(n); err != nil {
					cp.errorf(n.Line, "%s: %s", key, typeErrText(err))
					return
				}
				out = append(out, cond{op: opField, field: f, rng: rg})
			case ok:
				cp.errorf(n.Line, "%s: field %q is not a number", key, path)
			default:
				cp.errorf(n.Line, "%s: %q is a block, not a number%s", key, path, suggest(path, base))
			}
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Value == "" {
				cp.errorf(k.Line, "%s: keys must be field names", key)
				continue
			}
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if _, leaf := lookupField(p); !leaf && !isBlock(p) {
				cp.errorf(k.Line, "%s: %q is not a record field%s", key, p, suggest(p, base))
				continue
			}
			walk(v, p)
		}
	}
	walk(n, base)
	return out
}

// isRange reports whether a mapping is a {min, max} range.
func isRange(n *yaml.Node) bool {
	if len(n.Content) == 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		if v := n.Content[i].Value; v != "min" && v != "max" {
			return false
		}
	}
	return true
}

// typeErrText is the message of a *yaml.TypeError without its line.
func typeErrText(err error) string {
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		if m := lineRE.FindStringSubmatch(te.Errors[0]); m != nil {
			return m[2]
		}
		return te.Errors[0]
	}
	return err.Error()
}

// suggest lists the numeric fields nearest to path: inside it when it is
// a block, else beside it, else under base.
func suggest(path, base string) string {
	cands := fieldsUnder(path + ".")
	if len(cands) == 0 {
		if dot := strings.LastIndexByte(path, '.'); dot > 0 {
			cands = fieldsUnder(path[:dot+1])
		}
	}
	if len(cands) == 0 && base != "" {
		cands = fieldsUnder(base + ".")
	}
	if len(cands) == 0 {
		return ""
	}
	if len(cands) > 16 {
		cands = append(cands[:16:16], "...")
	}
	return "; numeric fields there: " + strings.Join(cands, ", ")
}

// maxWithin bounds a step's window.
const maxWithin = 24 * time.Hour

// step compiles one preceded_by step.
func (cp *compiler) step(s *stepYAML) (cond, bool) {
	n := 0
	if s.Recon != nil {
		n++
	}
	if s.Class.Set {
		n++
	}
	if s.Rule.Set {
		n++
	}
	line := max(s.Class.Line, s.Rule.Line, s.Within.Line)
	if n != 1 {
		cp.errorf(line, "preceded_by: each step names exactly one of recon: true, class: CLASS or rule: ID")
		return cond{}, false
	}
	within := cp.env.window
	if s.Within.Set {
		within = s.Within.V
		if within <= 0 || within > maxWithin {
			cp.errorf(s.Within.Line, "preceded_by.within must be > 0 and at most %v (got %v)", maxWithin, within)
			return cond{}, false
		}
	}
	w := int64(within)
	switch {
	case s.Recon != nil:
		if !*s.Recon {
			cp.errorf(line, "preceded_by: recon: false is not a step; leave the step out")
			return cond{}, false
		}
		return cond{op: opRecon, within: w}, true
	case s.Class.Set:
		cl := schemas.Class(s.Class.V)
		if !slices.Contains(schemas.Classes, cl) {
			cp.errorf(s.Class.Line, "preceded_by.class %q is not one of %s", s.Class.V, classList())
			return cond{}, false
		}
		return cond{op: opClassBefore, slot: classSlot(cl), within: w}, true
	}
	slot, ok := cp.env.refSlots[s.Rule.V]
	if !ok || !cp.env.ids[s.Rule.V] {
		cp.errorf(s.Rule.Line, "preceded_by.rule %q is not a loaded rule (unknown or disabled)", s.Rule.V)
		return cond{}, false
	}
	return cond{op: opRuleBefore, slot: slot, within: w}, true
}

// stepRuleRefs lists the rule ids the preceded_by steps of defs refer to.
func stepRuleRefs(defs []*ruleDef) []string {
	var out []string
	for _, d := range defs {
		if d.y.When == nil {
			continue
		}
		for _, s := range d.y.When.PrecededBy {
			if s.Rule.Set && !slices.Contains(out, s.Rule.V) {
				out = append(out, s.Rule.V)
			}
		}
	}
	return out
}

// stepClasses returns the class mask the preceded_by steps of defs refer to.
func stepClasses(defs []*ruleDef) uint16 {
	var m uint16
	for _, d := range defs {
		if d.y.When == nil {
			continue
		}
		for _, s := range d.y.When.PrecededBy {
			if s.Class.Set {
				m |= 1 << classSlot(schemas.Class(s.Class.V))
			}
		}
	}
	return m
}

// maxStepWindow is the longest window any step of defs uses.
func maxStepWindow(defs []*ruleDef, def time.Duration) time.Duration {
	w := def
	for _, d := range defs {
		if d.y.When == nil {
			continue
		}
		for _, s := range d.y.When.PrecededBy {
			if s.Within.Set && s.Within.V > w && s.Within.V <= maxWithin {
				w = s.Within.V
			}
		}
	}
	return w
}
