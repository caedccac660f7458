package deploy

// Checks of the deployment files: the systemd unit, the container image,
// the compose lab, the Kubernetes manifest, the sensor settings, the
// example rules, profiles and configurations, and the Kafka topic script.
// Each file is checked by the tool that reads it where that tool can run
// here (aegis itself, systemd-analyze, kubeconform, bash, shellcheck) and
// statically otherwise (docker is not available to tests); a check whose
// tool is missing skips with the reason.

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/aegis-nsm/aegis/ingest/pcapdir"
)

// The files this test checks, relative to deploy/.
const (
	unitFile         = "systemd/aegis.service"
	sysusersFile     = "systemd/aegis.sysusers"
	dockerfile       = "container/Dockerfile"
	dockerignore     = "container/Dockerfile.dockerignore"
	composeFile      = "compose/compose.yaml"
	composeConfig    = "compose/aegis.yaml"
	k8sManifest      = "kubernetes/aegis-daemonset.yaml"
	k8sValidator     = "kubernetes/validate"
	composeValidator = "compose/validate"
	zeekSettings     = "sensor/zeek/local.zeek"
	suricataSettings = "sensor/suricata/suricata-aegis.yaml"
	rulesDir         = "rules"
	profilesFile     = "profiles/profiles.yaml"
	topicScript      = "kafka/create-topics.sh"
	configsDir       = "configs"
	mainConfig       = "aegis.yaml"

	// repoRoot is the module root; go test runs in deploy/.
	repoRoot = ".."
)

// installLayout maps the paths the example configurations name on a sensor
// to the files of this folder that deploy/README.md installs there, so that
// check-config can follow them on a machine where nothing is installed.
var installLayout = map[string]string{
	"/etc/aegis/rules":            rulesDir,
	"/etc/aegis/profiles.yaml":    profilesFile,
	"/etc/suricata/suricata.yaml": suricataSettings,
}

// staticBuildFlags are the go build flags of the image's binary
// (deploy/container/Dockerfile, with CGO_ENABLED=0). The test builds aegis
// with them and TestContainerImage checks that the Dockerfile uses them.
var staticBuildFlags = []string{"-trimpath", "-ldflags", "-s -w"}

// ---------------------------------------------------------------------------
// The aegis binary, built once per test run.

var (
	binDir    string
	buildOnce sync.Once
	aegisPath string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aegis-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// aegisBinary builds ./cmd/aegis the way the container image does (static,
// CGO_ENABLED=0) on first use and returns its path. The deploy package
// cannot call the command in-process (it is package main), so the tests
// run the binary, as systemd's ExecStartPre and the image do.
func aegisBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		aegisPath = filepath.Join(binDir, "aegis")
		args := append([]string{"build"}, staticBuildFlags...)
		args = append(args, "-o", aegisPath, "./cmd/aegis")
		cmd := exec.Command("go", args...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("CGO_ENABLED=0 go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return aegisPath
}

// runAegis runs the built binary and returns its output and exit code.
func runAegis(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(aegisBinary(t), args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("aegis %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), code
}

// ---------------------------------------------------------------------------
// Example configurations.

// exampleConfig is an aegis.yaml of this folder and how to read it here:
// mounts maps the paths it names on the target to files of this folder.
type exampleConfig struct {
	name   string // for messages
	raw    []byte
	mounts map[string]string // target path -> path relative to deploy/
}

// exampleConfigs returns every aegis.yaml in deploy/: aegis.yaml,
// configs/*.yaml, the compose lab's and the Kubernetes ConfigMap's.
func exampleConfigs(t *testing.T) []exampleConfig {
	t.Helper()
	var out []exampleConfig
	files, err := filepath.Glob(filepath.Join(configsDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("deploy/configs has %d example configurations, want at least 3", len(files))
	}
	for _, f := range append([]string{mainConfig}, files...) {
		out = append(out, exampleConfig{name: f, raw: readFile(t, f), mounts: installLayout})
	}
	c := loadCompose(t)
	out = append(out, exampleConfig{name: composeConfig + " (as mounted by " + composeFile + ")", raw: readFile(t, composeConfig), mounts: c.aegisBindMounts(t)})
	k := loadK8s(t)
	out = append(out, exampleConfig{name: k8sManifest + " (ConfigMap aegis-config)", raw: []byte(k.config), mounts: map[string]string{"/etc/aegis/rules": rulesDir}})
	return out
}

// localize writes a copy of the configuration whose mounted paths point at
// the files of this folder and returns its path. Only scalar values that
// are a mounted path or under one are changed.
func localize(t *testing.T, c exampleConfig) string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(c.raw, &doc); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	targets := make([]string, 0, len(c.mounts))
	for k := range c.mounts {
		targets = append(targets, k)
	}
	sort.Slice(targets, func(i, j int) bool { return len(targets[i]) > len(targets[j]) })
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			for _, tg := range targets {
				if rest, ok := strings.CutPrefix(n.Value, tg); ok && (rest == "" || rest[0] == '/') {
					abs, err := filepath.Abs(c.mounts[tg])
					if err != nil {
						t.Fatal(err)
					}
					n.Value = abs + rest
					break
				}
			}
		}
		for _, ch := range n.Content {
			walk(ch)
		}
	}
	walk(&doc)
	b, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "aegis.yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleConfigsPassCheckConfig(t *testing.T) {
	for _, c := range exampleConfigs(t) {
		t.Run(c.name, func(t *testing.T) {
			p := localize(t, c)
			out, errOut, code := runAegis(t, "check-config", p)
			if code != 0 || !strings.Contains(out, ": OK") {
				t.Errorf("aegis check-config %s: exit %d\n%s%s", c.name, code, out, errOut)
			}
		})
	}
}

// A mistake in aegis.yaml, a profiles file or a rule file fails
// check-config (and so ExecStartPre) with the file, the line and the
// reason.
func TestBrokenConfigsFailCheckConfig(t *testing.T) {
	base := localize(t, exampleConfig{name: configsDir + "/afpacket.yaml", raw: readFile(t, filepath.Join(configsDir, "afpacket.yaml")), mounts: installLayout})
	baseText := string(readFile(t, base))

	badProfiles := filepath.Join(t.TempDir(), "profiles.yaml")
	prof := strings.Replace(string(readFile(t, profilesFile)), "    tokens_per_flush: 1\n", "    tokens_per_flush: 1\n    tokens_per_second: 40\n", 1)
	if err := os.WriteFile(badProfiles, []byte(prof), 0o644); err != nil {
		t.Fatal(err)
	}
	badRules := t.TempDir()
	for _, f := range yamlFiles(t, rulesDir) {
		b := readFile(t, f)
		if filepath.Base(f) == "llm-policy.yaml" {
			b = bytes.Replace(b, []byte("{servers: [10.50.0.0/24, 10.60.1.10]}"), []byte("{servers: [10.50.0.0/33, 10.60.1.10]}"), 1)
		}
		if err := os.WriteFile(filepath.Join(badRules, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	absRules, _ := filepath.Abs(rulesDir)
	absProfiles, _ := filepath.Abs(profilesFile)

	cases := []struct {
		name     string
		old, new string // a line of the base copy and its replacement
		file     string // the file the error must name ("" = the config)
		lineOf   string // the error must give the line of this text in file ("" = no line)
		want     []string
	}{
		{name: "unknown key", old: "flow_semantics: zeek", new: "flow_semantic: zeek", lineOf: "flow_semantic: zeek", want: []string{"flow_semantic", "not found"}},
		{name: "wrong type", old: "workers: 2", new: "workers: two", lineOf: "workers: two", want: []string{"cannot unmarshal", "two"}},
		{name: "bad duration", old: "fanout_type: hash", new: "fanout_type: hash\nblock_timeout: 10 ms", lineOf: "block_timeout: 10 ms", want: []string{"cannot unmarshal", "10 ms"}},
		{name: "yaml syntax", old: "llm_clients: [10.20.0.0/16]", new: "llm_clients: [10.20.0.0/16", lineOf: "", want: []string{"line", "did not find expected"}},
		// Errors found after decoding name the file and the key, not the
		// line: check-config does not track lines past the YAML decoder.
		{name: "bad value", old: "flow_semantics: zeek", new: "flow_semantics: bro", want: []string{"flow_semantics", "bro", "is not zeek or suricata"}},
		{name: "fanout id of Zeek", old: "fanout_id: 0", new: "fanout_id: 23", want: []string{"fanout_id 23", "Zeek"}},
		{name: "sink typo in a route", old: "flow_semantics: zeek", new: "flow_semantics: zeek\nalerts: {routes: [{min_severity: low, sinks: [kafak]}]}", want: []string{"no sink named \"kafak\""}},
		{name: "bad profiles file", old: "profiles: " + absProfiles, new: "profiles: " + badProfiles, file: badProfiles, lineOf: "tokens_per_second: 40", want: []string{"unknown key \"tokens_per_second\""}},
		{name: "bad rule file", old: "dir: " + absRules, new: "dir: " + badRules, file: filepath.Join(badRules, "llm-policy.yaml"), lineOf: "10.50.0.0/33", want: []string{"10.50.0.0/33"}},
		// The rules directory is read after the configuration is decoded:
		// the error names the directory and the key, not the configuration
		// file.
		{name: "missing rules dir", old: "dir: " + absRules, new: "dir: " + absRules + "-missing", file: absRules + "-missing", want: []string{"cannot read the rules directory", "rules.dir"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(baseText, tc.old) < 1 {
				t.Fatalf("the base copy has no line %q; update the test", tc.old)
			}
			text := replaceKeepIndent(baseText, tc.old, tc.new)
			p := filepath.Join(t.TempDir(), "broken.yaml")
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := runAegis(t, "check-config", p)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (configuration error)\n%s%s", code, out, errOut)
			}
			file := tc.file
			if file == "" {
				file = p
			}
			if !strings.Contains(errOut, file) {
				t.Errorf("the error does not name %s:\n%s", file, errOut)
			}
			if tc.lineOf != "" {
				var src string
				if tc.file == "" {
					src = text
				} else {
					src = string(readFile(t, tc.file))
				}
				l := lineOf(src, tc.lineOf)
				if l == 0 {
					t.Fatalf("%q not in %s", tc.lineOf, file)
				}
				if !strings.Contains(errOut, fmt.Sprintf("line %d", l)) && !strings.Contains(errOut, fmt.Sprintf("%s:%d", file, l)) {
					t.Errorf("the error does not give line %d:\n%s", l, errOut)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("the error does not say %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// replaceKeepIndent replaces the first old in text with new, indenting the
// lines new adds as the line of old is.
func replaceKeepIndent(text, old, new string) string {
	i := strings.Index(text, old)
	if i < 0 {
		return text
	}
	start := strings.LastIndexByte(text[:i], '\n') + 1
	indent := text[start:i]
	if strings.TrimSpace(indent) != "" {
		indent = ""
	}
	return text[:i] + strings.ReplaceAll(new, "\n", "\n"+indent) + text[i+len(old):]
}

// lineOf returns the 1-based line of the first line containing s, or 0.
func lineOf(text, s string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	return 0
}

// Every example configuration's topics are the ones create-topics.sh makes,
// and its seed is the sensors'.
func TestExampleConfigsAgreeWithSensorsAndTopics(t *testing.T) {
	topics := scriptTopics(t, nil)
	zeekSeed := zeekCommunityIDSeed(t)
	suricata := loadSuricataSettings(t)
	for _, c := range exampleConfigs(t) {
		cfg := decodeMap(t, c.name, c.raw)
		seed := 0
		if v, ok := cfg["community_id_seed"].(int); ok {
			seed = v
		}
		if seed != zeekSeed || seed != suricata.seed {
			t.Errorf("%s: community_id_seed %d, Zeek's CommunityID::seed %d, Suricata's community-id-seed %d: all three must be equal", c.name, seed, zeekSeed, suricata.seed)
		}
		for name, kc := range mapAt(cfg, "outputs", "kafka") {
			got := map[string]bool{}
			for _, v := range mapAt(map[string]any{"k": kc}, "k", "topics") {
				got[fmt.Sprint(v)] = true
			}
			if !equalSets(got, topics) {
				t.Errorf("%s: outputs.kafka.%s.topics %v, create-topics.sh creates %v", c.name, name, keys(got), keys(topics))
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Rules and profiles.

func TestExampleRules(t *testing.T) {
	files := yamlFiles(t, rulesDir)
	if len(files) == 0 {
		t.Fatal("deploy/rules has no rule files")
	}
	ids, cases := 0, 0
	for _, f := range files {
		var doc struct {
			Rules []struct {
				ID    string `yaml:"id"`
				Tests []struct {
					Name   string `yaml:"name"`
					Expect string `yaml:"expect"`
				} `yaml:"tests"`
			} `yaml:"rules"`
		}
		if err := yaml.Unmarshal(readFile(t, f), &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range doc.Rules {
			ids++
			hit, miss := 0, 0
			for _, tc := range r.Tests {
				cases++
				switch tc.Expect {
				case "hit":
					hit++
				case "miss":
					miss++
				}
			}
			if hit == 0 || miss == 0 {
				t.Errorf("%s: rule %s has %d hit and %d miss test cases; give it at least one of each", f, r.ID, hit, miss)
			}
		}
	}

	out, errOut, code := runAegis(t, "rules", "check", rulesDir)
	if code != 0 {
		t.Fatalf("aegis rules check %s: exit %d\n%s%s", rulesDir, code, out, errOut)
	}
	if want := fmt.Sprintf("(%d from %s", ids, rulesDir); !strings.Contains(out, want) {
		t.Errorf("aegis rules check: want %q in\n%s", want, out)
	}

	out, errOut, code = runAegis(t, "rules", "test", "-v", rulesDir)
	if code != 0 {
		t.Fatalf("aegis rules test %s: exit %d\n%s%s", rulesDir, code, out, errOut)
	}
	passed := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "PASS "+rulesDir+"/") {
			passed++
		}
	}
	if passed != cases {
		t.Errorf("aegis rules test passed %d cases of deploy/rules, the files have %d:\n%s", passed, cases, out)
	}
	if !regexp.MustCompile(`(?m)^\d+ passed, 0 failed$`).MatchString(out) {
		t.Errorf("aegis rules test: no \"N passed, 0 failed\" line:\n%s", out)
	}

	// The cases are really checked: a wrong expected message fails.
	dir := t.TempDir()
	for _, f := range files {
		b := readFile(t, f)
		b = bytes.Replace(b, []byte("(api.openai.com), route openai/gpt-4o, confidence 0.92"), []byte("(api.openai.com), route openai/gpt-4o, confidence 0.29"), 1)
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, _, code = runAegis(t, "rules", "test", dir)
	if code != 1 || !strings.Contains(out, "1 failed") {
		t.Errorf("a rule file with a wrong expected message: exit %d, want 1 and one failure:\n%s", code, out)
	}
}

func TestExampleProfiles(t *testing.T) {
	// check-config loads the profiles file of every example configuration
	// that names one (TestExampleConfigsPassCheckConfig); make sure some do.
	n := 0
	for _, c := range exampleConfigs(t) {
		if p, _ := decodeMap(t, c.name, c.raw)["profiles"].(string); p != "" {
			if c.mounts[p] != profilesFile {
				t.Errorf("%s: profiles %s is not mounted from %s", c.name, p, profilesFile)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no example configuration uses %s", profilesFile)
	}
	// A config that names it passes; one naming a broken copy fails with
	// the line (TestBrokenConfigsFailCheckConfig).
	cfg := filepath.Join(t.TempDir(), "aegis.yaml")
	abs, _ := filepath.Abs(profilesFile)
	body := "logs: {zeek: [/opt/zeek/logs/current/conn.log]}\npackets: {source: none}\nrules: {dir: \"\"}\nprofiles: " + abs + "\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runAegis(t, "check-config", cfg); code != 0 {
		t.Errorf("check-config with profiles %s: exit %d\n%s%s", profilesFile, code, out, errOut)
	}
}

// ---------------------------------------------------------------------------
// Sensor settings.

type suricataSettingsInfo struct {
	seed         int
	logDir       string
	eveFile      string
	pcapFile     string
	pcapMode     string
	communityID  bool
	pcapTSFormat string
}

// loadSuricataSettings reads the values of the Suricata fragment the other
// checks compare with.
func loadSuricataSettings(t *testing.T) suricataSettingsInfo {
	t.Helper()
	b := readFile(t, suricataSettings)
	if i := bytes.IndexByte(b, '\n'); bytes.HasPrefix(b, []byte("%YAML")) && i >= 0 {
		b = b[i:]
	}
	var doc struct {
		DefaultLogDir string           `yaml:"default-log-dir"`
		Outputs       []map[string]any `yaml:"outputs"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", suricataSettings, err)
	}
	s := suricataSettingsInfo{logDir: strings.TrimSuffix(doc.DefaultLogDir, "/")}
	for _, o := range doc.Outputs {
		if e, ok := o["eve-log"].(map[string]any); ok {
			s.eveFile, _ = e["filename"].(string)
			s.communityID, _ = e["community-id"].(bool)
			s.seed, _ = e["community-id-seed"].(int)
		}
		if p, ok := o["pcap-log"].(map[string]any); ok {
			s.pcapFile, _ = p["filename"].(string)
			s.pcapMode, _ = p["mode"].(string)
			s.pcapTSFormat, _ = p["ts-format"].(string)
		}
	}
	if s.logDir == "" || s.eveFile == "" || s.pcapFile == "" {
		t.Fatalf("%s: default-log-dir, eve-log filename and pcap-log filename must be set (got %+v)", suricataSettings, s)
	}
	return s
}

// pcapLogSample is a name Suricata's pcap-log writes in normal mode.
func (s suricataSettingsInfo) pcapLogSample() string {
	if s.pcapTSFormat == "usec" {
		return s.pcapFile + ".1767225600.123456"
	}
	return s.pcapFile + ".1767225600"
}

func TestSuricataSettings(t *testing.T) {
	ws, err := pcapdir.CheckSuricataConfig(suricataSettings)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		t.Errorf("Aegis's Suricata check warns about the recommended settings: %s", w)
	}
	s := loadSuricataSettings(t)
	if !s.communityID {
		t.Errorf("%s: eve-log community-id must be true", suricataSettings)
	}
	if s.pcapMode != "normal" {
		t.Errorf("%s: pcap-log mode %q; the example configurations read the normal-mode names", suricataSettings, s.pcapMode)
	}

	// The checker really reads this file: each setting spoilt in a copy is
	// reported.
	spoil := []struct{ old, new, setting string }{
		{"use-stream-depth: no", "use-stream-depth: yes", "outputs.pcap-log.use-stream-depth"},
		{"honor-pass-rules: no", "honor-pass-rules: yes", "outputs.pcap-log.honor-pass-rules"},
		{"conditional: all", "conditional: alerts", "outputs.pcap-log.conditional"},
		{"compression: none", "compression: lz4", "outputs.pcap-log.compression"},
		{"  bypass: no", "  bypass: yes", "stream.bypass"},
		{"encryption-handling: track-only\n    ssh:", "encryption-handling: bypass\n    ssh:", "app-layer.protocols.tls.encryption-handling"},
		{"max-files: 120", "max-files: 10", "outputs.pcap-log.max-files"},
		{"  - pcap-log:\n      enabled: yes", "  - pcap-log:\n      enabled: no", "outputs.pcap-log.enabled"},
	}
	orig := string(readFile(t, suricataSettings))
	for _, sp := range spoil {
		if !strings.Contains(orig, sp.old) {
			t.Errorf("%s has no %q; update the test", suricataSettings, sp.old)
			continue
		}
		p := filepath.Join(t.TempDir(), "suricata.yaml")
		if err := os.WriteFile(p, []byte(strings.Replace(orig, sp.old, sp.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		ws, err := pcapdir.CheckSuricataConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, w := range ws {
			found = found || w.Setting == sp.setting
		}
		if !found {
			t.Errorf("%q -> %q: no warning about %s (got %v)", sp.old, sp.new, sp.setting, ws)
		}
	}

	// The Suricata variant of aegis.yaml reads what these settings write.
	cfg := decodeMap(t, "configs/suricata.yaml", readFile(t, filepath.Join(configsDir, "suricata.yaml")))
	if dir, _ := valueAt(cfg, "packets", "pcapdir", "dir").(string); dir != s.logDir {
		t.Errorf("configs/suricata.yaml: packets.pcapdir.dir %q, Suricata writes pcap-log into %q", dir, s.logDir)
	}
	pattern, _ := valueAt(cfg, "packets", "pcapdir", "pattern").(string)
	if ok, _ := path.Match(pattern, s.pcapLogSample()); !ok {
		t.Errorf("configs/suricata.yaml: packets.pcapdir.pattern %q does not match Suricata's file name %q", pattern, s.pcapLogSample())
	}
	if eve := stringsAt(cfg, "logs", "eve"); !slices.Contains(eve, s.logDir+"/"+s.eveFile) {
		t.Errorf("configs/suricata.yaml: logs.eve %v does not follow %s/%s", eve, s.logDir, s.eveFile)
	}
	if sem, _ := cfg["flow_semantics"].(string); sem != "suricata" {
		t.Errorf("configs/suricata.yaml: flow_semantics %q, want suricata", sem)
	}
}

// zeekCommunityIDSeed returns the seed the Zeek settings set.
func zeekCommunityIDSeed(t *testing.T) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^redef CommunityID::seed = (\d+);`).FindSubmatch(readFile(t, zeekSettings))
	if m == nil {
		t.Fatalf("%s: no \"redef CommunityID::seed = N;\"", zeekSettings)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// The Zeek snippet cannot be run here (no zeek); check the lines Aegis
// depends on.
func TestZeekSettings(t *testing.T) {
	text := string(readFile(t, zeekSettings))
	var active []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			active = append(active, l)
		}
	}
	for _, want := range []string{
		"@load policy/protocols/conn/community-id-logging",
		"@load packages/zeek-long-connections",
	} {
		if !slices.Contains(active, want) {
			t.Errorf("%s: %q is missing", zeekSettings, want)
		}
	}
	if !slices.ContainsFunc(active, func(l string) bool { return strings.HasPrefix(l, "redef Log::default_rotation_interval = ") }) {
		t.Errorf("%s: no Log::default_rotation_interval", zeekSettings)
	}
	for _, l := range active {
		if strings.Contains(l, "gzip_level") || strings.Contains(l, "CompressLogsInFlight") {
			t.Errorf("%s: %q compresses the live logs, which cannot be followed", zeekSettings, l)
		}
	}
	zeekSeed := zeekCommunityIDSeed(t)
	if s := loadSuricataSettings(t); s.seed != zeekSeed {
		t.Errorf("Zeek's CommunityID::seed %d differs from Suricata's community-id-seed %d", zeekSeed, s.seed)
	}
	if zeek, err := exec.LookPath("zeek"); err == nil {
		t.Logf("zeek found at %s; the snippet needs the zeek-long-connections package, so it is not parsed here", zeek)
	}
}

// ---------------------------------------------------------------------------
// systemd.

// unitSettings parses a unit file into "Section.Key" -> values, in order.
func unitSettings(t *testing.T, file string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, file)))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[':
			section = strings.Trim(l, "[]")
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("%s:%d: not KEY=VALUE: %q", file, n, l)
			}
			out[section+"."+strings.TrimSpace(k)] = append(out[section+"."+strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return out
}

func TestSystemdUnit(t *testing.T) {
	u := unitSettings(t, unitFile)
	want := map[string]string{
		"Service.User":                    "aegis",
		"Service.AmbientCapabilities":     "CAP_NET_RAW",
		"Service.CapabilityBoundingSet":   "CAP_NET_RAW",
		"Service.NoNewPrivileges":         "yes",
		"Service.ProtectSystem":           "strict",
		"Service.PrivateTmp":              "yes",
		"Service.ProtectHome":             "yes",
		"Service.RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_PACKET AF_NETLINK",
		"Service.ExecStartPre":            "/usr/local/bin/aegis check-config /etc/aegis/aegis.yaml",
		"Service.ExecStart":               "/usr/local/bin/aegis run --config /etc/aegis/aegis.yaml --log-format json",
		"Service.ExecReload":              "/bin/kill -HUP $MAINPID",
		"Service.Restart":                 "on-failure",
		"Install.WantedBy":                "multi-user.target",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s=%v, want %s", unitFile, k, got, v)
		}
	}
	fields := func(k string) []string {
		var f []string
		for _, v := range u[k] {
			f = append(f, strings.Fields(v)...)
		}
		return f
	}
	for _, p := range []string{"/var/lib/aegis", "/var/log/aegis"} {
		if !slices.Contains(fields("Service.ReadWritePaths"), p) {
			t.Errorf("%s: ReadWritePaths lacks %s", unitFile, p)
		}
	}
	ro := fields("Service.ReadOnlyPaths")
	for _, p := range []string{"/opt/zeek/logs", "/var/log/suricata"} {
		if !slices.Contains(ro, "-"+p) && !slices.Contains(ro, p) {
			t.Errorf("%s: ReadOnlyPaths lacks %s", unitFile, p)
		}
	}
	if !slices.Contains(fields("Service.SystemCallFilter"), "@system-service") {
		t.Errorf("%s: SystemCallFilter lacks @system-service", unitFile)
	}
	if n, err := strconv.Atoi(strings.Join(u["Service.LimitNOFILE"], "")); err != nil || n < 65536 {
		t.Errorf("%s: LimitNOFILE=%v, want at least 65536", unitFile, u["Service.LimitNOFILE"])
	}
	// The drain must fit in the stop timeout.
	stop, err := time.ParseDuration(strings.Join(u["Service.TimeoutStopSec"], ""))
	if err != nil || stop <= 30*time.Second {
		t.Errorf("%s: TimeoutStopSec=%v, want more than shutdown_timeout (30s)", unitFile, u["Service.TimeoutStopSec"])
	}
	sysusers := string(readFile(t, sysusersFile))
	if !regexp.MustCompile(`(?m)^u\s+aegis\s`).MatchString(sysusers) {
		t.Errorf("%s does not create the user aegis", sysusersFile)
	}

	if sysusers, err := exec.LookPath("systemd-sysusers"); err == nil {
		// Parse and apply the sysusers entry to an empty root, without
		// writing anything.
		abs, _ := filepath.Abs(sysusersFile)
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sysusers, "--root="+root, "--dry-run", abs).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("Creating user 'aegis'")) {
			t.Errorf("systemd-sysusers --dry-run %s: %v\n%s", sysusersFile, err, out)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found (Debian package systemd): the unit is not verified")
	}
	// systemd-analyze verify refuses a unit whose Exec* binaries do not
	// exist or are not executable. The unit names the installed path,
	// /usr/local/bin/aegis, which a build machine does not have: verify a
	// copy whose Exec* lines name the binary this test built (the commands
	// and their arguments are unchanged). /bin/kill is used as it is.
	unit := verifyCopy(t, readFile(t, unitFile), aegisBinary(t))
	if out, err := exec.Command(analyze, "verify", unit).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		// verify exits 0 on unknown keys and only prints them: any output
		// is a finding.
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
	// ... and it does print them (the check above is not blind).
	typo := verifyCopy(t, bytes.Replace(readFile(t, unitFile), []byte("PrivateTmp=yes"), []byte("PrivateTemp=yes"), 1), aegisBinary(t))
	if out, _ := exec.Command(analyze, "verify", typo).CombinedOutput(); !bytes.Contains(out, []byte("PrivateTemp")) {
		t.Errorf("systemd-analyze verify did not report an unknown key:\n%s", out)
	}
	// The sandbox: systemd's own exposure score (0 best, 10 worst); the
	// unit keeps AF_PACKET, the network and one capability, so it cannot
	// reach 0. --threshold counts in tenths.
	out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=25", unit).CombinedOutput()
	switch {
	case bytes.Contains(out, []byte("unrecognized option")) || bytes.Contains(out, []byte("Unknown option")):
		t.Logf("systemd-analyze security --offline is not supported by this systemd (before 250); exposure not checked")
	case err != nil:
		t.Errorf("systemd-analyze security: exposure above 2.5 (or failed): %v\n%s", err, lastLines(out, 3))
	default:
		t.Logf("systemd-analyze security: %s", lastLines(out, 1))
	}
}

// verifyCopy writes the unit with /usr/local/bin/aegis replaced by bin into
// a new directory (named aegis.service: verify derives the unit type from
// the name) and returns its path.
func verifyCopy(t *testing.T, unit []byte, bin string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "aegis.service")
	if err := os.WriteFile(p, bytes.ReplaceAll(unit, []byte("/usr/local/bin/aegis"), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---------------------------------------------------------------------------
// Container image.

type dockerInstr struct {
	line int
	cmd  string // upper case
	args string
}

type dockerStage struct {
	from, name string
	instrs     []dockerInstr
}

// parseDockerfile splits a Dockerfile into stages of instructions (joined
// continuation lines, comments dropped) and resolves ${ARG} in FROM lines
// with the defaults of the ARGs before the first FROM.
func parseDockerfile(t *testing.T, file string) []dockerStage {
	t.Helper()
	var (
		stages []dockerStage
		args   = map[string]string{}
		cur    strings.Builder
		start  int
	)
	flush := func() {
		l := strings.TrimSpace(cur.String())
		cur.Reset()
		if l == "" {
			return
		}
		cmd, rest, _ := strings.Cut(l, " ")
		in := dockerInstr{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(rest)}
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			st := dockerStage{from: os.Expand(f[0], func(k string) string { return args[k] })}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case len(stages) == 0:
			t.Errorf("%s:%d: %s before the first FROM", file, in.line, in.cmd)
		default:
			stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
		}
	}
	for i, l := range strings.Split(string(readFile(t, file)), "\n") {
		trimmed := strings.TrimSpace(l)
		if cur.Len() == 0 {
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			start = i + 1
		} else if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

// shellWords splits a command line into words, honouring single and double
// quotes (enough for the Dockerfile's RUN lines).
func shellWords(s string) []string {
	var (
		out   []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func TestContainerImage(t *testing.T) {
	stages := parseDockerfile(t, dockerfile)
	if len(stages) < 2 {
		t.Fatalf("%s: %d stages, want a build stage and a final stage", dockerfile, len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if build.from != "golang:1.26" || build.name == "" {
		t.Errorf("%s: the build stage is FROM %s AS %q, want golang:1.26 with a name", dockerfile, build.from, build.name)
	}
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("%s: the final stage is FROM %s, want distroless/static (CA certificates included) or scratch", dockerfile, final.from)
	}
	if final.from == "scratch" {
		t.Errorf("%s: FROM scratch has no CA certificates: copy them in", dockerfile)
	}

	// The go build of the image: static, with the flags the test builds with.
	var buildWords []string
	for _, in := range build.instrs {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			for _, part := range strings.Split(in.args, "&&") {
				if w := shellWords(strings.TrimSpace(part)); len(w) > 2 && w[0] == "CGO_ENABLED=0" && w[1] == "go" && w[2] == "build" {
					buildWords = w
				}
			}
		}
	}
	if buildWords == nil {
		t.Fatalf("%s: no \"CGO_ENABLED=0 go build\" in the build stage", dockerfile)
	}
	if !slices.Contains(buildWords, "-trimpath") || buildWords[len(buildWords)-1] != "./cmd/aegis" {
		t.Errorf("%s: go build %v: want -trimpath and the package ./cmd/aegis last", dockerfile, buildWords)
	}
	ld := ""
	out := ""
	for i, w := range buildWords {
		if w == "-ldflags" && i+1 < len(buildWords) {
			ld = buildWords[i+1]
		}
		if w == "-o" && i+1 < len(buildWords) {
			out = buildWords[i+1]
		}
	}
	if !slices.Contains(strings.Fields(ld), "-s") || !slices.Contains(strings.Fields(ld), "-w") {
		t.Errorf("%s: -ldflags %q, want -s -w (as staticBuildFlags)", dockerfile, ld)
	}

	copied, user := false, ""
	var entrypoint, cmd string
	for _, in := range final.instrs {
		switch in.cmd {
		case "ADD":
			t.Errorf("%s:%d: ADD %s: use COPY (ADD fetches URLs and unpacks archives)", dockerfile, in.line, in.args)
		case "COPY":
			w := strings.Fields(in.args)
			if slices.Contains(w, "--from="+build.name) && len(w) >= 3 && w[len(w)-2] == out && w[len(w)-1] == "/aegis" {
				copied = true
			}
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "CMD":
			cmd = in.args
		}
	}
	for _, st := range stages {
		for _, in := range st.instrs {
			if in.cmd == "ADD" && regexp.MustCompile(`(?i)(https?|git)://|git@`).MatchString(in.args) {
				t.Errorf("%s:%d: ADD of a URL: %s", dockerfile, in.line, in.args)
			}
		}
	}
	if !copied {
		t.Errorf("%s: the final stage does not COPY --from=%s %s /aegis", dockerfile, build.name, out)
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 || n != 65532 {
		t.Errorf("%s: USER %q in the final stage, want 65532 (distroless nonroot; numeric, so that runAsNonRoot can verify it)", dockerfile, user)
	}
	var ep, cm []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || !slices.Equal(ep, []string{"/aegis"}) {
		t.Errorf("%s: ENTRYPOINT %s, want [\"/aegis\"]", dockerfile, entrypoint)
	}
	if err := json.Unmarshal([]byte(cmd), &cm); err != nil || !slices.Equal(cm, []string{"run", "--config", "/etc/aegis/aegis.yaml"}) {
		t.Errorf("%s: CMD %s, want [\"run\",\"--config\",\"/etc/aegis/aegis.yaml\"]", dockerfile, cmd)
	}

	// The same build, for real: the binary must be static (no program
	// interpreter, no shared libraries), or it cannot start on distroless
	// static.
	bin := aegisBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the CGO_ENABLED=0 build has a %v program header: not static", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the CGO_ENABLED=0 build links %v", libs)
	}
	if f.Section(".debug_info") != nil {
		t.Errorf("the -s -w build still has DWARF")
	}
	if o, e, code := runAegis(t, "version"); code != 0 || !strings.HasPrefix(o, "aegis ") {
		t.Errorf("aegis version: exit %d\n%s%s", code, o, e)
	}

	checkDockerignore(t)
}

// checkDockerignore makes sure the build context keeps every file the
// build reads: the Go files and embedded files of ./cmd/aegis and the
// packages it imports from this module, go.mod and go.sum.
func checkDockerignore(t *testing.T) {
	t.Helper()
	var patterns []*regexp.Regexp
	for _, l := range strings.Split(string(readFile(t, dockerignore)), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf("%s: exceptions (!) are not understood by this check; extend it", dockerignore)
		}
		patterns = append(patterns, dockerignoreRE(l))
	}
	ignored := func(rel string) bool {
		for p := rel; p != "." && p != "/"; p = path.Dir(p) {
			for _, re := range patterns {
				if re.MatchString(p) {
					return true
				}
			}
		}
		return false
	}
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{"\n"}}{{end}}{{end}}`, "./cmd/aegis")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, _ := filepath.Abs(repoRoot)
	need := []string{"go.mod", "go.sum"}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		dir, err := filepath.Rel(root, f[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range f[1:] {
			need = append(need, filepath.ToSlash(filepath.Join(dir, name)))
		}
	}
	if len(need) < 10 {
		t.Fatalf("go list found only %v", need)
	}
	for _, n := range need {
		if ignored(n) {
			t.Errorf("%s leaves %s out of the build context", dockerignore, n)
		}
	}
}

// dockerignoreRE turns a .dockerignore pattern into a regular expression
// over slash paths relative to the context root ("**" any number of
// directories).
func dockerignoreRE(p string) *regexp.Regexp {
	p = strings.TrimPrefix(path.Clean(strings.TrimPrefix(p, "/")), "./")
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case strings.HasPrefix(p[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// ---------------------------------------------------------------------------
// Compose.

type composeMount struct {
	source, target string
	readOnly, bind bool
}

type composeService struct {
	name        string
	raw         map[string]any
	mounts      []composeMount
	dependsOn   map[string]string // service -> condition
	workingDir  string
	command     []string
	environment map[string]string
}

type composeProject struct {
	services map[string]*composeService
	volumes  map[string]bool
}

func loadCompose(t *testing.T) *composeProject {
	t.Helper()
	doc := decodeMap(t, composeFile, readFile(t, composeFile))
	p := &composeProject{services: map[string]*composeService{}, volumes: map[string]bool{}}
	for name := range mapAt(doc, "volumes") {
		p.volumes[name] = true
	}
	for name, raw := range mapAt(doc, "services") {
		m, _ := raw.(map[string]any)
		s := &composeService{name: name, raw: m, dependsOn: map[string]string{}, environment: map[string]string{}}
		switch d := m["depends_on"].(type) {
		case []any:
			for _, v := range d {
				s.dependsOn[fmt.Sprint(v)] = "service_started"
			}
		case map[string]any:
			for k, v := range d {
				cond, _ := valueAt(map[string]any{"v": v}, "v", "condition").(string)
				if cond == "" {
					cond = "service_started"
				}
				s.dependsOn[k] = cond
			}
		}
		for _, v := range sliceAt(m, "volumes") {
			str, ok := v.(string)
			if !ok {
				t.Fatalf("%s: service %s: use the short volume syntax (SOURCE:TARGET[:ro]) so that this check can read it", composeFile, name)
			}
			f := strings.Split(str, ":")
			if len(f) < 2 {
				t.Fatalf("%s: service %s: volume %q has no target", composeFile, name, str)
			}
			mt := composeMount{source: f[0], target: f[1], readOnly: len(f) > 2 && strings.Contains(f[2], "ro")}
			mt.bind = strings.HasPrefix(mt.source, ".") || strings.HasPrefix(mt.source, "/")
			s.mounts = append(s.mounts, mt)
		}
		s.workingDir, _ = m["working_dir"].(string)
		for _, c := range sliceAt(m, "command") {
			s.command = append(s.command, fmt.Sprint(c))
		}
		for k, v := range mapAt(m, "environment") {
			s.environment[k] = fmt.Sprint(v)
		}
		p.services[name] = s
	}
	return p
}

// aegisBindMounts maps the aegis service's bind-mount targets to paths
// relative to deploy/.
func (p *composeProject) aegisBindMounts(t *testing.T) map[string]string {
	t.Helper()
	s := p.services["aegis"]
	if s == nil {
		t.Fatalf("%s has no aegis service", composeFile)
	}
	out := map[string]string{}
	for _, m := range s.mounts {
		if m.bind {
			out[m.target] = filepath.Join(filepath.Dir(composeFile), m.source)
		}
	}
	return out
}

// mountOf returns the mount that holds p (the longest target prefix).
func mountOf(mounts []composeMount, p string) (composeMount, bool) {
	var best composeMount
	found := false
	for _, m := range mounts {
		if (p == m.target || strings.HasPrefix(p, strings.TrimSuffix(m.target, "/")+"/")) && len(m.target) > len(best.target) {
			best, found = m, true
		}
	}
	return best, found
}

// configPath is a path an aegis.yaml names.
type configPath struct {
	key   string
	path  string
	write bool // Aegis writes there (else it only reads)
}

// configPaths lists the file system paths of an aegis.yaml.
func configPaths(cfg map[string]any) []configPath {
	var out []configPath
	add := func(key, p string, write bool) {
		if p != "" {
			out = append(out, configPath{key, p, write})
		}
	}
	for _, p := range stringsAt(cfg, "logs", "zeek") {
		add("logs.zeek", p, false)
	}
	for _, p := range stringsAt(cfg, "logs", "eve") {
		add("logs.eve", p, false)
	}
	str := func(keys ...string) string { s, _ := valueAt(cfg, keys...).(string); return s }
	if pos := str("logs", "follow", "positions_file"); pos != "" {
		add("logs.follow.positions_file", path.Dir(pos), true)
	}
	if src := str("packets", "source"); src == "" || src == "pcapdir" {
		add("packets.pcapdir.dir", str("packets", "pcapdir", "dir"), false)
	}
	add("packets.backfill_dir", str("packets", "backfill_dir"), false)
	add("packets.suricata_config", str("packets", "suricata_config"), false)
	add("profiles", str("profiles"), false)
	add("rules.dir", str("rules", "dir"), false)
	for name, f := range mapAt(cfg, "outputs", "files") {
		p, _ := valueAt(map[string]any{"f": f}, "f", "path").(string)
		add("outputs.files."+name+".path", path.Dir(p), true)
	}
	for name, k := range mapAt(cfg, "outputs", "kafka") {
		m := map[string]any{"k": k}
		for _, key := range [][]string{{"tls", "ca_file"}, {"tls", "cert_file"}, {"tls", "key_file"}, {"sasl", "password_file"}} {
			p, _ := valueAt(m, append([]string{"k"}, key...)...).(string)
			add("outputs.kafka."+name+"."+strings.Join(key, "."), p, false)
		}
	}
	for name, w := range mapAt(cfg, "outputs", "webhooks") {
		m := map[string]any{"w": w}
		for _, key := range []string{"secret_file", "routing_key_file"} {
			p, _ := valueAt(m, "w", key).(string)
			add("outputs.webhooks."+name+"."+key, p, false)
		}
		if p, _ := valueAt(m, "w", "dead_letter").(string); p != "" {
			add("outputs.webhooks."+name+".dead_letter", path.Dir(p), true)
		}
	}
	return out
}

// checkConfigMounted checks that every path of cfg is inside a mount of
// the container: read-only for what Aegis reads, writable for what it
// writes (the root file system is read-only).
func checkConfigMounted(t *testing.T, where string, cfg map[string]any, mounts []composeMount) {
	t.Helper()
	for _, cp := range configPaths(cfg) {
		m, ok := mountOf(mounts, cp.path)
		switch {
		case !ok:
			t.Errorf("%s: %s %s is not on any volume of the container", where, cp.key, cp.path)
		case cp.write && m.readOnly:
			t.Errorf("%s: %s %s is on the read-only mount %s", where, cp.key, cp.path, m.target)
		case !cp.write && !m.readOnly:
			t.Errorf("%s: %s %s is on the writable mount %s; mount what Aegis only reads read-only", where, cp.key, cp.path, m.target)
		}
	}
}

func TestComposeFile(t *testing.T) {
	p := loadCompose(t)
	for _, need := range []string{"zeek", "suricata", "kafka", "kafka-init", "ollama", "aegis"} {
		if p.services[need] == nil {
			t.Errorf("%s: no %s service", composeFile, need)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, s := range p.services {
		for dep, cond := range s.dependsOn {
			d := p.services[dep]
			switch {
			case d == nil:
				t.Errorf("%s: service %s depends on %s, which is not a service", composeFile, s.name, dep)
			case cond == "service_healthy" && d.raw["healthcheck"] == nil:
				t.Errorf("%s: service %s waits for %s to be healthy, which has no healthcheck", composeFile, s.name, dep)
			case cond != "service_started" && cond != "service_healthy" && cond != "service_completed_successfully":
				t.Errorf("%s: service %s: depends_on %s condition %q", composeFile, s.name, dep, cond)
			}
		}
		for _, m := range s.mounts {
			if m.bind {
				if _, err := os.Stat(filepath.Join(filepath.Dir(composeFile), m.source)); err != nil {
					t.Errorf("%s: service %s mounts %s: %v", composeFile, s.name, m.source, err)
				}
			} else if !p.volumes[m.source] {
				t.Errorf("%s: service %s mounts the volume %s, which is not declared under volumes:", composeFile, s.name, m.source)
			}
		}
	}
	if build := mapAt(p.services["aegis"].raw, "build"); build != nil {
		ctx := filepath.Join(filepath.Dir(composeFile), fmt.Sprint(build["context"]))
		if df := filepath.Join(ctx, fmt.Sprint(build["dockerfile"])); !sameFile(df, dockerfile) {
			t.Errorf("%s: aegis builds %s, want %s", composeFile, df, dockerfile)
		}
	}
	if c := p.services["aegis"].dependsOn["kafka-init"]; c != "service_completed_successfully" {
		t.Errorf("%s: aegis must start after kafka-init completed (its Kafka sink checks that the topics exist); got %q", composeFile, c)
	}

	// aegis runs unprivileged.
	a := p.services["aegis"]
	if u, _ := a.raw["user"].(string); u == "" || strings.HasPrefix(u, "0") || strings.HasPrefix(u, "root") {
		t.Errorf("%s: aegis runs as %q, want a non-root user (it reads a capture ring, no NET_RAW needed)", composeFile, u)
	}
	if ro, _ := a.raw["read_only"].(bool); !ro {
		t.Errorf("%s: aegis: read_only must be true", composeFile)
	}
	if drop := sliceAt(a.raw, "cap_drop"); len(drop) != 1 || drop[0] != "ALL" {
		t.Errorf("%s: aegis: cap_drop %v, want [ALL]", composeFile, drop)
	}
	if add := sliceAt(a.raw, "cap_add"); len(add) > 0 {
		t.Errorf("%s: aegis: cap_add %v, want none", composeFile, add)
	}

	// The configuration the aegis service runs with.
	cfgPath := "/etc/aegis/aegis.yaml"
	for i, w := range a.command {
		if w == "--config" && i+1 < len(a.command) {
			cfgPath = a.command[i+1]
		}
	}
	m, ok := mountOf(a.mounts, cfgPath)
	if !ok || !m.bind || !sameFile(filepath.Join(filepath.Dir(composeFile), m.source), composeConfig) {
		t.Fatalf("%s: aegis's --config %s is not %s mounted", composeFile, cfgPath, composeConfig)
	}
	cfg := decodeMap(t, composeConfig, readFile(t, composeConfig))
	checkConfigMounted(t, composeConfig, cfg, a.mounts)

	// The sensor volumes hold what the sensors write where aegis.yaml looks.
	type written struct{ volume, dir, sample string }
	var writes []written
	inVolume := func(s *composeService, p string) (vol, rel string, ok bool) {
		m, ok := mountOf(s.mounts, p)
		if !ok || m.bind {
			return "", "", false
		}
		r, _ := filepath.Rel(m.target, p)
		return m.source, r, true
	}
	zeek := p.services["zeek"]
	for _, name := range []string{"conn.log", "ssl.log", "conn_long.log"} {
		vol, rel, ok := inVolume(zeek, path.Join(zeek.workingDir, name))
		if !ok {
			t.Fatalf("%s: zeek writes into its working directory %q, which is not on a named volume", composeFile, zeek.workingDir)
		}
		writes = append(writes, written{vol, path.Dir(rel), path.Base(rel)})
	}
	sur := p.services["suricata"]
	s := loadSuricataSettings(t)
	mountedSettings := false
	for i, w := range sur.command {
		if w == "-c" && i+1 < len(sur.command) {
			if m, ok := mountOf(sur.mounts, sur.command[i+1]); ok && m.bind && sameFile(filepath.Join(filepath.Dir(composeFile), m.source), suricataSettings) {
				mountedSettings = true
			}
		}
	}
	if !mountedSettings {
		t.Errorf("%s: suricata does not run with -c and %s mounted", composeFile, suricataSettings)
	}
	for _, name := range []string{s.eveFile, s.pcapLogSample()} {
		vol, rel, ok := inVolume(sur, path.Join(s.logDir, name))
		if !ok {
			t.Fatalf("%s: suricata writes into %s (default-log-dir), which is not on a named volume", composeFile, s.logDir)
		}
		writes = append(writes, written{vol, path.Dir(rel), path.Base(rel)})
	}
	reads := []struct{ key, dir, pattern string }{}
	for _, z := range stringsAt(cfg, "logs", "zeek") {
		reads = append(reads, struct{ key, dir, pattern string }{"logs.zeek", path.Dir(z), path.Base(z)})
	}
	for _, e := range stringsAt(cfg, "logs", "eve") {
		reads = append(reads, struct{ key, dir, pattern string }{"logs.eve", path.Dir(e), path.Base(e)})
	}
	if d, _ := valueAt(cfg, "packets", "pcapdir", "dir").(string); d != "" {
		pat, _ := valueAt(cfg, "packets", "pcapdir", "pattern").(string)
		reads = append(reads, struct{ key, dir, pattern string }{"packets.pcapdir", d, pat})
	}
	for _, r := range reads {
		vol, rel, ok := inVolume(a, path.Join(r.dir, "x"))
		if !ok {
			t.Errorf("%s: %s %s/%s is not on a sensor volume", composeConfig, r.key, r.dir, r.pattern)
			continue
		}
		found := false
		for _, w := range writes {
			if ok, _ := path.Match(r.pattern, w.sample); ok && w.volume == vol && w.dir == path.Dir(rel) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %s %s/%s (volume %s, %s) matches nothing a sensor writes there (%v)", composeConfig, r.key, r.dir, r.pattern, vol, path.Dir(rel), writes)
		}
	}

	// Kafka: the brokers are the kafka service's advertised listener, the
	// topics are kafka-init's.
	kafka := p.services["kafka"]
	for name, kc := range mapAt(cfg, "outputs", "kafka") {
		for _, b := range stringsAt(map[string]any{"k": kc}, "k", "brokers") {
			host, _, _ := strings.Cut(b, ":")
			if p.services[host] == nil || !strings.Contains(kafka.environment["KAFKA_ADVERTISED_LISTENERS"], "//"+b) {
				t.Errorf("%s: outputs.kafka.%s broker %s is not an advertised listener of a compose service (%s)", composeConfig, name, b, kafka.environment["KAFKA_ADVERTISED_LISTENERS"])
			}
		}
	}
	kinit := p.services["kafka-init"]
	if !slices.ContainsFunc(kinit.mounts, func(m composeMount) bool {
		return m.bind && sameFile(filepath.Join(filepath.Dir(composeFile), m.source), topicScript)
	}) {
		t.Errorf("%s: kafka-init does not mount %s", composeFile, topicScript)
	}
	if got, want := kinit.dependsOn["kafka"], "service_healthy"; got != want {
		t.Errorf("%s: kafka-init depends on kafka with %q, want %q", composeFile, got, want)
	}
	created := scriptTopics(t, kinit.environment)
	for name, kc := range mapAt(cfg, "outputs", "kafka") {
		for kind, topic := range mapAt(map[string]any{"k": kc}, "k", "topics") {
			if !created[fmt.Sprint(topic)] {
				t.Errorf("%s: outputs.kafka.%s.topics.%s %v is not created by kafka-init", composeConfig, name, kind, topic)
			}
		}
	}
	if auto := kafka.environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]; auto != "false" {
		t.Errorf("%s: kafka KAFKA_AUTO_CREATE_TOPICS_ENABLE=%q, want \"false\" (a topic typo must fail)", composeFile, auto)
	}

	t.Run("compose-spec", composeSpec)
}

// composeSpec loads the compose file with the Compose Specification's
// reference loader (deploy/compose/validate): the Compose JSON schema,
// interpolation and the project's consistency, as docker compose checks
// them. It skips, with the reason, when the tool's modules cannot be
// downloaded.
func composeSpec(t *testing.T) {
	gocmd := toolModule(t, composeValidator)
	file, _ := filepath.Abs(composeFile)
	out, err := gocmd("run", ".", file)
	if err != nil {
		t.Fatalf("deploy/%s %s: %v\n%s", composeValidator, composeFile, err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
	// It catches what the static checks above do not look at.
	orig := readFile(t, composeFile)
	for _, bad := range []struct{ old, new string }{
		{"    read_only: true", "    read_onyl: true"},
		{"stop_grace_period: 45s", "stop_grace_period: 45 seconds"},
	} {
		if !bytes.Contains(orig, []byte(bad.old)) {
			t.Fatalf("%s has no %q; update the test", composeFile, bad.old)
		}
		// In a copy of the compose folder's layout, so that the relative
		// bind mounts resolve.
		p := filepath.Join(t.TempDir(), "compose.yaml")
		text := bytes.Replace(orig, []byte(bad.old), []byte(bad.new), 1)
		abs, _ := filepath.Abs(".")
		text = bytes.ReplaceAll(text, []byte("../"), []byte(abs+"/"))
		text = bytes.ReplaceAll(text, []byte("./aegis.yaml"), []byte(abs+"/compose/aegis.yaml"))
		if err := os.WriteFile(p, text, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := gocmd("run", ".", p); err == nil {
			t.Errorf("the compose loader accepts %q:\n%s", bad.new, out)
		}
	}
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// ---------------------------------------------------------------------------
// Kubernetes.

type k8sDocs struct {
	docs   []map[string]any
	config string // the ConfigMap's aegis.yaml
}

func loadK8s(t *testing.T) *k8sDocs {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, k8sManifest)))
	k := &k8sDocs{}
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", k8sManifest, err)
		}
		if d != nil {
			k.docs = append(k.docs, d)
		}
	}
	cm := k.find("ConfigMap", "aegis-config")
	if cm == nil {
		t.Fatalf("%s: no ConfigMap aegis-config", k8sManifest)
	}
	k.config, _ = valueAt(cm, "data", "aegis.yaml").(string)
	if k.config == "" {
		t.Fatalf("%s: ConfigMap aegis-config has no aegis.yaml", k8sManifest)
	}
	return k
}

func (k *k8sDocs) find(kind, name string) map[string]any {
	for _, d := range k.docs {
		if d["kind"] == kind && valueAt(d, "metadata", "name") == name {
			return d
		}
	}
	return nil
}

func TestKubernetesManifest(t *testing.T) {
	k := loadK8s(t)
	ns := k.find("Namespace", "aegis")
	if ns == nil || valueAt(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce") != "privileged" {
		t.Errorf("%s: the Namespace must enforce the privileged Pod Security level (hostNetwork and NET_RAW break baseline)", k8sManifest)
	}
	ds := k.find("DaemonSet", "aegis")
	if ds == nil {
		t.Fatalf("%s: no DaemonSet aegis", k8sManifest)
	}
	pod := mapAt(ds, "spec", "template", "spec")
	if pod["hostNetwork"] != true {
		t.Errorf("DaemonSet: hostNetwork must be true (the capture interface is the node's)")
	}
	if pod["automountServiceAccountToken"] != false {
		t.Errorf("DaemonSet: automountServiceAccountToken must be false (Aegis does not use the API)")
	}
	containers := sliceAt(pod, "containers")
	if len(containers) != 1 {
		t.Fatalf("DaemonSet: %d containers, want 1", len(containers))
	}
	c, _ := containers[0].(map[string]any)
	sc := mapAt(c, "securityContext")
	if add := stringsAt(sc, "capabilities", "add"); !slices.Equal(add, []string{"NET_RAW"}) {
		t.Errorf("container: capabilities.add %v, want [NET_RAW] only", add)
	}
	if drop := stringsAt(sc, "capabilities", "drop"); !slices.Equal(drop, []string{"ALL"}) {
		t.Errorf("container: capabilities.drop %v, want [ALL]", drop)
	}
	for key, want := range map[string]any{"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false, "privileged": false} {
		if sc[key] != want {
			t.Errorf("container: securityContext.%s = %v, want %v", key, sc[key], want)
		}
	}
	if valueAt(sc, "seccompProfile", "type") != "RuntimeDefault" && valueAt(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		t.Errorf("container: no RuntimeDefault seccomp profile")
	}

	// Volumes and mounts against the ConfigMap's aegis.yaml.
	volumes := map[string]map[string]any{}
	for _, v := range sliceAt(pod, "volumes") {
		m, _ := v.(map[string]any)
		volumes[fmt.Sprint(m["name"])] = m
	}
	var mounts []composeMount
	for _, v := range sliceAt(c, "volumeMounts") {
		m, _ := v.(map[string]any)
		vol := volumes[fmt.Sprint(m["name"])]
		if vol == nil {
			t.Errorf("container: volumeMount %v names no volume", m["name"])
			continue
		}
		ro, _ := m["readOnly"].(bool)
		mounts = append(mounts, composeMount{source: fmt.Sprint(m["name"]), target: fmt.Sprint(m["mountPath"]), readOnly: ro})
	}
	cfg := decodeMap(t, "ConfigMap aegis-config", []byte(k.config))
	checkConfigMounted(t, k8sManifest+" ConfigMap aegis.yaml", cfg, mounts)
	for _, cp := range configPaths(cfg) {
		sensorData := strings.HasPrefix(cp.key, "logs.zeek") || strings.HasPrefix(cp.key, "logs.eve") || strings.HasPrefix(cp.key, "packets.")
		if m, ok := mountOf(mounts, cp.path); ok && sensorData && valueAt(volumes[m.source], "hostPath") == nil {
			t.Errorf("%s: %s %s is on volume %s, want a hostPath (the sensor writes it on the node)", k8sManifest, cp.key, cp.path, m.source)
		}
	}
	args := stringsAt(c, "args")
	cfgArg := ""
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			cfgArg = args[i+1]
		}
	}
	if m, ok := mountOf(mounts, cfgArg); !ok || valueAt(volumes[m.source], "configMap", "name") != "aegis-config" || path.Base(cfgArg) != "aegis.yaml" {
		t.Errorf("container: --config %q is not the aegis.yaml of the ConfigMap aegis-config", cfgArg)
	}
	if src, _ := valueAt(cfg, "packets", "source").(string); src == "afpacket" {
		if f, _ := valueAt(cfg, "packets", "afpacket", "filter").(string); f != "" && !regexp.MustCompile(`^\d+,`).MatchString(f) {
			t.Errorf("ConfigMap aegis.yaml: packets.afpacket.filter %q is a tcpdump expression; the image has no tcpdump, give the compiled form", f)
		}
	}

	t.Run("kubeconform", func(t *testing.T) { kubeconform(t) })
}

// kubeconform validates the manifest with kubeconform against the
// Kubernetes schemas, and decodes it strictly into the k8s.io/api types,
// with the tool module in deploy/kubernetes/validate (see its doc comment:
// kubeconform's schemas are generated from the OpenAPI documents that
// k8s.io/client-go embeds, so nothing is downloaded from GitHub). The Go
// module proxy must serve that module's dependencies the first time; the
// test skips, with the reason, when it cannot.
func kubeconform(t *testing.T) {
	gocmd := toolModule(t, k8sValidator)
	schemas := t.TempDir()
	manifest, _ := filepath.Abs(k8sManifest)
	out, err := gocmd("run", ".", "-schemas", schemas, manifest)
	if err != nil {
		t.Fatalf("deploy/kubernetes/validate: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
	location := filepath.Join(schemas, "{{ .ResourceKind }}{{ .KindSuffix }}.json")
	kc := func(file string) ([]byte, error) {
		return gocmd("tool", "kubeconform", "-strict", "-summary", "-schema-location", location, file)
	}
	out, err = kc(manifest)
	if err != nil || !bytes.Contains(out, []byte("Invalid: 0, Errors: 0, Skipped: 0")) {
		t.Errorf("kubeconform -strict %s: %v\n%s", k8sManifest, err, out)
	}
	t.Logf("kubeconform: %s", bytes.TrimSpace(out))

	// Both checks catch mistakes: a misspelt field, a wrong type.
	orig := readFile(t, k8sManifest)
	for _, bad := range []struct{ old, new string }{
		{"readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"},
		{"terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 45s"},
	} {
		if !bytes.Contains(orig, []byte(bad.old)) {
			t.Fatalf("%s has no %q; update the test", k8sManifest, bad.old)
		}
		p := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(p, bytes.Replace(orig, []byte(bad.old), []byte(bad.new), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := kc(p); err == nil {
			t.Errorf("kubeconform accepts %q:\n%s", bad.new, out)
		}
		if out, err := gocmd("run", ".", p); err == nil {
			t.Errorf("strict decoding accepts %q:\n%s", bad.new, out)
		}
	}
}

// toolModule returns a function that runs the go command in the tool
// module dir (a nested module with its own go.mod), after downloading its
// modules; it skips the test, with the reason, when they cannot be
// downloaded (no Go module proxy).
func toolModule(t *testing.T, dir string) func(args ...string) ([]byte, error) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go not in PATH: the tool module %s cannot be built", dir)
	}
	gocmd := func(args ...string) ([]byte, error) {
		cmd := exec.Command(goBin, append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
		return cmd.CombinedOutput()
	}
	if out, err := gocmd("mod", "download"); err != nil {
		t.Skipf("the modules of deploy/%s cannot be downloaded (no Go module proxy?), so it was not run: %v\n%s", dir, err, lastLines(out, 5))
	}
	return gocmd
}

// ---------------------------------------------------------------------------
// Kafka topic script.

// scriptTopics runs create-topics.sh against a stub kafka-topics.sh with
// env and returns the topics it created.
func scriptTopics(t *testing.T, env map[string]string) map[string]bool {
	t.Helper()
	calls, _, err := runTopicScript(t, env, "kafka-topics.sh", "")
	if err != nil {
		t.Fatalf("%s: %v", topicScript, err)
	}
	topics := map[string]bool{}
	for _, c := range calls {
		for i, w := range c {
			if w == "--topic" && i+1 < len(c) {
				topics[c[i+1]] = true
			}
		}
	}
	if len(topics) == 0 {
		t.Fatalf("%s created no topics", topicScript)
	}
	return topics
}

// runTopicScript runs the script with a stub tool (kafka-topics.sh or rpk)
// first in PATH that records its arguments (one call per line, words
// separated by tabs) and runs stubBody, and returns the recorded calls and
// the script's output.
func runTopicScript(t *testing.T, env map[string]string, tool, stubBody string) ([][]string, string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	stub := "#!/bin/sh\n(IFS='\t'; printf '%s\\n' \"$*\") >> " + log + "\n" + stubBody + "\n"
	if err := os.WriteFile(filepath.Join(dir, tool), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, topicScript)
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "KAFKA_BIN="+dir, "TOOL=", "DRY_RUN=")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	b, _ := os.ReadFile(log)
	var calls [][]string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			calls = append(calls, strings.Split(l, "\t"))
		}
	}
	if err != nil {
		return calls, string(out), fmt.Errorf("%v\n%s", err, out)
	}
	return calls, string(out), nil
}

func TestKafkaTopicScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	if out, err := exec.Command(bash, "-n", topicScript).CombinedOutput(); err != nil {
		t.Fatalf("bash -n %s: %v\n%s", topicScript, err, out)
	}
	if st, err := os.Stat(topicScript); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable", topicScript)
	}

	calls, _, err := runTopicScript(t, map[string]string{"BOOTSTRAP": "broker:9092", "PARTITIONS": "6", "REPLICATION": "3"}, "kafka-topics.sh", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 4 {
		t.Fatalf("%d kafka-topics.sh calls, want 4: %v", len(calls), calls)
	}
	for _, c := range calls {
		line := strings.Join(c, " ")
		for _, want := range []string{"--bootstrap-server broker:9092", "--create", "--if-not-exists", "--partitions 6", "--replication-factor 3",
			"--config cleanup.policy=delete", "--config min.insync.replicas=2", "--config retention.ms="} {
			if !strings.Contains(line, want) {
				t.Errorf("kafka-topics.sh %s: no %q", line, want)
			}
		}
	}

	// rpk: an existing topic is not an error (the script is idempotent).
	calls, out, err := runTopicScript(t, map[string]string{"TOOL": "rpk", "REPLICATION": "1"}, "rpk",
		`case "$*" in *aegis.detections*) echo "TOPIC              STATUS"; echo "aegis.detections   TOPIC_ALREADY_EXISTS: The topic has already been created."; exit 1;; esac`)
	if err != nil {
		t.Fatalf("rpk with an existing topic: %v", err)
	}
	if len(calls) != 4 || !strings.Contains(out, "aegis.detections exists") {
		t.Errorf("rpk: %d calls, output:\n%s", len(calls), out)
	}
	for _, c := range calls {
		if line := strings.Join(c, " "); !strings.Contains(line, "--replicas 1") || !strings.Contains(line, "min.insync.replicas=1") {
			t.Errorf("rpk %s: want --replicas 1 and min.insync.replicas=1", line)
		}
	}

	// Bad settings fail before anything is created.
	for _, env := range []map[string]string{
		{"PARTITIONS": "twelve"},
		{"REPLICATION": "1", "MIN_INSYNC": "2"},
		{"CLEANUP_POLICY": "forever"},
	} {
		calls, _, err := runTopicScript(t, env, "kafka-topics.sh", "")
		if err == nil || len(calls) > 0 {
			t.Errorf("%v: want a failure and no call (got %d calls, err %v)", env, len(calls), err)
		}
	}

	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not found (Debian package shellcheck): the script is not linted")
	}
	if out, err := exec.Command(sc, "--severity=style", topicScript).CombinedOutput(); err != nil {
		t.Errorf("shellcheck %s:\n%s", topicScript, out)
	}
}

// ---------------------------------------------------------------------------
// Every deployment file is read by a check above.

func TestDeployLayoutIsChecked(t *testing.T) {
	known := map[string]bool{
		unitFile: true, sysusersFile: true,
		dockerfile: true, dockerignore: true,
		composeFile: true, composeConfig: true,
		k8sManifest:               true,
		k8sValidator + "/main.go": true, k8sValidator + "/go.mod": true, k8sValidator + "/go.sum": true,
		composeValidator + "/main.go": true, composeValidator + "/go.mod": true, composeValidator + "/go.sum": true,
		zeekSettings: true, suricataSettings: true,
		profilesFile: true, topicScript: true,
	}
	globbed := map[string]bool{rulesDir: true, configsDir: true} // every *.yaml is checked
	for _, dir := range []string{"systemd", "container", "compose", "kubernetes", "sensor", rulesDir, "profiles", "kafka", configsDir} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, ".md") {
				return err
			}
			p = filepath.ToSlash(p)
			if globbed[path.Dir(p)] && strings.HasSuffix(p, ".yaml") {
				return nil
			}
			if !known[p] {
				t.Errorf("deploy/%s is not checked by deploy/deploy_test.go: teach a check to read it", p)
			}
			return nil
		})
		if err != nil {
			t.Errorf("deploy/%s: %v", dir, err)
		}
	}
	for p := range known {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("deploy/%s is missing", p)
		}
	}
}

// ---------------------------------------------------------------------------
// Helpers over decoded YAML.

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	sort.Strings(out)
	return out
}

func decodeMap(t *testing.T, name string, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// valueAt follows keys through nested maps; nil when a key is absent.
func valueAt(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func mapAt(m map[string]any, keys ...string) map[string]any {
	mm, _ := valueAt(m, keys...).(map[string]any)
	return mm
}

func sliceAt(m map[string]any, keys ...string) []any {
	s, _ := valueAt(m, keys...).([]any)
	return s
}

func stringsAt(m map[string]any, keys ...string) []string {
	var out []string
	for _, v := range sliceAt(m, keys...) {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
