package coupling

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// hostEventsN feeds one host the way a typical busy host looks: a few
// answers of one LLM connection and several new connections, each with
// its own identity strings (as the pipeline's records carry them).
func feedTypical(d *Detector, host netip.Addr, i int, streams, actions int) {
	base := t0 + int64(i%1000)*int64(time.Millisecond)
	hs := host.String()
	llm := "Cl" + fmt.Sprint(i)
	for k := 0; k < streams; k++ {
		st := base + int64(k)*int64(10*time.Second)
		d.ObserveStream(Stream{Host: host, Start: st, End: st + int64(3*time.Second), RecordID: fmt.Sprintf("%032x", i), UID: llm,
			CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", FlowKey: "tcp " + hs + ":40000 203.0.113.5:443", Route: "openai/gpt-4o"})
	}
	for k := 0; k < actions; k++ {
		d.ObserveAction(Action{Host: host, Time: base + int64(k)*int64(7*time.Second), Kind: ActionConnect,
			FlowKey: fmt.Sprintf("tcp %s:%d 10.30.1.20:22", hs, 40001+k), RecordID: fmt.Sprintf("%032x", i*100+k), UID: fmt.Sprintf("C%017d", i*100+k),
			CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", Service: "ssh", DstPort: 22})
	}
}

// checkAccounting verifies the bounds and that the event count matches the
// lists. Called with no other goroutine using d.
func checkAccounting(t *testing.T, d *Detector) {
	t.Helper()
	cfg := d.cfg
	events := 0
	for _, h := range d.hosts {
		if len(h.streams) > cfg.MaxEventsPerHost || len(h.actions) > cfg.MaxEventsPerHost {
			t.Fatalf("host %v holds %d streams and %d actions (bound %d)", h.ip, len(h.streams), len(h.actions), cfg.MaxEventsPerHost)
		}
		events += len(h.streams) + len(h.actions)
	}
	st := d.Stats()
	if st.Hosts > cfg.MaxHosts || st.Events > cfg.MaxEvents || st.Events != events {
		t.Fatalf("hosts %d (bound %d), events %d (bound %d, lists hold %d)", st.Hosts, cfg.MaxHosts, st.Events, cfg.MaxEvents, events)
	}
}

// feedCounts feeds host streams answers and actions connections with fixed
// identity strings (cheap: the bound test asserts counts, not bytes).
func feedCounts(d *Detector, host netip.Addr, i, streams, actions int) {
	base := t0 + int64(i%1000)*int64(time.Millisecond)
	for k := 0; k < streams; k++ {
		st := base + int64(k)*int64(10*time.Second)
		d.ObserveStream(Stream{Host: host, Start: st, End: st + int64(3*time.Second), UID: "Cllm"})
	}
	for k := 0; k < actions; k++ {
		d.ObserveAction(Action{Host: host, Time: base + int64(k)*int64(7*time.Second), Kind: ActionConnect, UID: "Cact", Service: "ssh", DstPort: 22})
	}
}

// TestMemoryBound100kHosts fills the detector with 100,000 active hosts,
// then 20,000 more: the host and event counts stay within their bounds,
// and the oldest hosts are evicted, counted. A smaller event budget holds
// too. The test asserts counts; BenchmarkMemory reports the bytes.
func TestMemoryBound100kHosts(t *testing.T) {
	const hosts = 100_000
	cfg := DefaultConfig()
	d := mustNew(t, cfg)
	for i := 0; i < hosts; i++ {
		feedCounts(d, hostN(i), i, 1, 3)
	}
	if st := d.Stats(); st.Hosts != hosts || st.HostsEvicted != 0 || st.Events != 4*hosts {
		t.Fatalf("after %d hosts: %+v", hosts, st)
	}
	checkAccounting(t, d)
	for i := hosts; i < hosts+20_000; i++ {
		feedCounts(d, hostN(i), i, 1, 3)
	}
	checkAccounting(t, d)
	if st := d.Stats(); st.Hosts != cfg.MaxHosts || st.HostsEvicted != 20_000 {
		t.Fatalf("after %d more hosts: %+v", 20_000, st)
	}
	if _, ok := d.hosts[schemas.IPFromAddr(hostN(0))]; ok {
		t.Fatal("the least recently active host was kept")
	}

	// The event budget binds before the host bound.
	cfg.MaxEvents = 60_000
	d = mustNew(t, cfg)
	for i := 0; i < 20_000; i++ {
		feedCounts(d, hostN(i), i, 1, 3)
	}
	checkAccounting(t, d)
	if st := d.Stats(); st.Events > 60_000 || st.HostsEvicted == 0 {
		t.Fatalf("event budget: %+v", st)
	}
}

// BenchmarkMemory reports the heap the detector holds per host: typical
// hosts (1 answer, 3 connections) at 100,000 hosts, and full hosts
// (max_events_per_host answers and connections, all distinct flows).
//
//	go test ./enrich/coupling -run '^$' -bench Memory -benchtime 1x
func BenchmarkMemory(b *testing.B) {
	for _, c := range []struct {
		name                    string
		hosts, streams, actions int
	}{
		{"typical_100k_hosts", 100_000, 1, 3},
		{"busy_100k_hosts", 100_000, 8, 24},
		{"full_5k_hosts", 5_000, 128, 128},
	} {
		b.Run(c.name, func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				cfg := DefaultConfig()
				cfg.MaxEvents = 50_000_000
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				d, _ := New(cfg)
				for i := 0; i < c.hosts; i++ {
					feedTypical(d, hostN(i), i, c.streams, c.actions)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
				st := d.Stats()
				b.ReportMetric(held/float64(c.hosts), "B/host")
				b.ReportMetric(held/float64(st.Events), "B/event")
				b.ReportMetric(held/(1<<20), "MiB")
				runtime.KeepAlive(d)
			}
		})
	}
}
