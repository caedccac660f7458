package cadence

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// defaultProfilesYAML is the embedded route table (profiles/default.yaml).
//
//go:embed profiles/default.yaml
var defaultProfilesYAML []byte

// defaultProfilesName names the embedded file in error messages.
const defaultProfilesName = "embedded profiles/default.yaml"

// LoadProfiles returns the embedded default routes, then applies userFile
// (skipped when empty): an entry whose name matches a route overrides only
// the keys it sets (a nested block such as gap_ms is replaced whole),
// "disabled: true" removes the route, and a new name adds a route, which then
// needs every required key. Decoding is strict: unknown keys, bad values and
// incomplete routes are errors that name the file, the line, the route and
// the fix.
func LoadProfiles(userFile string) (*Profiles, error) {
	p, err := parseProfiles(defaultProfilesName, defaultProfilesYAML, nil)
	if err != nil {
		return nil, err
	}
	if userFile == "" {
		return p, nil
	}
	data, err := os.ReadFile(userFile)
	if err != nil {
		return nil, fmt.Errorf("cadence profiles: %w", err)
	}
	return parseProfiles(userFile, data, p)
}

// ParseProfiles is LoadProfiles for data already in memory: it applies data
// (named name in errors) on top of base, or on top of the embedded defaults
// when base is nil.
func ParseProfiles(name string, data []byte, base *Profiles) (*Profiles, error) {
	if base == nil {
		var err error
		if base, err = parseProfiles(defaultProfilesName, defaultProfilesYAML, nil); err != nil {
			return nil, err
		}
	}
	return parseProfiles(name, data, base)
}

// YAML shapes. Pointers tell "not set" from zero for overrides.
type profileFile struct {
	Version int         `yaml:"version"`
	Routes  []routeYAML `yaml:"routes"`
}

type rangeYAML struct {
	Min *float64 `yaml:"min"`
	Max *float64 `yaml:"max"`
}

type gapYAML struct {
	Mean  *float64 `yaml:"mean"`
	Std   *float64 `yaml:"std"`
	Mu    *float64 `yaml:"mu"`
	Sigma *float64 `yaml:"sigma"`
}

type routeYAML struct {
	Name           *string    `yaml:"name"`
	Provider       *string    `yaml:"provider"`
	Model          *string    `yaml:"model"`
	Servers        *[]string  `yaml:"servers"`
	Gap            *gapYAML   `yaml:"gap_ms"`
	FlushBytes     *rangeYAML `yaml:"flush_bytes"`
	TokensPerFlush *float64   `yaml:"tokens_per_flush"`
	QuantumMs      *float64   `yaml:"quantum_ms"`
	TTFT           *rangeYAML `yaml:"ttft_ms"`
	PacketsP95     *int       `yaml:"packets_p95"`
	Source         *string    `yaml:"source"`
	Disabled       *bool      `yaml:"disabled"`
}

// knownKeys lists the keys of each YAML shape, for unknown-key messages.
var knownKeys = map[string]string{
	"profileFile": "version, routes",
	"routeYAML":   "name, provider, model, servers, gap_ms, flush_bytes, tokens_per_flush, quantum_ms, ttft_ms, packets_p95, source, disabled",
	"gapYAML":     "mean, std (published mean and spread, ms) or mu, sigma (log-normal of ms)",
	"rangeYAML":   "min, max",
}

var unknownFieldRE = regexp.MustCompile(`line (\d+): field (\S+) not found in type cadence\.(\w+)`)

// profileVersion is the only file version understood.
const profileVersion = 1

func parseProfiles(name string, data []byte, base *Profiles) (*Profiles, error) {
	var doc profileFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err)
	}
	if doc.Version != 0 && doc.Version != profileVersion {
		return nil, fmt.Errorf("cadence profiles: %s: version %d is not supported; use version: %d", name, doc.Version, profileVersion)
	}
	lines := routeLines(data)

	var routes []Profile
	if base != nil {
		routes = append(routes, base.routes...)
	}
	index := func(n string) int {
		for i := range routes {
			if routes[i].Name == n {
				return i
			}
		}
		return -1
	}
	seen := map[string]int{}
	for i, ry := range doc.Routes {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		where := fmt.Sprintf("%s: line %d", name, line)
		if ry.Name == nil || strings.TrimSpace(*ry.Name) == "" {
			return nil, fmt.Errorf("cadence profiles: %s: route #%d has no name; set name: provider/model", where, i+1)
		}
		rn := strings.TrimSpace(*ry.Name)
		if prev, dup := seen[rn]; dup {
			return nil, fmt.Errorf("cadence profiles: %s: route %q is defined twice in this file (first at line %d); merge the entries", where, rn, prev)
		}
		seen[rn] = line
		at := index(rn)
		if ry.Disabled != nil && *ry.Disabled {
			if at < 0 {
				return nil, fmt.Errorf("cadence profiles: %s: route %q is disabled but no earlier profile defines it; check the name against the defaults", where, rn)
			}
			routes = append(routes[:at], routes[at+1:]...)
			continue
		}
		var p Profile
		if at >= 0 {
			p = routes[at]
			p.Servers = append([]string(nil), p.Servers...)
		}
		p.Name = rn
		if err := applyRoute(&p, &ry); err != nil {
			return nil, fmt.Errorf("cadence profiles: %s: route %q: %w", where, rn, err)
		}
		if err := validateProfile(&p); err != nil {
			return nil, fmt.Errorf("cadence profiles: %s: route %q: %w", where, rn, err)
		}
		p.bins = lognormalBins(p.LogMu, p.LogSigma)
		p.binEntropy = 0
		for _, q := range p.bins {
			p.binEntropy -= q * math.Log(q)
		}
		if at >= 0 {
			routes[at] = p
		} else {
			routes = append(routes, p)
		}
	}
	return &Profiles{routes: routes}, nil
}

// yamlError rewrites a decoding error to name the file and, for unknown
// keys, the keys that are allowed.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
				msgs = append(msgs, fmt.Sprintf("line %s: unknown key %q (allowed here: %s)", m[1], m[2], knownKeys[m[3]]))
				continue
			}
			msgs = append(msgs, e)
		}
		return fmt.Errorf("cadence profiles: %s: %s", name, strings.Join(msgs, "; "))
	}
	return fmt.Errorf("cadence profiles: %s: %w", name, err)
}

// routeLines returns the line of each entry of the top-level routes list.
func routeLines(data []byte) []int {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil || len(root.Content) == 0 {
		return nil
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "routes" && top.Content[i+1].Kind == yaml.SequenceNode {
			var out []int
			for _, n := range top.Content[i+1].Content {
				out = append(out, n.Line)
			}
			return out
		}
	}
	return nil
}

// applyRoute copies the keys set in ry onto p.
func applyRoute(p *Profile, ry *routeYAML) error {
	if ry.Provider != nil {
		p.Provider = strings.TrimSpace(*ry.Provider)
	}
	if ry.Model != nil {
		p.Model = strings.TrimSpace(*ry.Model)
	}
	if ry.Servers != nil {
		p.Servers = p.Servers[:0]
		for _, s := range *ry.Servers {
			p.Servers = append(p.Servers, normaliseServerName(s))
		}
	}
	if g := ry.Gap; g != nil {
		pair1 := g.Mean != nil || g.Std != nil
		pair2 := g.Mu != nil || g.Sigma != nil
		switch {
		case pair1 && pair2:
			return errors.New("gap_ms: give either mean and std, or mu and sigma, not both")
		case pair1:
			if g.Mean == nil || g.Std == nil {
				return errors.New("gap_ms: mean and std go together; set both (milliseconds)")
			}
			if !(*g.Mean > 0) {
				return fmt.Errorf("gap_ms.mean must be > 0 ms (got %v); set the mean gap between server flushes", *g.Mean)
			}
			if !(*g.Std > 0) {
				return fmt.Errorf("gap_ms.std must be > 0 ms (got %v); set the spread of server flush gaps", *g.Std)
			}
			p.GapMeanMs, p.GapStdMs = *g.Mean, *g.Std
			p.LogMu, p.LogSigma = streamLogNormal(*g.Mean, *g.Std)
		case pair2:
			if g.Mu == nil || g.Sigma == nil {
				return errors.New("gap_ms: mu and sigma go together; set both (natural log of milliseconds)")
			}
			if !(*g.Sigma > 0) {
				return fmt.Errorf("gap_ms.sigma must be > 0 (got %v)", *g.Sigma)
			}
			p.GapMeanMs, p.GapStdMs = 0, 0
			p.LogMu, p.LogSigma = *g.Mu, *g.Sigma
		default:
			return errors.New("gap_ms is empty; set mean and std (ms) or mu and sigma")
		}
	}
	if r := ry.FlushBytes; r != nil {
		if r.Min == nil || r.Max == nil {
			return errors.New("flush_bytes needs min and max (payload bytes per flush)")
		}
		p.FlushBytesMin, p.FlushBytesMax = *r.Min, *r.Max
	}
	if ry.TokensPerFlush != nil {
		p.TokensPerFlush = *ry.TokensPerFlush
	}
	if ry.QuantumMs != nil {
		p.QuantumMs = *ry.QuantumMs
	}
	if r := ry.TTFT; r != nil {
		if r.Min == nil || r.Max == nil {
			return errors.New("ttft_ms needs min and max (milliseconds)")
		}
		p.TTFTMinMs, p.TTFTMaxMs = *r.Min, *r.Max
	}
	if ry.PacketsP95 != nil {
		p.PacketsP95 = *ry.PacketsP95
	}
	if ry.Source != nil {
		p.Source = strings.TrimSpace(*ry.Source)
	}
	return nil
}

// validateProfile checks a complete profile.
func validateProfile(p *Profile) error {
	if strings.ContainsAny(p.Name, " \t\n") {
		return errors.New("name must not contain spaces; use provider/model")
	}
	if p.Provider == "" {
		return errors.New("provider is missing; set provider: (e.g. openai)")
	}
	if !(p.LogSigma > 0) || math.IsNaN(p.LogMu) || math.IsInf(p.LogMu, 0) || math.IsInf(p.LogSigma, 0) {
		return errors.New("gap_ms is missing; set gap_ms: {mean: MS, std: MS}")
	}
	for _, s := range p.Servers {
		if s == "" {
			return errors.New("servers: empty server name; remove it")
		}
		if _, err := path.Match(s, "x"); err != nil {
			return fmt.Errorf("servers: bad pattern %q (%v); use * and ? wildcards", s, err)
		}
	}
	checkRange := func(key string, lo, hi float64) error {
		if lo < 0 || hi < 0 || math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(hi, 0) {
			return fmt.Errorf("%s: min and max must be finite and >= 0 (got %v, %v)", key, lo, hi)
		}
		if hi < lo {
			return fmt.Errorf("%s: max (%v) is below min (%v); swap them", key, hi, lo)
		}
		return nil
	}
	if err := checkRange("flush_bytes", p.FlushBytesMin, p.FlushBytesMax); err != nil {
		return err
	}
	if err := checkRange("ttft_ms", p.TTFTMinMs, p.TTFTMaxMs); err != nil {
		return err
	}
	if p.QuantumMs < 0 || math.IsNaN(p.QuantumMs) || math.IsInf(p.QuantumMs, 0) {
		return fmt.Errorf("quantum_ms must be >= 0 (got %v); 0 means no quantisation", p.QuantumMs)
	}
	if p.TokensPerFlush < 0 || math.IsNaN(p.TokensPerFlush) {
		return fmt.Errorf("tokens_per_flush must be >= 0 (got %v)", p.TokensPerFlush)
	}
	if p.PacketsP95 < 0 {
		return fmt.Errorf("packets_p95 must be >= 0 (got %d)", p.PacketsP95)
	}
	if p.Source == "" {
		return errors.New("source is missing; say where the numbers come from (paper, file, or 'measured on <sensor> <date>')")
	}
	return nil
}

// MaxStreamSigma caps the log-normal spread a published (mean, std) pair
// gives a profile. Published stds pool every gap of many streams, time to
// first token and stalls included (a single 0.8 s first-token gap among 100
// gaps of 40 ms adds ~80 ms of std), so moment matching them gives spreads
// of 1.5-2.5 that no single stream shows; in-stream flush gaps spread about
// 0.4-0.8 in log space. Profiles given as mu/sigma are used as they are.
const MaxStreamSigma = 0.8

// streamLogNormal turns a published mean and std of gaps into the in-stream
// log-normal: sigma from moment matching (sigma² = ln(1 + (std/mean)²)),
// capped at MaxStreamSigma, and mu = ln(mean) - sigma²/2 so that the mean
// is kept.
func streamLogNormal(mean, std float64) (mu, sigma float64) {
	c := std / mean
	sigma = min(math.Sqrt(math.Log1p(c*c)), MaxStreamSigma)
	return math.Log(mean) - sigma*sigma/2, sigma
}
