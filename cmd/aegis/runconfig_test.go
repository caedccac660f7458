package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunConfigStrictWithLines(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", "logs:\n  zeek: [conn.log]\nsensr: x\n", "line 3: field sensr not found"},
		{"unknown nested key", "logs:\n  zeek: [conn.log]\n  follow:\n    poll_intervall: 1s\n", "line 4: field poll_intervall not found"},
		{"unknown sink key", "logs:\n  zeek: [conn.log]\noutputs:\n  files:\n    jsonl:\n      path: /tmp/x.jsonl\n      rotate: yes\n", "line 7: field rotate not found"},
		{"wrong type", "logs:\n  zeek: [conn.log]\nworkers: many\n", "line 3"},
		{"bad cidr", "logs:\n  zeek: [conn.log]\npackets:\n  source: none\ncandidates:\n  include: [10.0.0.0/33]\n", "10.0.0.0/33"},
		{"no logs", "sensor: x\n", "no zeek or eve files"},
		{"route to unknown sink", "logs:\n  zeek: [conn.log]\npackets:\n  source: none\nalerts:\n  routes:\n    - min_severity: high\n      sinks: [pagerduty]\n", `no sink named "pagerduty"`},
		{"bad packet source", "logs:\n  zeek: [conn.log]\npackets:\n  source: tap\n", `source "tap"`},
	}
	for _, c := range cases {
		_, err := parseRunConfig("aegis.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "aegis.yaml") {
			t.Errorf("%s: error %v, want one naming aegis.yaml and containing %q", c.name, err, c.want)
		}
	}
}

func TestRunConfigDefaultsUnderNamedSinks(t *testing.T) {
	cfg, err := parseRunConfig("aegis.yaml", []byte(`logs:
  zeek: [conn.log]
packets:
  source: none
outputs:
  files:
    jsonl:
      path: /tmp/aegis.jsonl
      max_files: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Outputs.Files["jsonl"]
	if f.MaxFiles != 3 || f.MaxSize == 0 || f.Format != "json" || f.FsyncInterval != 100*time.Millisecond {
		t.Errorf("file sink config %+v: keys given must win, defaults must fill the rest", f)
	}
	if cfg.Join.JoinDelay != 30*time.Second || cfg.Logs.Follow.PollInterval != 50*time.Millisecond {
		t.Errorf("section defaults lost: join %+v follow %+v", cfg.Join, cfg.Logs.Follow)
	}
	if got := cfg.Outputs.names(); len(got) != 1 || got[0] != "jsonl" {
		t.Errorf("sink names %v", got)
	}
}

func TestSuricataSemanticsDefaults(t *testing.T) {
	cfg, err := parseRunConfig("aegis.yaml", []byte("flow_semantics: suricata\nlogs:\n  eve: [eve.json]\npackets:\n  source: none\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FlowTable.CloseDelay == 5*time.Second && cfg.FlowTable.TCPIdle == 5*time.Minute {
		t.Errorf("flow table %+v still has Zeek's timeouts", cfg.FlowTable)
	}
}

func TestCheckConfigCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("logs:\n  zeek: [conn.log]\npackets:\n  source: none\nrules:\n  dir: \"\"\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("logs:\n  zeek: [conn.log]\nsensr: x\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"check-config", good}, &out, &errb); code != exitOK {
		t.Errorf("good config: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(t.Context(), []string{"check-config", "--config", bad}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "bad.yaml: line 3") {
		t.Errorf("bad config: exit %d: %s", code, errb.String())
	}
}

// TestExampleConfigParses keeps deploy/aegis.yaml, the documented example
// of every option, valid.
func TestExampleConfigParses(t *testing.T) {
	cfg, err := loadRunConfig("../../deploy/aegis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Packets.PcapDir.Dir == "" || len(cfg.Outputs.Kafka) != 1 || len(cfg.Alerts.Routes) != 2 {
		t.Errorf("example config lost sections: %+v", cfg)
	}
}

func TestValueErrorsNameTheLine(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"logs:\n  zeek: [conn.log]\npackets:\n  source: none\nflow_semantics: bro\n", "aegis.yaml: line 5: flow_semantics"},
		{"logs:\n  zeek: [conn.log]\npackets:\n  source: none\ncandidates:\n  min_packets: 3\n  include: [10.0.0.0/33]\n", "aegis.yaml: line 7: candidates"},
		{"logs:\n  zeek: [conn.log]\npackets:\n  source: afpacket\n  afpacket:\n    interface: eth1\n    fanout_id: 23\n", "aegis.yaml: line"},
	}
	for _, c := range cases {
		_, err := parseRunConfig("aegis.yaml", []byte(c.yaml))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("error %v, want it to start with %q", err, c.want)
		}
	}
}
