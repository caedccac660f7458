package main

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/aegis-nsm/aegis/enrich/coupling"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/enrich/alert"
	"github.com/aegis-nsm/aegis/enrich/candidate"
	"github.com/aegis-nsm/aegis/enrich/livejoin"
	"github.com/aegis-nsm/aegis/ingest/idsfollow"
	"github.com/aegis-nsm/aegis/llm"
	"github.com/aegis-nsm/aegis/rules"
)

// runConfig is aegis.yaml: every setting of 'aegis run'. Each section is
// the Config of the package that owns the stage; this file only puts them
// together, fills defaults and validates. deploy/aegis.yaml documents every
// key.
type runConfig struct {
	// Sensor names this Aegis in records, Kafka headers and metrics.
	Sensor string `yaml:"sensor"`
	// FlowSemantics splits flows as the sensor does: "zeek" or
	// "suricata".
	FlowSemantics string `yaml:"flow_semantics"`
	// CommunityIDSeed is the sensor's Community ID seed.
	CommunityIDSeed uint16 `yaml:"community_id_seed"`
	// Workers is the number of flow-table shards (0: one per core).
	Workers int `yaml:"workers"`

	Logs       idsfollow.Config `yaml:"logs"`
	Packets    packetsConfig    `yaml:"packets"`
	FlowTable  flowtable.Config `yaml:"flow_table"`
	Cadence    cadence.Config   `yaml:"cadence"`
	Profiles   string           `yaml:"profiles"`
	Candidates candidate.Config `yaml:"candidates"`
	Join       livejoin.Config  `yaml:"join"`
	Rules      rules.Config     `yaml:"rules"`
	Alerts     alert.Config     `yaml:"alerts"`
	Outputs    outputsConfig    `yaml:"outputs"`
	Metrics    metricsConfig    `yaml:"metrics"`
	LLM        llm.Config       `yaml:"llm"`
	Coupling   coupling.Config  `yaml:"coupling"`
	// QuietAdvance is how long the capture must be silent before the
	// packet clock follows the wall clock (so idle flows still end).
	QuietAdvance time.Duration `yaml:"quiet_advance"`
	// ShutdownTimeout bounds the drain on SIGTERM (flush sinks, write
	// checkpoints).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// defaultRunConfig is what Aegis runs with when aegis.yaml leaves a key
// out.
func defaultRunConfig() runConfig {
	return runConfig{
		Sensor:          hostname(),
		FlowSemantics:   "zeek",
		Logs:            idsfollow.DefaultConfig(),
		Packets:         defaultPacketsConfig(),
		FlowTable:       flowtable.DefaultConfig(),
		Cadence:         cadence.DefaultConfig(),
		Candidates:      candidate.DefaultConfig(),
		Join:            livejoin.DefaultConfig(),
		Rules:           rules.DefaultConfig(),
		Alerts:          alert.DefaultConfig(),
		Outputs:         defaultOutputsConfig(),
		Metrics:         defaultMetricsConfig(),
		LLM:             llm.DefaultConfig(),
		Coupling:        coupling.DefaultConfig(),
		QuietAdvance:    2 * time.Second,
		ShutdownTimeout: 30 * time.Second,
	}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "aegis"
	}
	return h
}

// loadRunConfig reads path strictly: an unknown key or a wrong type is an
// error naming the file and line.
func loadRunConfig(path string) (*runConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseRunConfig(path, raw)
}

func parseRunConfig(name string, raw []byte) (*runConfig, error) {
	cfg := defaultRunConfig()
	if semantics := peekSemantics(raw); semantics == "suricata" {
		cfg.FlowTable = flowtable.SuricataConfig()
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, yamlError(err))
	}
	if err := applyOutputDefaults(raw, &cfg.Outputs); err != nil {
		return nil, fmt.Errorf("%s: %w", name, yamlError(err))
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%s:%s %w", name, lineOfError(raw, err), err)
	}
	return &cfg, nil
}

// lineOfError finds where in raw the key an error names is: validation
// messages start with the key path ("candidates: include: ..."), so the
// deepest key of that path that the document has gives the line
// (" line N:"); "" when none matches.
func lineOfError(raw []byte, err error) string {
	var doc yaml.Node
	if yaml.Unmarshal(raw, &doc) != nil || len(doc.Content) == 0 {
		return ""
	}
	node, line := doc.Content[0], 0
	for _, part := range strings.Split(err.Error(), ": ") {
		part = strings.TrimSpace(part)
		if i := strings.IndexAny(part, " ([\""); i > 0 {
			part = part[:i] // "routes[0]" -> "routes", "grace (10m)" -> "grace"
		}
		next := mappingValue(node, part)
		if next == nil {
			break
		}
		line, node = next.Line, next
		if next.Kind == yaml.SequenceNode && len(next.Content) > 0 {
			node = next.Content[0]
		}
	}
	if line == 0 {
		return ""
	}
	return fmt.Sprintf(" line %d:", line)
}

// mappingValue returns the value of key in the mapping n (nil if n is not
// a mapping or lacks key); its Line is the key's line.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := *n.Content[i+1]
			v.Line = n.Content[i].Line
			return &v
		}
	}
	return nil
}

// peekSemantics reads flow_semantics first, so that the flow-table
// defaults the rest of the file overrides are the right ones.
func peekSemantics(raw []byte) string {
	var v struct {
		FlowSemantics string `yaml:"flow_semantics"`
	}
	yaml.Unmarshal(raw, &v)
	return v.FlowSemantics
}

// yamlError keeps yaml.v3's "line N: ..." messages and drops its prefix.
func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s", bytes.Join(stringsToBytes(te.Errors), []byte("; ")))
	}
	return err
}

func stringsToBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// validate checks every section; the first error names its section.
func (c *runConfig) validate() error {
	if c.Sensor == "" {
		return errors.New("sensor: must not be empty")
	}
	switch c.FlowSemantics {
	case "zeek", "suricata":
	default:
		return fmt.Errorf("flow_semantics: %q is not zeek or suricata", c.FlowSemantics)
	}
	if err := c.Logs.Validate(); err != nil {
		return err
	}
	if err := c.Packets.validate(); err != nil {
		return err
	}
	if err := c.FlowTable.Validate(); err != nil {
		return fmt.Errorf("flow_table: %w", err)
	}
	if err := c.Cadence.Validate(); err != nil {
		return fmt.Errorf("cadence: %w", err)
	}
	if c.Profiles != "" {
		if _, err := cadence.LoadProfiles(c.Profiles); err != nil {
			return fmt.Errorf("profiles: %w", err)
		}
	}
	if err := c.Candidates.Validate(); err != nil {
		return err
	}
	if err := c.Join.Validate(); err != nil {
		return err
	}
	if err := c.Rules.Validate(); err != nil {
		return err
	}
	if err := c.Outputs.validate(); err != nil {
		return err
	}
	if err := c.Alerts.Validate(c.Outputs.names()); err != nil {
		return err
	}
	if err := c.Coupling.Validate(); err != nil {
		return fmt.Errorf("coupling: %w", err)
	}
	if err := c.LLM.Validate(); err != nil {
		return fmt.Errorf("llm: %w", err)
	}
	if c.QuietAdvance <= 0 || c.ShutdownTimeout <= 0 {
		return errors.New("quiet_advance and shutdown_timeout must be positive")
	}
	return nil
}
