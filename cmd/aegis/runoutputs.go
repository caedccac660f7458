package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/enrich/sink/file"
	"github.com/aegis-nsm/aegis/enrich/sink/kafka"
	"github.com/aegis-nsm/aegis/enrich/sink/webhook"
)

// outputsConfig names the sinks. Each map key is the sink's name, which
// alert routes refer to; names are unique across kinds. With no sink at
// all, records go to stdout as JSON lines.
type outputsConfig struct {
	// Stdout writes to standard output (its path is ignored).
	Stdout *file.Config `yaml:"stdout"`
	// Files are JSONL (or Zeek TSV, or EVE) files with rotation.
	Files map[string]file.Config `yaml:"files"`
	// Kafka are Kafka clusters.
	Kafka map[string]kafka.Config `yaml:"kafka"`
	// Webhooks are HTTP endpoints (plain JSON, Slack, Teams, PagerDuty).
	Webhooks map[string]webhook.Config `yaml:"webhooks"`
}

func defaultOutputsConfig() outputsConfig { return outputsConfig{} }

// names lists every configured sink name, sorted.
func (o *outputsConfig) names() []string {
	var n []string
	if o.Stdout != nil || o.empty() {
		n = append(n, "stdout")
	}
	for k := range o.Files {
		n = append(n, k)
	}
	for k := range o.Kafka {
		n = append(n, k)
	}
	for k := range o.Webhooks {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func (o *outputsConfig) empty() bool {
	return o.Stdout == nil && len(o.Files) == 0 && len(o.Kafka) == 0 && len(o.Webhooks) == 0
}

func (o *outputsConfig) validate() error {
	seen := map[string]string{}
	check := func(kind, name string, err error) error {
		if prev, dup := seen[name]; dup {
			return fmt.Errorf("outputs: the name %q is used by a %s and a %s sink", name, prev, kind)
		}
		seen[name] = kind
		if name == "" {
			return fmt.Errorf("outputs: a %s sink has an empty name", kind)
		}
		if err != nil {
			return fmt.Errorf("outputs: %s %q: %w", kind, name, err)
		}
		return nil
	}
	if o.Stdout != nil {
		c := *o.Stdout
		c.Path = file.StdoutPath
		if err := check("stdout", "stdout", c.Validate()); err != nil {
			return err
		}
	}
	for _, n := range sortedKeys(o.Files) {
		if err := check("file", n, o.Files[n].Validate()); err != nil {
			return err
		}
	}
	for _, n := range sortedKeys(o.Kafka) {
		if err := check("kafka", n, o.Kafka[n].Validate()); err != nil {
			return err
		}
	}
	for _, n := range sortedKeys(o.Webhooks) {
		if err := check("webhook", n, o.Webhooks[n].Validate()); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// applyOutputDefaults decodes each named sink again onto its package's
// defaults: the strict pass checked the keys (with line numbers) but
// decoded map entries onto zero values.
func applyOutputDefaults(raw []byte, o *outputsConfig) error {
	var nodes struct {
		Outputs struct {
			Stdout   *yaml.Node           `yaml:"stdout"`
			Files    map[string]yaml.Node `yaml:"files"`
			Kafka    map[string]yaml.Node `yaml:"kafka"`
			Webhooks map[string]yaml.Node `yaml:"webhooks"`
		} `yaml:"outputs"`
	}
	if err := yaml.Unmarshal(raw, &nodes); err != nil {
		return err
	}
	if n := nodes.Outputs.Stdout; n != nil {
		c := file.DefaultConfig()
		c.FsyncInterval = -1 // stdout cannot be fsynced
		if err := n.Decode(&c); err != nil {
			return err
		}
		c.Path = file.StdoutPath
		o.Stdout = &c
	}
	for name, n := range nodes.Outputs.Files {
		c := file.DefaultConfig()
		if err := n.Decode(&c); err != nil {
			return err
		}
		o.Files[name] = c
	}
	for name, n := range nodes.Outputs.Kafka {
		c := kafka.DefaultConfig()
		if err := n.Decode(&c); err != nil {
			return err
		}
		o.Kafka[name] = c
	}
	for name, n := range nodes.Outputs.Webhooks {
		c := webhook.DefaultConfig()
		if err := n.Decode(&c); err != nil {
			return err
		}
		o.Webhooks[name] = c
	}
	return nil
}

// buildSinks opens every configured sink; a Kafka sink checks at once that
// its brokers answer and its topics exist. stdout is where the stdout sink
// writes (os.Stdout in production).
func buildSinks(ctx context.Context, cfg *runConfig, log *slog.Logger, stdout io.Writer) (map[string]sink.Sink, func() error, error) {
	sinks := map[string]sink.Sink{}
	closeAll := func() error {
		var err error
		for _, n := range sortedKeys(sinks) {
			err = errors.Join(err, sinks[n].Close())
		}
		return err
	}
	fail := func(err error) (map[string]sink.Sink, func() error, error) {
		closeAll()
		return nil, nil, err
	}
	o := &cfg.Outputs
	if o.Stdout != nil || o.empty() {
		c := file.DefaultConfig()
		c.FsyncInterval = -1
		if o.Stdout != nil {
			c = *o.Stdout
		}
		c.Path = file.StdoutPath
		var (
			s   *file.Sink
			err error
		)
		if stdout == os.Stdout {
			s, err = file.NewStdout(c, log)
		} else {
			s, err = file.NewWriter("stdout", stdout, c, log)
		}
		if err != nil {
			return fail(fmt.Errorf("outputs: stdout: %w", err))
		}
		sinks["stdout"] = s
	}
	for _, n := range sortedKeys(o.Files) {
		s, err := file.New(o.Files[n], log)
		if err != nil {
			return fail(fmt.Errorf("outputs: file %q: %w", n, err))
		}
		sinks[n] = s
	}
	for _, n := range sortedKeys(o.Kafka) {
		kc := o.Kafka[n]
		if kc.Sensor == "" {
			kc.Sensor = cfg.Sensor
		}
		s, err := kafka.New(kc, log)
		if err != nil {
			return fail(fmt.Errorf("outputs: kafka %q: %w", n, err))
		}
		sinks[n] = s
		if err := s.Check(ctx); err != nil {
			return fail(fmt.Errorf("outputs: kafka %q: %w", n, err))
		}
	}
	for _, n := range sortedKeys(o.Webhooks) {
		s, err := webhook.New(o.Webhooks[n], log)
		if err != nil {
			return fail(fmt.Errorf("outputs: webhook %q: %w", n, err))
		}
		sinks[n] = s
	}
	return sinks, closeAll, nil
}
