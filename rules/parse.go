package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem with a rule file: where it is and which rule it
// belongs to. Load joins them; Check returns them one by one.
type Error struct {
	File string // file name (built-in files are "builtin/NAME.yaml")
	Line int    // 1-based; 0 when the problem has no single line
	Rule string // rule id; empty when the problem is not inside a rule
	Msg  string
}

// Error formats "FILE:LINE: rule "ID": message".
func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Rule != "" {
		return fmt.Sprintf("%s: rule %q: %s", loc, e.Rule, e.Msg)
	}
	return loc + ": " + e.Msg
}

// The YAML shapes of a rule file. Decoding is strict: an unknown key is an
// error naming the keys allowed at that place.

// fileYAML is one rule file.
type fileYAML struct {
	Version int        `yaml:"version"`
	Rules   []ruleYAML `yaml:"rules"`
}

// ruleYAML is one rule.
type ruleYAML struct {
	ID          str        `yaml:"id"`
	Name        str        `yaml:"name"`
	Description str        `yaml:"description"`
	Severity    str        `yaml:"severity"`
	Tags        strList    `yaml:"tags"`
	Techniques  strList    `yaml:"techniques"`
	Message     str        `yaml:"message"`
	When        *whenYAML  `yaml:"when"`
	Tests       []testYAML `yaml:"tests"`
}

// whenYAML is a rule's conditions; all must hold.
type whenYAML struct {
	Class           strList    `yaml:"class"`
	Confidence      *numRange  `yaml:"confidence"`
	DurationS       *numRange  `yaml:"duration_s"`
	Handoff         str        `yaml:"handoff"`
	Transport       strList    `yaml:"transport"`
	Service         strList    `yaml:"service"`
	SourcePort      portList   `yaml:"source_port"`
	DestinationPort portList   `yaml:"destination_port"`
	Source          *addrYAML  `yaml:"source"`
	Destination     *addrYAML  `yaml:"destination"`
	SNI             strList    `yaml:"sni"`
	NotSNI          strList    `yaml:"not_sni"`
	Route           *routeYAML `yaml:"route"`
	Client          node       `yaml:"client"`
	Server          node       `yaml:"server"`
	Fields          node       `yaml:"fields"`
	PrecededBy      []stepYAML `yaml:"preceded_by"`
}

// addrYAML is a source or destination address condition.
type addrYAML struct {
	CIDR     strList `yaml:"cidr"`
	Lists    strList `yaml:"lists"`
	NotCIDR  strList `yaml:"not_cidr"`
	NotLists strList `yaml:"not_lists"`
}

// routeYAML is a model-route condition.
type routeYAML struct {
	Name     strList   `yaml:"name"`
	NotName  strList   `yaml:"not_name"`
	Provider strList   `yaml:"provider"`
	Score    *numRange `yaml:"score"`
	SNI      strList   `yaml:"sni"`
}

// stepYAML is one earlier event of the same source: exactly one of recon,
// class or rule, within a window.
type stepYAML struct {
	Recon  *bool `yaml:"recon"`
	Class  str   `yaml:"class"`
	Rule   str   `yaml:"rule"`
	Within dur   `yaml:"within"`
}

// testYAML is one test case of a rule.
type testYAML struct {
	Name    str                `yaml:"name"`
	Expect  str                `yaml:"expect"`
	Message *str               `yaml:"message"`
	Lists   map[string]strList `yaml:"lists"`
	Prior   []priorYAML        `yaml:"prior"`
	Record  node               `yaml:"record"`
}

// priorYAML is context a test case feeds the engine before its record.
type priorYAML struct {
	At     dur      `yaml:"at"`
	IDS    *idsYAML `yaml:"ids"`
	Record node     `yaml:"record"`
}

// idsYAML is an IDS record in a test case (Zeek conn.log names).
type idsYAML struct {
	Sensor    str         `yaml:"sensor"`
	Orig      str         `yaml:"orig"`
	Resp      str         `yaml:"resp"`
	Proto     str         `yaml:"proto"`
	Service   str         `yaml:"service"`
	SNI       str         `yaml:"sni"`
	ConnState str         `yaml:"conn_state"`
	History   str         `yaml:"history"`
	OrigPkts  int64       `yaml:"orig_pkts"`
	RespPkts  int64       `yaml:"resp_pkts"`
	OrigBytes int64       `yaml:"orig_bytes"`
	RespBytes int64       `yaml:"resp_bytes"`
	Duration  dur         `yaml:"duration"`
	Interim   bool        `yaml:"interim"`
	Alerts    []alertYAML `yaml:"alerts"`
	Repeat    int         `yaml:"repeat"`
	Vary      str         `yaml:"vary"`
}

// alertYAML is an IDS alert in a test case.
type alertYAML struct {
	Signature string `yaml:"signature"`
	Category  string `yaml:"category"`
	Severity  int    `yaml:"severity"`
}

// allowedKeys names the keys of each shape for unknown-key messages.
var allowedKeys = map[string]string{
	"fileYAML":  "version, rules",
	"ruleYAML":  "id, name, description, severity, tags, techniques, message, when, tests",
	"whenYAML":  "class, confidence, duration_s, handoff, transport, service, source_port, destination_port, source, destination, sni, not_sni, route, client, server, fields, preceded_by",
	"addrYAML":  "cidr, lists, not_cidr, not_lists",
	"routeYAML": "name, not_name, provider, score, sni",
	"stepYAML":  "recon, class, rule, within",
	"testYAML":  "name, expect, message, lists, prior, record",
	"priorYAML": "at, ids, record",
	"idsYAML":   "sensor, orig, resp, proto, service, sni, conn_state, history, orig_pkts, resp_pkts, orig_bytes, resp_bytes, duration, interim, alerts, repeat, vary",
	"alertYAML": "signature, category, severity",
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type rules\.(\w+)$`)
	lineRE         = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	goTypeRE       = regexp.MustCompile(`into (?:\[\]|\*|map\[string\])*rules\.(\w+)`)
)

// fileVersion is the only rule file version understood.
const fileVersion = 1

// maxFileBytes bounds one rule file.
const maxFileBytes = 4 << 20

// ruleDef is a decoded rule before compilation.
type ruleDef struct {
	file    string
	line    int
	builtin bool
	y       *ruleYAML
	// overrides is set on a user rule that replaces a built-in one.
	overrides bool
}

// span is a rule's place in its file, for attributing decode errors.
type span struct {
	line int
	id   string
}

// parseFile decodes one rule file. It returns the rules that decoded
// cleanly and every problem found; a rule with a decoding problem is left
// out.
func parseFile(name string, data []byte, builtin bool) ([]*ruleDef, []error) {
	if len(data) > maxFileBytes {
		return nil, []error{&Error{File: name, Msg: fmt.Sprintf("file is %d bytes; rule files are limited to %d", len(data), maxFileBytes)}}
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty file
		}
		return nil, []error{syntaxError(name, err, nil, data)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		return nil, []error{&Error{File: name, Line: line, Msg: "a rule file holds one YAML document; remove the '---' and merge the rules lists"}}
	}
	spans, items, perr := ruleSpans(name, &root)
	if perr != nil {
		return nil, []error{perr}
	}

	var errs []error
	bad := map[int]bool{} // rule indexes with decode errors
	for i, item := range items {
		for _, e := range nullValues(name, item, spans[i].id) {
			errs = append(errs, e)
			bad[i] = true
		}
	}

	var doc fileYAML
	sd := yaml.NewDecoder(bytes.NewReader(data))
	sd.KnownFields(true)
	if err := sd.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, []error{syntaxError(name, err, spans, data)}
		}
		for _, msg := range te.Errors {
			e := decodeError(name, msg, spans)
			if i := spanIndex(spans, e.Line); i >= 0 {
				bad[i] = true
			} else if e.Line == 0 {
				// unattributable: distrust the whole file
				for i := range spans {
					bad[i] = true
				}
			}
			errs = append(errs, e)
		}
	}
	if doc.Version != 0 && doc.Version != fileVersion {
		return nil, append(errs, &Error{File: name, Line: 1, Msg: fmt.Sprintf("version %d is not supported; use version: %d", doc.Version, fileVersion)})
	}
	var defs []*ruleDef
	for i := range doc.Rules {
		if bad[i] || i >= len(spans) {
			continue
		}
		defs = append(defs, &ruleDef{file: name, line: spans[i].line, builtin: builtin, y: &doc.Rules[i]})
	}
	return defs, errs
}

// ruleSpans checks the file's outline and returns the entries of the
// top-level rules list with the first line and id of each.
func ruleSpans(name string, root *yaml.Node) ([]span, []*yaml.Node, error) {
	if len(root.Content) == 0 {
		return nil, nil, nil
	}
	top := root.Content[0]
	if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
		return nil, nil, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, nil, &Error{File: name, Line: top.Line, Msg: "a rule file is a mapping with a 'rules:' list (and optionally 'version: 1')"}
	}
	var seq *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "rules" {
			seq = top.Content[i+1]
			break // a second "rules" key is the strict decoder's error
		}
	}
	if seq == nil || (seq.Kind == yaml.ScalarNode && seq.ShortTag() == "!!null") {
		return nil, nil, nil
	}
	if seq.Kind != yaml.SequenceNode {
		return nil, nil, &Error{File: name, Line: seq.Line, Msg: "'rules:' must be a list of rules (each starting with '- id: ...')"}
	}
	spans := make([]span, 0, len(seq.Content))
	for _, item := range seq.Content {
		s := span{line: item.Line}
		if item.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(item.Content); j += 2 {
				if item.Content[j].Value == "id" && item.Content[j+1].Kind == yaml.ScalarNode {
					s.id = strings.TrimSpace(item.Content[j+1].Value)
				}
			}
		}
		spans = append(spans, s)
	}
	return spans, seq.Content, nil
}

// nullValues reports keys written without a value inside a rule: the YAML
// decoder treats "class:" like a missing key, which would silently widen
// the rule. Record fragments of test cases may hold nulls.
func nullValues(name string, n *yaml.Node, id string) []error {
	var errs []error
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if depth > 64 {
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "record" {
					continue
				}
				if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
					errs = append(errs, &Error{File: name, Line: k.Line, Rule: id, Msg: fmt.Sprintf("%s: has no value; give one or leave the key out", k.Value)})
					continue
				}
				walk(v, depth+1)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, depth+1)
			}
		}
	}
	walk(n, 0)
	return errs
}

// spanIndex returns the rule whose text contains line, or -1.
func spanIndex(spans []span, line int) int {
	idx := -1
	for i, s := range spans {
		if line >= s.line {
			idx = i
		}
	}
	return idx
}

// decodeError turns one yaml.TypeError message into an *Error.
func decodeError(name, msg string, spans []span) *Error {
	e := &Error{File: name, Msg: msg}
	if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = fmt.Sprintf("unknown key %q (allowed here: %s)", m[2], allowedKeys[m[3]])
	} else if m := lineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = goTypeRE.ReplaceAllStringFunc(m[2], func(s string) string {
			if keys, ok := allowedKeys[goTypeRE.FindStringSubmatch(s)[1]]; ok {
				return "here; expected a mapping with keys " + keys
			}
			return "here"
		})
	}
	if i := spanIndex(spans, e.Line); i >= 0 && e.Line > 0 {
		e.Rule = spans[i].id
	}
	return e
}

// syntaxError wraps a YAML syntax error. The document did not parse, so
// the rule id is guessed from the last "id:" line at or before the error.
func syntaxError(name string, err error, spans []span, data []byte) *Error {
	e := &Error{File: name, Msg: "YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "YAML: " + m[2]
		if i := spanIndex(spans, e.Line); i >= 0 {
			e.Rule = spans[i].id
		} else {
			e.Rule = guessID(data, e.Line)
		}
	}
	return e
}

var idLineRE = regexp.MustCompile(`^\s*(?:-\s+)?id:\s*["']?([A-Za-z0-9][A-Za-z0-9._:-]{0,63})["']?\s*(?:#.*)?$`)

// guessID returns the id of the last "id:" line at or before line.
func guessID(data []byte, line int) string {
	id := ""
	for i, l := range strings.SplitN(string(data), "\n", line+1) {
		if i >= line {
			break
		}
		if m := idLineRE.FindStringSubmatch(strings.TrimRight(l, "\r")); m != nil {
			id = m[1]
		}
	}
	return id
}
