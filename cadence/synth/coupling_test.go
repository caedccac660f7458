package synth

import (
	"bytes"
	"net/netip"
	"testing"
)

// couplingSet generates cfg in memory.
func couplingSet(t testing.TB, cfg CouplingConfig) (*generated, []byte) {
	t.Helper()
	var p, c, s, tr, h bytes.Buffer
	sum, err := GenerateCoupling(cfg, CouplingOutputs{Outputs: Outputs{PCAP: &p, Conn: &c, SSL: &s, Truth: &tr}, Hosts: &h})
	if err != nil {
		t.Fatal(err)
	}
	return &generated{pcap: p.Bytes(), conn: c.Bytes(), ssl: s.Bytes(), truth: tr.Bytes(), sum: sum}, h.Bytes()
}

// TestCouplingDeterministic: the same config gives the same bytes.
func TestCouplingDeterministic(t *testing.T) {
	cfg := DefaultCouplingConfig()
	cfg.EpisodesPerScenario = 1
	a, ha := couplingSet(t, cfg)
	b, hb := couplingSet(t, cfg)
	if !bytes.Equal(a.pcap, b.pcap) || !bytes.Equal(a.conn, b.conn) || !bytes.Equal(a.truth, b.truth) || !bytes.Equal(ha, hb) {
		t.Fatal("two generations of the same coupling config differ")
	}
	t.Logf("%d episodes, %d flows, %d packets", a.sum.Episodes, a.sum.Flows, a.sum.Packets)
}

// TestCouplingTruth checks the per-host truth against the flow truth: one
// host per episode, agent hosts with 5-40 cycles and one lag per cycle in
// 50-500 ms (plus a DNS lookup for some API calls), negatives uncoupled.
func TestCouplingTruth(t *testing.T) {
	g, hb := couplingSet(t, DefaultCouplingConfig())
	hosts, err := ReadHostTruth(bytes.NewReader(hb))
	if err != nil {
		t.Fatal(err)
	}
	flows, err := ReadTruth(bytes.NewReader(g.truth))
	if err != nil {
		t.Fatal(err)
	}
	if want := 0; len(hosts) == want {
		t.Fatal("no host truth")
	}
	perScenario := map[string]int{}
	byHost := map[string]HostTruth{}
	for _, h := range hosts {
		if _, dup := byHost[h.Host]; dup {
			t.Fatalf("host %s used by two episodes", h.Host)
		}
		byHost[h.Host] = h
		perScenario[h.Scenario]++
		if h.Coupled {
			if h.Cycles < 5 || h.Cycles > 40 || len(h.LagsMs) != h.Cycles {
				t.Errorf("%s %s: %d cycles, %d lags", h.Host, h.Scenario, h.Cycles, len(h.LagsMs))
			}
			for _, l := range h.LagsMs {
				if l < 50 || l > 1500 {
					t.Errorf("%s %s: lag %.0f ms outside 50-500 ms (+ lookup)", h.Host, h.Scenario, l)
				}
			}
			if h.Answers < h.Cycles {
				t.Errorf("%s: %d answers for %d cycles", h.Host, h.Answers, h.Cycles)
			}
		} else if h.Cycles != 0 || h.Answers == 0 {
			t.Errorf("negative %s %s: %d cycles, %d answers", h.Host, h.Scenario, h.Cycles, h.Answers)
		}
	}
	for _, s := range CouplingScenarios() {
		want := DefaultCouplingConfig().EpisodesPerScenario * max(len(s.Variants), 1)
		if perScenario[s.Name] != want {
			t.Errorf("scenario %s: %d episodes, want %d", s.Name, perScenario[s.Name], want)
		}
	}
	// Every flow from a coupling host belongs to that host's episode, and
	// every host has LLM streams.
	llm := map[string]int{}
	for _, f := range flows {
		h, ok := byHost[f.OrigH]
		if !ok {
			continue
		}
		if f.Episode != h.Episode {
			t.Fatalf("flow %s of host %s is from episode %d, not %d", f.UID, f.OrigH, f.Episode, h.Episode)
		}
		if f.Class == "llm_stream" {
			llm[f.OrigH]++
		}
		if !netip.MustParseAddr(f.OrigH).Is4() {
			t.Errorf("flow %s: IPv6 in the coupling set", f.UID)
		}
	}
	for h := range byHost {
		if llm[h] == 0 {
			t.Errorf("host %s has no LLM flow", h)
		}
	}
	t.Logf("%d hosts, %d flows, %d packets", len(hosts), g.sum.Flows, g.sum.Packets)
}

func TestCouplingConfigValidate(t *testing.T) {
	c := DefaultCouplingConfig()
	c.Scenarios = []string{"llm_chat"}
	if err := c.Validate(); err == nil {
		t.Error("a main-set scenario name was accepted")
	}
	c = DefaultCouplingConfig()
	c.Config.Scenarios = []string{"llm_chat"}
	if err := c.Validate(); err == nil {
		t.Error("Config.Scenarios was accepted")
	}
	c = DefaultCouplingConfig()
	c.TargetPackets = 10
	if err := c.Validate(); err == nil {
		t.Error("benchmark mode was accepted")
	}
	c = DefaultCouplingConfig()
	c.Scenarios = []string{"coupling_ci_runner"}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}
