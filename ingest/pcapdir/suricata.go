package pcapdir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Warning is one Suricata setting that would keep packets Aegis needs out
// of the pcap-log files, or that the Source configuration must follow.
type Warning struct {
	// File is the YAML file the setting is in (the main file for a
	// setting that is absent and takes its default).
	File string
	// Line is the 1-based line of the setting, 0 when it is absent.
	Line int
	// Setting is the dotted path of the setting, as in Suricata's
	// --set option ("outputs.pcap-log.use-stream-depth").
	Setting string
	// Value is the setting's value as written ("" when absent).
	Value string
	// Message says why it matters and what to change.
	Message string
}

// String formats the warning as "file:line: setting: value: message".
func (w Warning) String() string {
	loc := w.File
	if w.Line > 0 {
		loc += ":" + strconv.Itoa(w.Line)
	}
	if w.Value != "" {
		return fmt.Sprintf("%s: %s: %s: %s", loc, w.Setting, w.Value, w.Message)
	}
	return fmt.Sprintf("%s: %s: %s", loc, w.Setting, w.Message)
}

// CheckOptions tunes CheckSuricataConfig's retention check.
type CheckOptions struct {
	// JoinDelay is how long after a flow's packets Aegis may still need
	// to read them from the ring (the IDS record arrives when the flow
	// ends, Suricata's TCP established timeout is 600 s by default, then
	// the join waits and may backfill). Default 15 minutes.
	JoinDelay time.Duration
	// BytesPerSecond is the peak rate one Suricata thread writes pcap-log
	// at. Default 125 MB/s (1 Gbit/s).
	BytesPerSecond float64
}

// Defaults for CheckOptions.
const (
	DefaultJoinDelay      = 15 * time.Minute
	DefaultBytesPerSecond = 125e6
)

// CheckSuricataConfig reads a suricata.yaml (and the files it includes)
// with the default CheckOptions. See CheckOptions.Check.
func CheckSuricataConfig(path string) ([]Warning, error) {
	return CheckOptions{}.Check(path)
}

// Check reads a suricata.yaml (and the files it includes) and warns about
// every setting that would keep the encrypted packets Aegis measures out
// of the pcap-log files, or that shapes how the Source must be set up:
//
//   - outputs.pcap-log absent or not enabled: no packets at all;
//   - use-stream-depth: yes: logging stops at stream.reassembly.depth and
//     for streams no longer reassembled (encrypted TLS after the
//     handshake), which drops the long encrypted tails Aegis measures;
//   - honor-pass-rules: yes: flows matching a pass rule (often used to
//     quiet TLS to well-known services) stop being logged;
//   - conditional: alerts or tag: only flows with alerts are logged;
//   - compression: lz4: files Aegis cannot read;
//   - stream.bypass: yes and any encryption-handling: bypass
//     (app-layer.protocols.tls, ssh, ...): Suricata stops seeing the flow,
//     so pcap-log stops logging it;
//   - mode: sguil (dated subdirectories; removed in Suricata 8) and
//     multi (one file series per thread, merged by time): the pattern to
//     configure;
//   - limit × max-files holding less than JoinDelay of traffic at
//     BytesPerSecond: the ring deletes packets before a late IDS record
//     can ask for them.
//
// The error is for a file that cannot be read or parsed (naming it and
// the line); an included file that cannot be read is a warning.
func (o CheckOptions) Check(path string) ([]Warning, error) {
	if o.JoinDelay <= 0 {
		o.JoinDelay = DefaultJoinDelay
	}
	if o.BytesPerSecond <= 0 {
		o.BytesPerSecond = DefaultBytesPerSecond
	}
	c := &suricataConf{main: path, settings: map[string]setting{}, seen: map[string]bool{}}
	if err := c.load(path, ""); err != nil {
		return nil, err
	}
	return c.check(o), nil
}

// setting is one scalar of the configuration.
type setting struct {
	file  string
	line  int
	value string
}

type suricataConf struct {
	main     string
	settings map[string]setting // dotted path → last value loaded
	warnings []Warning
	seen     map[string]bool // files loaded (include cycles)
}

// load parses one YAML file into settings under prefix.
func (c *suricataConf) load(path, prefix string) error {
	abs, _ := filepath.Abs(path)
	if c.seen[abs] {
		return nil
	}
	c.seen[abs] = true
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pcapdir: suricata config %s: %w", path, err)
	}
	// Suricata files start with "%YAML 1.1": blank the directive (keeping
	// line numbers) so that any YAML 1.2 reader takes the rest.
	if bytes.HasPrefix(b, []byte("%YAML")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i:]
		} else {
			b = nil
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("pcapdir: suricata config %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	c.walk(doc.Content[0], prefix, path)
	return nil
}

// walk flattens a node into dotted settings. Sequence items that are
// one-key mappings ("outputs: - pcap-log: ...") flatten under their key.
// "include" keys load the named files in place.
func (c *suricataConf) walk(n *yaml.Node, prefix, file string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "include" {
				c.include(v, prefix, file)
				continue
			}
			path := k.Value
			if prefix != "" {
				path = prefix + "." + k.Value
			}
			val := ""
			if v.Kind == yaml.ScalarNode {
				val = v.Value
			}
			c.settings[path] = setting{file: file, line: k.Line, value: val}
			c.walk(v, path, file)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind == yaml.MappingNode {
				c.walk(item, prefix, file)
			}
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			c.walk(n.Alias, prefix, file)
		}
	}
}

// include loads the files an include key names (a string or a list),
// relative to the including file's directory.
func (c *suricataConf) include(v *yaml.Node, prefix, file string) {
	var names []*yaml.Node
	switch v.Kind {
	case yaml.ScalarNode:
		names = []*yaml.Node{v}
	case yaml.SequenceNode:
		names = v.Content
	}
	for _, nm := range names {
		p := nm.Value
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		if err := c.load(p, prefix); err != nil {
			c.warnings = append(c.warnings, Warning{File: file, Line: nm.Line, Setting: joinPath(prefix, "include"),
				Value: nm.Value, Message: fmt.Sprintf("included file not checked (%v); check its pcap-log, stream and encryption-handling settings by hand", unwrapAll(err))})
		}
	}
}

func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// yes reports whether a YAML 1.1 boolean is true, as Suricata reads it.
func yes(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "on", "1", "y":
		return true
	}
	return false
}

func (c *suricataConf) warn(path string, msg string) {
	s, ok := c.settings[path]
	if !ok {
		c.warnings = append(c.warnings, Warning{File: c.main, Setting: path, Message: msg})
		return
	}
	c.warnings = append(c.warnings, Warning{File: s.file, Line: s.line, Setting: path, Value: s.value, Message: msg})
}

func (c *suricataConf) check(o CheckOptions) []Warning {
	const pl = "outputs.pcap-log"
	if _, ok := c.settings[pl]; !ok {
		c.warn(pl, "no pcap-log output: Suricata writes no packets for Aegis to measure; add an enabled pcap-log output or point Aegis at another PCAP source")
	} else if !yes(c.settings[pl+".enabled"].value) {
		c.warn(pl+".enabled", "pcap-log is not enabled (the default is no): Suricata writes no packets for Aegis to measure; set enabled: yes")
	}
	if s, ok := c.settings[pl+".use-stream-depth"]; ok && yes(s.value) {
		depth := "stream.reassembly.depth"
		if d, ok := c.settings["stream.reassembly.depth"]; ok && d.value != "" {
			depth += " (" + d.value + ")"
		}
		c.warn(pl+".use-stream-depth", "packets past "+depth+" and of streams no longer reassembled (encrypted TLS after the handshake) are not logged: the long encrypted tails of LLM streams and shells that Aegis measures are lost; set use-stream-depth: no")
	}
	if s, ok := c.settings[pl+".honor-pass-rules"]; ok && yes(s.value) {
		c.warn(pl+".honor-pass-rules", "flows that match a pass rule stop being logged (pass rules often quiet TLS to well-known API hosts, exactly the LLM traffic Aegis looks at); set honor-pass-rules: no")
	}
	if s, ok := c.settings[pl+".conditional"]; ok && s.value != "" && !strings.EqualFold(s.value, "all") {
		c.warn(pl+".conditional", "only flows with alerts (or tagged packets) are logged: Aegis picks its own candidates from conn and flow records and finds no packets for them; set conditional: all")
	}
	if s, ok := c.settings[pl+".compression"]; ok && s.value != "" && !strings.EqualFold(s.value, "none") {
		c.warn(pl+".compression", "compressed pcap-log files (.lz4) cannot be read by Aegis, which reads pcap, pcapng and gzip; set compression: none")
	}
	if s, ok := c.settings[pl+".bpf-filter"]; ok && s.value != "" {
		c.warn(pl+".bpf-filter", "only packets matching the filter are logged: make sure it keeps TLS and SSH both ways")
	}
	filename := "log.pcap"
	if s, ok := c.settings[pl+".filename"]; ok && s.value != "" {
		filename = s.value
	}
	mode := strings.ToLower(c.settings[pl+".mode"].value)
	switch mode {
	case "sguil":
		c.warn(pl+".mode", fmt.Sprintf("sguil mode writes into dated subdirectories <sguil-base-dir>/YYYY-MM-DD/%s.<epoch> (and was removed in Suricata 8): set the Aegis dir to the sguil-base-dir and the pattern to \"*/%s.*\"", filename, filename))
	case "multi":
		pat := filename + ".*"
		if strings.ContainsRune(filename, '%') {
			pat = multiPattern(filename)
		}
		c.warn(pl+".mode", fmt.Sprintf("multi mode writes one file series per thread (%s.<thread>.<epoch> without %%n/%%i/%%t tokens), several files at once: the Aegis pattern must match all of them (%q) so that they are merged by time; limit and max-files apply per thread", filename, pat))
	}
	if _, ok := c.settings[pl]; ok {
		c.checkRetention(o, pl, mode == "multi")
	}
	if s, ok := c.settings["stream.bypass"]; ok && yes(s.value) {
		c.warn("stream.bypass", "streams are bypassed once stream.reassembly.depth is reached: Suricata stops seeing the rest of long flows, so pcap-log stops logging them; set bypass: no")
	}
	for path, s := range c.settings {
		if strings.HasSuffix(path, ".encryption-handling") && strings.EqualFold(s.value, "bypass") {
			c.warn(path, "encrypted sessions are bypassed after the handshake: Suricata stops seeing their packets and pcap-log stops logging them, which removes exactly the encrypted packets Aegis measures; use track-only (default) or full")
		}
	}
	sortWarnings(c.warnings)
	return c.warnings
}

// multiPattern turns a multi-mode filename with tokens into a glob.
func multiPattern(filename string) string {
	r := strings.NewReplacer("%n", "*", "%i", "*", "%t", "*")
	return r.Replace(filename)
}

// checkRetention warns when the ring (limit × max-files, per thread) holds
// less than JoinDelay of traffic.
func (c *suricataConf) checkRetention(o CheckOptions, pl string, multi bool) {
	mf, ok := c.settings[pl+".max-files"]
	if !ok || mf.value == "" {
		return // no ring: files are kept until the disk is full
	}
	files, err := strconv.ParseUint(strings.TrimSpace(mf.value), 10, 64)
	if err != nil || files == 0 {
		return
	}
	limit := uint64(100 << 20) // Suricata's default when limit is absent
	if l, ok := c.settings[pl+".limit"]; ok && l.value != "" {
		v, err := parseSize(l.value)
		if err != nil {
			c.warn(pl+".limit", "cannot read the size: "+err.Error())
			return
		}
		limit = v
	}
	total := float64(limit) * float64(files)
	held := time.Duration(total / o.BytesPerSecond * float64(time.Second))
	if held >= o.JoinDelay {
		return
	}
	round := time.Second
	if held < time.Second {
		round = time.Millisecond
	}
	per := ""
	if multi {
		per = " per thread"
	}
	setting := pl + ".max-files"
	c.warn(setting, fmt.Sprintf("the ring holds %s%s (limit %s × max-files %d), about %v at %.0f MB/s, less than the %v Aegis may wait for a flow's IDS record before reading its packets: late flows will find their packets deleted; raise max-files or limit",
		formatSize(uint64(total)), per, formatSize(limit), files, held.Round(round), o.BytesPerSecond/1e6, o.JoinDelay))
}

// parseSize reads Suricata's size syntax: a number with an optional unit
// (kb, mb, gb, KiB, MiB, GiB; case-insensitive, space allowed); a plain
// number is bytes.
func parseSize(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	mult := 1.0
	switch unit {
	case "", "b":
	case "k", "kb", "kib":
		mult = 1 << 10
	case "m", "mb", "mib":
		mult = 1 << 20
	case "g", "gb", "gib":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q", s, unit)
	}
	return uint64(v * mult), nil
}

func formatSize(b uint64) string {
	switch {
	case b >= 1<<40:
		return fmt.Sprintf("%.1f TiB", float64(b)/(1<<40))
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", b)
}

// sortWarnings orders warnings by file, line and setting (the settings map
// is walked in random order).
func sortWarnings(ws []Warning) {
	slices.SortFunc(ws, func(a, b Warning) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Setting, b.Setting)
	})
}
