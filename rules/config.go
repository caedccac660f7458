package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DefaultDir is where Load looks for user rules when Config.Dir is not
// changed. A missing default directory is not an error (built-in rules
// only); a missing directory that was configured explicitly is.
const DefaultDir = "./aegis-data/rules/"

// Config configures rule loading and the engine's per-source state. Start
// from DefaultConfig, change what you need, then call Validate (Load does).
// It decodes from the "rules" block of aegis.yaml. A Config is a plain
// value; Load and NewEngine copy what they keep.
type Config struct {
	// Dir holds user rule files (*.yaml, *.yml; not recursive). Empty means
	// built-in rules only.
	Dir string `yaml:"dir"`
	// Disable lists rule ids (built-in or user) that are not loaded.
	Disable []string `yaml:"disable"`
	// Lists are named CIDR lists (a bare address is a host prefix) that
	// rules refer to with "lists:"/"not_lists:", e.g. llm_clients: the hosts
	// expected to use LLM APIs.
	Lists map[string][]string `yaml:"lists"`
	// SequenceWindow is the default "within" of a preceded_by step, i.e. how
	// long before a flow an earlier event of the same source still counts.
	SequenceWindow time.Duration `yaml:"sequence_window"`
	// MaxSources bounds the per-source state (recon counters and sequence
	// history); when full, the least recently seen source is evicted and
	// counted in Stats.SourcesEvicted.
	MaxSources int `yaml:"max_sources"`
	// Recon tunes the reconnaissance detector fed by Engine.ObserveIDS.
	Recon ReconConfig `yaml:"recon"`
}

// ReconConfig tunes the per-source reconnaissance counters. A probe is an
// IDS record of a short connection attempt that got no answer or was
// refused (see Engine.ObserveIDS); a source is scanning once its probes
// reach MinTargets distinct destination address/port pairs within about
// one to two Windows, or as soon as an IDS alert on one of its flows
// matches AlertPatterns.
type ReconConfig struct {
	// MinTargets is the number of distinct targets (address and port) that
	// make a source a scanner. 20: a client retrying one dead service or a
	// few broken links never gets there; nmap's default scan touches 1,000
	// ports.
	MinTargets int `yaml:"min_targets"`
	// Window is the counting window (record time, not wall-clock time).
	Window time.Duration `yaml:"window"`
	// MaxProbeDuration is the longest connection still counted as a probe
	// (a SYN retried for the kernel's full back-off takes about a minute).
	MaxProbeDuration time.Duration `yaml:"max_probe_duration"`
	// AlertPatterns are globs matched, case-insensitively, against the
	// signature and the category of IDS alerts (Suricata "ET SCAN ...",
	// category "Detection of a Network Scan"); a match flags the source as
	// scanning at once. Empty: alerts are not used.
	AlertPatterns []string `yaml:"alert_patterns"`
	// Exclude lists sources (CIDRs or addresses) whose probes are not
	// counted: the vulnerability scanners and monitoring hosts you run.
	Exclude []string `yaml:"exclude"`
	// Disabled turns the reconnaissance detector off (ObserveIDS then only
	// counts records).
	Disabled bool `yaml:"disabled"`
}

// DefaultConfig returns the defaults: DefaultDir, no lists, a 10-minute
// sequence window, 65,536 tracked sources, and scanning at 20 distinct
// refused or unanswered targets within 5 minutes.
func DefaultConfig() Config {
	return Config{
		Dir:            DefaultDir,
		SequenceWindow: 10 * time.Minute,
		MaxSources:     65536,
		Recon: ReconConfig{
			MinTargets:       20,
			Window:           5 * time.Minute,
			MaxProbeDuration: time.Minute,
			AlertPatterns:    []string{"*scan*"},
		},
	}
}

// Limits Validate enforces.
const (
	maxSequenceWindow = 24 * time.Hour
	maxSourcesLimit   = 10_000_000
	maxReconTargets   = 200 // the distinct-target estimate is exact enough up to here
)

var (
	idRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
	nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)
)

// Validate checks every field and returns all problems at once, each naming
// the key (as in aegis.yaml) and the fix.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("rules: "+format, a...)) }
	seen := map[string]bool{}
	for _, id := range c.Disable {
		if !idRE.MatchString(id) {
			bad("disable: %q is not a rule id (letters, digits, '.', '_', ':', '-'; at most 64)", id)
		}
		if seen[id] {
			bad("disable: %q is listed twice", id)
		}
		seen[id] = true
	}
	names := make([]string, 0, len(c.Lists))
	for name := range c.Lists {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !nameRE.MatchString(name) {
			bad("lists: %q is not a list name (a letter or '_', then letters, digits, '_', '.', '-')", name)
		}
		for _, s := range c.Lists[name] {
			if _, err := parsePrefix(s); err != nil {
				bad("lists.%s: %v", name, err)
			}
		}
	}
	if c.SequenceWindow <= 0 || c.SequenceWindow > maxSequenceWindow {
		bad("sequence_window must be > 0 and at most %v (got %v); e.g. 10m", maxSequenceWindow, c.SequenceWindow)
	}
	if c.MaxSources < 1 || c.MaxSources > maxSourcesLimit {
		bad("max_sources must be 1..%d (got %d); each source costs about 200 bytes", maxSourcesLimit, c.MaxSources)
	}
	r := &c.Recon
	if r.MinTargets < 2 || r.MinTargets > maxReconTargets {
		bad("recon.min_targets must be 2..%d (got %d)", maxReconTargets, r.MinTargets)
	}
	if r.Window <= 0 || r.Window > maxSequenceWindow {
		bad("recon.window must be > 0 and at most %v (got %v); e.g. 5m", maxSequenceWindow, r.Window)
	}
	if r.MaxProbeDuration <= 0 {
		bad("recon.max_probe_duration must be > 0 (got %v); e.g. 1m", r.MaxProbeDuration)
	}
	for _, p := range r.AlertPatterns {
		if _, err := compileGlob(p); err != nil {
			bad("recon.alert_patterns: %v", err)
		}
	}
	for _, s := range r.Exclude {
		if _, err := parsePrefix(s); err != nil {
			bad("recon.exclude: %v", err)
		}
	}
	return errors.Join(errs...)
}

// compileLists parses the named lists (Validate has checked them).
func compileLists(lists map[string][]string) (map[string]*prefixSet, error) {
	out := make(map[string]*prefixSet, len(lists))
	for name, items := range lists {
		ps := make([]netip.Prefix, 0, len(items))
		for _, s := range items {
			p, err := parsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("rules: lists.%s: %w", name, err)
			}
			ps = append(ps, p)
		}
		out[strings.TrimSpace(name)] = buildPrefixSet(ps)
	}
	return out, nil
}
