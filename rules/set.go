package rules

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// builtinFS holds the built-in rules (documented in the README).
//
//go:embed builtin/*.yaml
var builtinFS embed.FS

// Set is a loaded, compiled rule set. It is immutable and safe for
// concurrent use; an Engine evaluates it.
type Set struct {
	rules         []*rule
	byClass       [nClassSlots][]*rule
	lockClasses   uint16 // classes whose evaluation reads or writes per-source state
	recordClasses uint16 // classes a preceded_by step refers to
	refIDs        []string
	maxWindow     time.Duration
	gen           uint64
	warnings      []string
	defs          []*ruleDef // what the rules were compiled from (for test cases)
	cfg           Config
}

var setGen atomic.Uint64

func emptySet() *Set { return &Set{gen: setGen.Add(1)} }

// RuleInfo describes one loaded rule.
type RuleInfo struct {
	ID          string
	Name        string
	Description string
	Severity    string
	Tags        []string
	Techniques  []string
	Message     string // the template as written
	File        string // "builtin/NAME.yaml" for built-in rules
	Line        int
	Builtin     bool
	Overrides   bool // a user rule that replaced the built-in rule with its id
	Tests       int  // test cases the rule carries
	// SequenceWindow is the longest window of the rule's preceded_by
	// steps: 0 for a single-flow rule, positive for a sequence
	// (multi-flow, campaign) rule.
	SequenceWindow time.Duration
}

// Rules lists the rules in evaluation order (built-in first, then user
// files by name). The slices in RuleInfo are copies.
func (s *Set) Rules() []RuleInfo {
	out := make([]RuleInfo, len(s.rules))
	for i, r := range s.rules {
		out[i] = RuleInfo{
			ID: r.id, Name: r.name, Description: r.desc, Severity: r.severity,
			Tags: slices.Clone(r.tags), Techniques: slices.Clone(r.techs), Message: r.msg.src,
			File: r.file, Line: r.line, Builtin: r.builtin, Overrides: r.overrides, Tests: len(r.tests),
			SequenceWindow: r.sequenceWindow(),
		}
	}
	return out
}

// Warnings lists problems that do not stop loading (a rule refers to a
// named list the config does not define).
func (s *Set) Warnings() []string { return slices.Clone(s.warnings) }

// Load returns the built-in rules plus the rule files (*.yaml, *.yml) in
// cfg.Dir, with cfg.Disable left out and a user rule replacing the built-in
// rule of the same id. A missing DefaultDir is fine (built-ins only); a
// missing directory configured otherwise is an error. Every problem is
// reported, each as an *Error naming the file, line and rule id, joined.
func Load(cfg Config) (*Set, error) {
	s, errs := load(cfg, cfg.Dir != DefaultDir)
	if len(errs) > 0 {
		return nil, fmt.Errorf("rules: %w", errors.Join(errs...))
	}
	return s, nil
}

// Check validates the rule files in dir (which must exist) together with
// the built-in rules, with the default configuration, and returns every
// problem (nil when there is none). Rule test cases are checked for shape,
// not run (see Set.RunTests).
func Check(dir string) []error {
	cfg := DefaultConfig()
	cfg.Dir = dir
	_, errs := load(cfg, true)
	return errs
}

// load does the work of Load and Check; problems come sorted by file and
// line.
func load(cfg Config, explicit bool) (*Set, []error) {
	s, errs := loadUnsorted(cfg, explicit)
	slices.SortStableFunc(errs, func(a, b error) int {
		var ea, eb *Error
		if !errors.As(a, &ea) || !errors.As(b, &eb) {
			return 0
		}
		if c := strings.Compare(ea.File, eb.File); c != 0 {
			return c
		}
		return ea.Line - eb.Line
	})
	return s, errs
}

func loadUnsorted(cfg Config, explicit bool) (*Set, []error) {
	if err := cfg.Validate(); err != nil {
		return nil, []error{err}
	}
	var errs []error
	builtins, berrs := builtinDefs()
	errs = append(errs, berrs...)
	user, uerrs := dirDefs(cfg.Dir, explicit)
	errs = append(errs, uerrs...)
	defs, merrs := merge(builtins, user, cfg.Disable)
	errs = append(errs, merrs...)
	if len(errs) > 0 {
		// Compile what we have anyway, to report those problems too.
		_, cerrs := compileSet(defs, cfg)
		return nil, append(errs, cerrs...)
	}
	s, cerrs := compileSet(defs, cfg)
	if len(cerrs) > 0 {
		return nil, cerrs
	}
	return s, nil
}

// builtinDefs parses the embedded rules.
func builtinDefs() ([]*ruleDef, []error) {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		return nil, []error{fmt.Errorf("builtin rules: %w", err)}
	}
	var defs []*ruleDef
	var errs []error
	for _, e := range entries {
		name := path.Join("builtin", e.Name())
		data, err := builtinFS.ReadFile(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("builtin rules: %w", err))
			continue
		}
		d, es := parseFile(name, data, true)
		defs = append(defs, d...)
		errs = append(errs, es...)
	}
	return defs, errs
}

// dirDefs parses the rule files of dir, sorted by name.
func dirDefs(dir string, explicit bool) ([]*ruleDef, []error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			return nil, nil
		}
		return nil, []error{&Error{File: dir, Msg: fmt.Sprintf("cannot read the rules directory: %v; create it or set rules.dir", unwrapPath(err))}}
	}
	var defs []*ruleDef
	var errs []error
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") || e.IsDir() {
			continue
		}
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))})
			continue
		}
		d, es := parseFile(p, data, false)
		defs = append(defs, d...)
		errs = append(errs, es...)
	}
	return defs, errs
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// merge applies overrides and the disable list. Built-in rules keep their
// order; a user rule with a built-in id takes the built-in's place.
func merge(builtins, user []*ruleDef, disable []string) ([]*ruleDef, []error) {
	var errs []error
	defs := slices.Clone(builtins)
	where := map[string]*ruleDef{}
	for _, d := range builtins {
		if prev, ok := where[d.y.ID.V]; ok {
			errs = append(errs, &Error{File: d.file, Line: d.line, Rule: d.y.ID.V, Msg: fmt.Sprintf("id is already used at %s:%d", prev.file, prev.line)})
		}
		where[d.y.ID.V] = d
	}
	userSeen := map[string]*ruleDef{}
	for _, d := range user {
		id := d.y.ID.V
		if prev, ok := userSeen[id]; ok && id != "" {
			errs = append(errs, &Error{File: d.file, Line: d.line, Rule: id, Msg: fmt.Sprintf("id is already used at %s:%d; rule ids must be unique", prev.file, prev.line)})
			continue
		}
		userSeen[id] = d
		if i := slices.IndexFunc(defs, func(b *ruleDef) bool { return b.builtin && b.y.ID.V == id }); i >= 0 && id != "" {
			d.overrides = true
			defs[i] = d
			continue
		}
		defs = append(defs, d)
	}
	for _, id := range disable {
		i := slices.IndexFunc(defs, func(d *ruleDef) bool { return d.y.ID.V == id })
		if i < 0 {
			errs = append(errs, fmt.Errorf("rules: disable: no rule has id %q (see 'aegis rules list')", id))
			continue
		}
		defs = slices.Delete(defs, i, i+1)
	}
	return defs, errs
}

// compileSet compiles defs into a Set.
func compileSet(defs []*ruleDef, cfg Config) (*Set, []error) {
	lists, err := compileLists(cfg.Lists)
	if err != nil {
		return nil, []error{err}
	}
	s := &Set{gen: setGen.Add(1), defs: defs, cfg: cfg}
	env := &compileEnv{
		lists:    lists,
		window:   cfg.SequenceWindow,
		refSlots: map[string]int{},
		ids:      map[string]bool{},
		warnings: &s.warnings,
	}
	for _, d := range defs {
		env.ids[d.y.ID.V] = true
	}
	for _, id := range stepRuleRefs(defs) {
		if env.ids[id] {
			env.refSlots[id] = len(s.refIDs)
			s.refIDs = append(s.refIDs, id)
		}
	}
	var errs []error
	for _, d := range defs {
		r, es := compileRule(d, env)
		if len(es) > 0 {
			errs = append(errs, es...)
			continue
		}
		r.order = len(s.rules)
		s.rules = append(s.rules, r)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	s.recordClasses = stepClasses(defs)
	s.maxWindow = maxStepWindow(defs, cfg.SequenceWindow)
	s.lockClasses = s.recordClasses
	for slot := range nClassSlots {
		for _, r := range s.rules {
			if r.classMask&(1<<slot) == 0 {
				continue
			}
			s.byClass[slot] = append(s.byClass[slot], r)
			if r.needState || r.refSlot >= 0 {
				s.lockClasses |= 1 << slot
			}
		}
	}
	return s, nil
}

// withLists recompiles the set with extra named lists (for test cases).
func (s *Set) withLists(extra map[string][]string) (*Set, []error) {
	cfg := s.cfg
	cfg.Lists = make(map[string][]string, len(s.cfg.Lists)+len(extra))
	for k, v := range s.cfg.Lists {
		cfg.Lists[k] = v
	}
	for k, v := range extra {
		cfg.Lists[k] = v
	}
	return compileSet(s.defs, cfg)
}
