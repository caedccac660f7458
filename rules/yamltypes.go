package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Leaf types of the rule file. Each remembers the line it was written on so
// that semantic errors found after decoding (a bad CIDR, an unknown class)
// can name it. They reject the wrong YAML shape themselves and report it as
// a *yaml.TypeError so that the decoder keeps going and reports every
// problem of the file at once.

// typeErr is a decoding error at n's line.
func typeErr(n *yaml.Node, format string, a ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, a...))}}
}

// str is a scalar string.
type str struct {
	V    string
	Line int
	Set  bool
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *str) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErr(n, "expected a single value, got %s", kindName(n))
	}
	if n.ShortTag() == "!!null" {
		*s = str{Line: n.Line}
		return nil
	}
	*s = str{V: strings.TrimSpace(n.Value), Line: n.Line, Set: true}
	return nil
}

// strList is one scalar or a sequence of scalars.
type strList struct {
	V    []str
	Line int
	Set  bool // the key was written (possibly with no value)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *strList) UnmarshalYAML(n *yaml.Node) error {
	l.Line, l.Set = n.Line, true
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil
		}
		l.V = []str{{V: strings.TrimSpace(n.Value), Line: n.Line, Set: true}}
		return nil
	case yaml.SequenceNode:
		for _, c := range n.Content {
			var s str
			if err := s.UnmarshalYAML(c); err != nil {
				return err
			}
			l.V = append(l.V, s)
		}
		return nil
	}
	return typeErr(n, "expected a value or a list of values, got %s", kindName(n))
}

// values returns the strings.
func (l *strList) values() []string {
	out := make([]string, len(l.V))
	for i, s := range l.V {
		out[i] = s.V
	}
	return out
}

// numRange is {min: X, max: Y} with either bound optional (inclusive).
type numRange struct {
	Min, Max       float64
	HasMin, HasMax bool
	Line           int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *numRange) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return typeErr(n, "expected a range {min: X, max: Y}, got %s", kindName(n))
	}
	*r = numRange{Line: n.Line}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		x, err := parseNumber(v)
		if err != nil {
			return err
		}
		switch k.Value {
		case "min":
			if r.HasMin {
				return typeErr(k, "min is given twice")
			}
			r.Min, r.HasMin = x, true
		case "max":
			if r.HasMax {
				return typeErr(k, "max is given twice")
			}
			r.Max, r.HasMax = x, true
		default:
			return typeErr(k, "unknown key %q in a range (allowed here: min, max)", k.Value)
		}
	}
	switch {
	case !r.HasMin && !r.HasMax:
		return typeErr(n, "empty range; set min, max or both")
	case r.HasMin && r.HasMax && r.Min > r.Max:
		return typeErr(n, "range max (%v) is below min (%v); swap them", r.Max, r.Min)
	}
	return nil
}

// contains reports whether x is inside the range (NaN never is).
func (r *numRange) contains(x float64) bool {
	if math.IsNaN(x) {
		return false
	}
	return (!r.HasMin || x >= r.Min) && (!r.HasMax || x <= r.Max)
}

// parseNumber reads a finite number scalar.
func parseNumber(n *yaml.Node) (float64, error) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		return 0, typeErr(n, "expected a number, got %q", n.Value)
	}
	x, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil {
		if i, ierr := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); ierr == nil {
			return float64(i), nil
		}
		return 0, typeErr(n, "expected a number, got %q", n.Value)
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, typeErr(n, "expected a finite number, got %q", n.Value)
	}
	return x, nil
}

// portRange is an inclusive port range.
type portRange struct{ lo, hi uint16 }

// portList is a port, "lo-hi", or a list of them.
type portList struct {
	V    []portRange
	Line int
	Set  bool // the key was written (possibly with no value)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *portList) UnmarshalYAML(n *yaml.Node) error {
	p.Line, p.Set = n.Line, true
	if n.ShortTag() == "!!null" {
		return nil
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, c := range items {
		if c.Kind != yaml.ScalarNode {
			return typeErr(c, "expected a port or a range \"lo-hi\", got %s", kindName(c))
		}
		lo, hi, isRange := strings.Cut(c.Value, "-")
		a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		}
		if err1 != nil || err2 != nil {
			return typeErr(c, "bad port %q; write a number 0-65535 or a range such as \"8000-8100\"", c.Value)
		}
		if b < a {
			return typeErr(c, "port range %q runs backwards; write \"%d-%d\"", c.Value, b, a)
		}
		p.V = append(p.V, portRange{uint16(a), uint16(b)})
	}
	return nil
}

// match reports whether port is in any range.
func (p *portList) match(port uint16) bool {
	for _, r := range p.V {
		if port >= r.lo && port <= r.hi {
			return true
		}
	}
	return false
}

// dur is a Go duration string ("10m", "90s").
type dur struct {
	V    time.Duration
	Line int
	Set  bool
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *dur) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErr(n, "expected a duration such as 10m, got %s", kindName(n))
	}
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return typeErr(n, "bad duration %q; write e.g. 90s, 10m, 1h30m", n.Value)
	}
	*d = dur{V: v, Line: n.Line, Set: true}
	return nil
}

// node keeps a subtree for later, hand-checked decoding.
type node struct{ N *yaml.Node }

// UnmarshalYAML implements yaml.Unmarshaler.
func (x *node) UnmarshalYAML(n *yaml.Node) error {
	x.N = n
	return nil
}

// kindName describes a node for messages: the value of a scalar, else its
// kind.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("%q", v)
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	return "a node"
}
