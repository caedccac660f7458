package main

import (
	"flag"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
)

var memFlows = flag.Int("aegis.memflows", 0, "TestMemoryConcurrentFlows: concurrent flows to hold (e.g. 1000000)")

// TestMemoryConcurrentFlows measures, on -aegis.memflows N, the resident
// memory of the flow tables of 'aegis run' (the default budget split over
// the default shards, as newLive does) holding N concurrent TCP flows, each
// with a handshake and a few payload packets in both directions. It reports
// VmRSS, the heap, and how many flows the budget evicted; it asserts only
// that the budget held.
//
//	go test -run TestMemoryConcurrentFlows -aegis.memflows 1000000 -v ./cmd/aegis/
func TestMemoryConcurrentFlows(t *testing.T) {
	n := *memFlows
	if n == 0 {
		t.Skip("set -aegis.memflows N to measure")
	}
	cfg := flowtable.DefaultConfig()
	workers := runtime.GOMAXPROCS(0)
	cfg.MemoryBudget /= int64(workers)
	ended := 0
	tables := make([]*flowtable.Table, workers)
	for i := range tables {
		tb, err := flowtable.New(cfg, func(*flowtable.Flow) { ended++ })
		if err != nil {
			t.Fatal(err)
		}
		tables[i] = tb
	}
	base := int64(1_700_000_000e9)
	var p schemas.Packet
	for i := range n {
		client := schemas.IPv4(10, byte(i>>16), byte(i>>8), byte(i))
		server := schemas.IPv4(172, 16, byte(i>>12), 1)
		fwd := schemas.Tuple{SrcIP: client, DstIP: server, SrcPort: uint16(1024 + i%60000), DstPort: 443, Proto: schemas.ProtoTCP}
		ts := base + int64(i)*1000 // 1M flows start within one second
		tb := tables[shardOf(&fwd, workers)]
		for k, step := range []struct {
			rev   bool
			flags uint8
			pay   uint32
		}{{false, schemas.TCPSyn, 0}, {true, schemas.TCPSyn | schemas.TCPAck, 0}, {false, schemas.TCPAck, 0},
			{false, schemas.TCPAck | schemas.TCPPsh, 300}, {true, schemas.TCPAck | schemas.TCPPsh, 60}, {true, schemas.TCPAck | schemas.TCPPsh, 60}} {
			p = schemas.Packet{TS: ts + int64(k)*100, Tuple: fwd, IPLen: 40 + step.pay, WireLen: 54 + step.pay,
				Payload: step.pay, TCPFlags: step.flags, Seq: 1000}
			if step.rev {
				p.Tuple = fwd.Reverse()
			}
			tb.Add(&p)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var active, evicted, peak int64
	for _, tb := range tables {
		s := tb.Stats()
		active += int64(tb.Len())
		evicted += int64(s.Evicted)
		peak += s.PeakMemory
	}
	t.Logf("%d flows offered: %d held, %d evicted by the budget (%d MiB); table peak %d MiB; heap in use %d MiB; %s",
		n, active, evicted, flowtable.DefaultConfig().MemoryBudget>>20, peak>>20, ms.HeapInuse>>20, vmRSS())
	// The table evicts right after a packet takes it over the budget: the
	// peak may pass it by one packet's growth per shard, no more.
	if slack := int64(workers) << 16; peak > flowtable.DefaultConfig().MemoryBudget+slack {
		t.Errorf("table peak %d bytes is over the budget", peak)
	}
}

// vmRSS is the VmRSS line of /proc/self/status.
func vmRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "VmRSS unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.Join(strings.Fields(l), " ")
		}
	}
	return "VmRSS unknown"
}
