//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/aegis-nsm/aegis/schemas"
)

// TestRunAFPacketReplay is the AF_PACKET acceptance test: real packets on
// a real interface. It makes a network namespace and a veth pair, picks
// from the bundled capture (by what 'aegis analyze' says of it) one LLM
// stream and one typed session on port 22, and replays both at once over
// real TCP connections across the veth (IPv6 flows over IPv6): a server in
// the namespace and a client on the host side write, for each payload
// packet of the recording in order, exactly its payload at its recorded
// time (TCP_NODELAY, and never before the other side's earlier bytes have
// arrived, as a real peer answers only what it received). 'aegis run'
// captures on the host side of the veth (packets.source: afpacket) and
// follows a conn.log and ssl.log that the test writes as the connections
// end, as Zeek would.
//
// It asserts that 'aegis run' publishes exactly one schema-valid record
// per connection, with the uid, service and server name the logs gave;
// that the join found every record's packets live (summary: hits and
// waits, no misses, no backfills); and that the class is the one the
// offline analysis gives for the recording.
//
// The kernel and the scheduler may reshape the cadence a little (a write
// late, two writes merged), so when tcpdump is there the test also
// captures the veth itself and runs 'aegis analyze' over that capture with
// the same logs. Then:
//   - the live record must count exactly the packets and bytes of the
//     re-capture, and have its class (the live and offline pipelines are
//     the same code; only per-socket timestamps, microseconds apart,
//     differ);
//   - a live class other than the recording's is accepted when the
//     re-capture has it too (the wire changed, not the pipeline) and it is
//     of the role's family (llm_stream; agent_shell or human_interactive);
//   - when even the wire left the family, the machine could not replay
//     the recording (the lateness is logged) and the test skips after its
//     other checks, rather than blame Aegis.
//
// Without tcpdump the live class must be the recording's.
func TestRunAFPacketReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the AF_PACKET replay (about 10 s of real-time traffic)")
	}
	v := afpNewVeth(t)
	dir := t.TempDir()
	for _, sub := range []string{"logs", "out", "state", "ref", "recap"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The flows to replay, chosen by the offline analysis of the recording.
	picks := afpPickFlows(t, filepath.Join(dir, "ref"), v.peer6.IsValid())

	// A listener in the namespace for each, on the recorded server port.
	for _, p := range picks {
		peer := v.peer4
		if p.v6 {
			peer = v.peer6
		}
		ln, err := v.listen(netip.AddrPortFrom(peer, p.serverPort))
		if err != nil {
			t.Fatalf("listening in %s on %s:%d: %v", v.ns, peer, p.serverPort, err)
		}
		t.Cleanup(func() { ln.Close() })
		p.ln, p.addr = ln, netip.AddrPortFrom(peer, p.serverPort)
	}

	// The sensor's logs: headers now, lines as the connections end.
	connLog, sslLog := filepath.Join(dir, "logs", "conn.log"), filepath.Join(dir, "logs", "ssl.log")
	connHdr, _ := afpZeekLog(t, bundledDir+"conn.log")
	sslHdr, sslLines := afpZeekLog(t, bundledDir+"ssl.log")
	logs := &afpLogWriter{}
	if err := logs.append(connLog, connHdr...); err != nil {
		t.Fatal(err)
	}
	if err := logs.append(sslLog, sslHdr...); err != nil {
		t.Fatal(err)
	}

	_, tcpdumpErr := exec.LookPath("tcpdump")
	haveTcpdump := tcpdumpErr == nil
	filter := "" // without tcpdump the filter cannot be compiled: capture everything
	if haveTcpdump {
		filter = "tcp or udp"
	}
	out := filepath.Join(dir, "out", "detection.jsonl")
	cfg := writeConfig(t, dir, afpConfigYAML(dir, v.host, filter))

	// An independent capture of the same wire, for the offline analysis.
	recapPath := filepath.Join(dir, "recap", "veth.pcap")
	var recap *afpTcpdump
	if haveTcpdump {
		var err error
		if recap, err = afpStartTcpdump(v.host, recapPath); err != nil {
			t.Logf("no re-capture (tcpdump would not start: %v): the live class is checked against the recording only", err)
			recap = nil
		} else {
			t.Cleanup(recap.kill)
		}
	} else {
		t.Log("tcpdump not found: no BPF filter, no re-capture; the live class is checked against the recording only")
	}

	d := startRun(t, cfg)
	stopped := false
	t.Cleanup(func() {
		// A failed test must not leave the capture running on a veth
		// that is about to go.
		if !stopped {
			d.cancel()
			select {
			case <-d.done:
			case <-time.After(10 * time.Second):
			}
		}
	})
	afpWaitLog(t, d, "msg=started")

	// Replay both recordings at once, each connection writing its Zeek
	// lines. (A collection now rather than in the middle of the replay.)
	runtime.GC()
	var wg sync.WaitGroup
	for i, p := range picks {
		p.uid = fmt.Sprintf("CAfPkt%d", i+1)
		wg.Go(func() {
			p.res = afpReplay(p.ln, p.addr, p.sched, func(client, server netip.AddrPort, start time.Time) error {
				if p.sni == "" {
					return nil
				}
				line, err := afpSSLLine(sslLines[p.src.Aegis.IDS.UID], p.uid, client, server, start)
				if err != nil {
					return err
				}
				return logs.append(sslLog, line)
			})
			if p.res.err != nil {
				return
			}
			p.res.err = logs.append(connLog, afpConnLine(p, &p.res))
		})
	}
	wg.Wait()
	for _, p := range picks {
		if p.res.err != nil {
			d.cancel()
			<-d.done
			t.Fatalf("replaying %s: %v\n%s", p.role, p.res.err, d.stderr.String())
		}
	}

	// The wire goes on: one unrelated datagram after the flow table's close
	// delay moves the packet clock past both connections' ends.
	time.Sleep(400 * time.Millisecond)
	if err := afpTick(netip.AddrPortFrom(v.peer4, 9)); err != nil {
		t.Fatal(err)
	}
	waitRecords(t, out, len(picks), d)
	time.Sleep(200 * time.Millisecond) // nothing more comes
	if recap != nil {
		// tcpdump has written the connections once it has the tick.
		if err := recap.stopAfter(netip.AddrPortFrom(v.peer4, 9)); err != nil {
			t.Errorf("tcpdump: %v", err)
		}
	}
	d.stop(t)
	stopped = true
	stderr := d.stderr.String()

	// What the capture and the join say.
	if m := regexp.MustCompile(`msg="afpacket: capture stopped".*stats="([^"]*)"`).FindStringSubmatch(stderr); m != nil {
		t.Logf("afpacket stats: %s", m[1])
	} else {
		t.Logf("afpacket stats: no \"capture stopped\" line in the log")
	}
	if m := regexp.MustCompile(`(?m)^.*msg=summary.*$`).FindString(stderr); m != "" {
		t.Logf("summary: %s", m)
	}
	for _, line := range regexp.MustCompile(`(?m)^.*level=(WARN|ERROR).*$`).FindAllString(stderr, -1) {
		t.Logf("aegis run: %s", line)
	}
	hits, waits := summaryCount(stderr, "join_hits"), summaryCount(stderr, "join_waits")
	misses, backfills := summaryCount(stderr, "join_misses"), summaryCount(stderr, "join_backfills")
	if hits < 0 || waits < 0 || misses < 0 {
		t.Errorf("no summary line with join counters:\n%s", stderr)
	} else if hits+waits != len(picks) || misses != 0 || backfills != 0 {
		t.Errorf("join: %d hits + %d waits, %d backfills, %d misses; want %d live joins and no misses\n%s",
			hits, waits, backfills, misses, len(picks), stderr)
	}

	// One schema-valid record per connection (readRecords validates each).
	got := readRecords(t, out)
	byUID := map[string]schemas.Record{}
	for _, r := range got {
		if r.Aegis.IDS == nil || r.Aegis.IDS.UID == "" {
			t.Errorf("record %s (%s, %s) has no IDS uid", r.Event.ID, r.Aegis.FlowKey, r.Aegis.Class)
			continue
		}
		if _, dup := byUID[r.Aegis.IDS.UID]; dup {
			t.Errorf("uid %s published twice", r.Aegis.IDS.UID)
		}
		byUID[r.Aegis.IDS.UID] = r
	}
	if len(got) != len(picks) {
		t.Errorf("%d records published, want %d (one per replayed connection)", len(got), len(picks))
	}

	var offline map[string]schemas.Record
	if recap != nil {
		offline = afpAnalyze(t, recapPath, connLog, sslLog)
	}
	var unfaithful []string
	for _, p := range picks {
		rec, ok := byUID[p.uid]
		if !ok {
			t.Errorf("%s: no record with uid %s (connection %s -> %s)", p.role, p.uid, p.res.client, p.res.server)
			continue
		}
		if note := afpCheckRecord(t, p, rec, offline, recapPath); note != "" {
			unfaithful = append(unfaithful, note)
		}
	}
	if len(unfaithful) > 0 && !t.Failed() {
		t.Skipf("the live pipeline agreed with the offline analysis of the wire, but this machine did not replay the recording faithfully enough to check the class against it (see the lateness above): %s",
			strings.Join(unfaithful, "; "))
	}
}

// afpCheckRecord checks one connection's live record: its endpoints, its
// uid, and its class against the recording and (when there is one) the
// offline analysis of the re-capture.
//
// It returns a note when the replay did not reproduce the recording on
// the wire, so that the class could not be checked against it.
func afpCheckRecord(t *testing.T, p *afpPick, rec schemas.Record, offline map[string]schemas.Record, recapPath string) string {
	t.Helper()
	if rec.Source.IP != p.res.client.Addr().String() || rec.Source.Port != p.res.client.Port() ||
		rec.Destination.IP != p.res.server.Addr().String() || rec.Destination.Port != p.res.server.Port() {
		t.Errorf("%s: record %s:%d -> %s:%d, connection %s -> %s", p.role,
			rec.Source.IP, rec.Source.Port, rec.Destination.IP, rec.Destination.Port, p.res.client, p.res.server)
	}
	if rec.Aegis.IDS.Service != p.service {
		t.Errorf("%s: record service %q, conn.log says %q", p.role, rec.Aegis.IDS.Service, p.service)
	}
	if p.sni != "" && (rec.TLS == nil || rec.TLS.Client.ServerName != p.sni) {
		t.Errorf("%s: record has no tls.client.server_name %q from ssl.log: %+v", p.role, p.sni, rec.TLS)
	}
	if rec.Aegis.IDS.JoinedBy != "5tuple_time" {
		t.Errorf("%s: joined_by %q, want 5tuple_time (the conn.log has no community_id)", p.role, rec.Aegis.IDS.JoinedBy)
	}
	p.res.logTiming(t, p)
	live := rec.Aegis.Class
	t.Logf("%s: live %s (confidence %.3f, route %s), recording %s (route %s); capture: %d client / %d server payload packets, recording %d / %d",
		p.role, live, rec.Aegis.Confidence, rec.Aegis.Route.Name, p.want, p.wantRoute,
		rec.Aegis.Cadence.Client.Packets, rec.Aegis.Cadence.Server.Packets, p.sched.packets[afpClient], p.sched.packets[afpServer])

	var offClass schemas.Class
	haveOffline := false
	if offline != nil {
		off, ok := offline[p.uid]
		if !ok {
			t.Errorf("%s: the offline analysis of the re-capture has no record for %s", p.role, p.uid)
		} else {
			haveOffline, offClass = true, off.Aegis.Class
			afpWireFidelity(t, p, recapPath)
			if live != offClass {
				t.Errorf("%s: live class %s, but 'aegis analyze' of the same packets (re-captured by tcpdump) says %s:\nlive reasons %q\noffline reasons %q",
					p.role, live, offClass, rec.Aegis.Reasons, off.Aegis.Reasons)
			}
			// The same packets: the counts agree exactly, whatever the
			// clocks did.
			type counts struct {
				OrigPkts, OrigBytes, RespPkts, RespBytes  int64
				ClientPayload, ClientBytes, ServerPayload int64
				ServerBytes, Retransmits                  int64
			}
			countsOf := func(r *schemas.Record) counts {
				return counts{r.Source.Packets, r.Source.Bytes, r.Destination.Packets, r.Destination.Bytes,
					r.Aegis.Cadence.Client.Packets, r.Aegis.Cadence.Client.Bytes, r.Aegis.Cadence.Server.Packets,
					r.Aegis.Cadence.Server.Bytes, r.Aegis.Capture.Retransmits}
			}
			if lc, oc := countsOf(&rec), countsOf(&off); lc != oc {
				t.Errorf("%s: the live record counts other packets than the re-capture of the same wire:\nlive    %+v\noffline %+v", p.role, lc, oc)
			}
			if diff := afpJSONDiff(rec.Aegis.Cadence, off.Aegis.Cadence); len(diff) > 0 {
				// Each packet socket may stamp a packet itself (for
				// TCP's monotonic-clock skbs the kernel reads the clock
				// per socket), so the two captures' times can differ by
				// microseconds.
				t.Logf("%s: %d cadence features differ between live and offline-on-the-re-capture (live / offline), e.g. %s",
					p.role, len(diff), strings.Join(diff[:min(len(diff), 6)], "; "))
			} else {
				t.Logf("%s: live cadence features identical to the offline analysis of the re-capture", p.role)
			}
		}
	}
	switch {
	case live == p.want:
	case !haveOffline:
		t.Errorf("%s: live class %s, the recording's offline class is %s; reasons %q", p.role, live, p.want, rec.Aegis.Reasons)
	case offClass != live:
		// Reported above: the pipeline disagrees with itself.
	case slices.Contains(p.accept, live):
		t.Logf("%s: the replay's wire gives %s where the recording gives %s (live, and offline on the re-capture): the kernel or the scheduler reshaped the cadence; accepted within %v",
			p.role, live, p.want, p.accept)
	default:
		// The packets that crossed the veth do not carry the recorded
		// cadence any more (the offline analysis of the re-capture says
		// so too): the machine could not replay the recording faithfully,
		// and the class says nothing about Aegis.
		return fmt.Sprintf("%s: the wire carried %s, not %v (recording: %s)", p.role, live, p.accept, p.want)
	}
	return ""
}

// afpJSONDiff lists the leaves where a and b, as JSON, differ.
func afpJSONDiff(a, b any) []string {
	var va, vb any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	json.Unmarshal(ja, &va)
	json.Unmarshal(jb, &vb)
	var out []string
	var walk func(path string, x, y any)
	walk = func(path string, x, y any) {
		mx, okx := x.(map[string]any)
		my, oky := y.(map[string]any)
		if okx && oky {
			keys := make([]string, 0, len(mx))
			for k := range mx {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(strings.TrimPrefix(path+"."+k, "."), mx[k], my[k])
			}
			return
		}
		if fmt.Sprint(x) != fmt.Sprint(y) {
			out = append(out, fmt.Sprintf("%s %v / %v", path, x, y))
		}
	}
	walk("", va, vb)
	return out
}

// afpMaxReplay bounds the part of a recorded flow that is replayed.
const afpMaxReplay = 15 * time.Second

// Sides of a replayed connection.
const (
	afpClient = 0
	afpServer = 1
)

// afpPick is one recorded flow to replay, and what became of it.
type afpPick struct {
	role       string
	accept     []schemas.Class // the role's family
	src        schemas.Record  // the offline record of the whole recorded flow
	v6         bool
	serverPort uint16
	sni        string
	service    string
	cut        bool          // only the first afpMaxReplay is replayed
	want       schemas.Class // the offline class of what is replayed
	wantRoute  string
	sched      afpSchedule

	ln   net.Listener
	addr netip.AddrPort
	uid  string
	res  afpOutcome
}

// afpPickFlows runs the offline analysis over the bundled recording and
// picks, for each role, the flow with the most confident verdict (the
// shortest on ties) that fits in afpMaxReplay; longer ones are cut, and a
// cut flow is taken only when the offline analysis of the cut alone still
// gives a class of the role.
func afpPickFlows(t *testing.T, refDir string, v6 bool) []*afpPick {
	t.Helper()
	all := afpAnalyze(t, bundledDir+"traffic.pcap", bundledDir+"conn.log", bundledDir+"ssl.log")
	var pkts []afpPkt
	for _, fr := range readFrames(t, bundledDir+"traffic.pcap") {
		if p, ok := afpDecode(fr); ok {
			pkts = append(pkts, p)
		}
	}
	roles := []struct {
		role   string
		accept []schemas.Class
		fits   func(r *schemas.Record) bool
	}{
		{"llm_stream replay", []schemas.Class{schemas.ClassLLMStream}, func(r *schemas.Record) bool {
			return r.Aegis.Class == schemas.ClassLLMStream
		}},
		{"typed session replay", []schemas.Class{schemas.ClassAgentShell, schemas.ClassHumanInteractive}, func(r *schemas.Record) bool {
			return r.Destination.Port == 22 && (r.Aegis.Class == schemas.ClassAgentShell || r.Aegis.Class == schemas.ClassHumanInteractive)
		}},
	}
	var picks []*afpPick
	for _, role := range roles {
		var cands []schemas.Record
		for _, r := range all {
			if r.Network.Transport != "tcp" || !role.fits(&r) {
				continue
			}
			if a, err := netip.ParseAddr(r.Source.IP); err != nil || (a.Is6() && !v6) {
				continue
			}
			cands = append(cands, r)
		}
		sort.Slice(cands, func(i, j int) bool {
			a, b := &cands[i], &cands[j]
			la, lb := a.Event.Duration > int64(afpMaxReplay), b.Event.Duration > int64(afpMaxReplay)
			switch {
			case la != lb:
				return !la
			case a.Aegis.Confidence != b.Aegis.Confidence:
				return a.Aegis.Confidence > b.Aegis.Confidence
			case a.Event.Duration != b.Event.Duration:
				return a.Event.Duration < b.Event.Duration
			}
			return a.Event.ID < b.Event.ID
		})
		var pick *afpPick
		for i := 0; i < len(cands) && i < 8 && pick == nil; i++ {
			pick = afpTryPick(t, refDir, pkts, cands[i], role.role, role.accept)
		}
		if pick == nil {
			t.Fatalf("the bundled recording has no %s candidate (%d flows of the class looked at)", role.role, len(cands))
		}
		picks = append(picks, pick)
	}
	return picks
}

// afpTryPick cuts r's packets to afpMaxReplay, analyses them offline and
// returns the pick if the class is one of accept.
func afpTryPick(t *testing.T, refDir string, all []afpPkt, r schemas.Record, role string, accept []schemas.Class) *afpPick {
	t.Helper()
	client, err1 := afpAddrPort(r.Source.IP, r.Source.Port)
	server, err2 := afpAddrPort(r.Destination.IP, r.Destination.Port)
	start, err3 := time.Parse(time.RFC3339Nano, r.Event.Start)
	end, err4 := time.Parse(time.RFC3339Nano, r.Event.End)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatalf("offline record %s: %v", r.Event.ID, err)
	}
	var pkts []afpPkt
	for _, p := range all {
		if p.ts.Before(start.Add(-time.Second)) || p.ts.After(end.Add(time.Second)) {
			continue
		}
		if (p.src == client && p.dst == server) || (p.src == server && p.dst == client) {
			pkts = append(pkts, p)
		}
	}
	if len(pkts) == 0 {
		return nil
	}
	cut := false
	for i, p := range pkts {
		if p.ts.Sub(pkts[0].ts) > afpMaxReplay {
			pkts, cut = pkts[:i], true
			break
		}
	}
	// The offline class of exactly what is replayed, with the recording's
	// own logs (the join takes the packets' part of the connection).
	pcap := filepath.Join(refDir, r.Aegis.IDS.UID+".pcap")
	afpWritePcap(t, pcap, pkts)
	ref, ok := afpAnalyze(t, pcap, bundledDir+"conn.log", bundledDir+"ssl.log")[r.Aegis.IDS.UID]
	if !ok {
		t.Fatalf("the offline analysis of %s alone has no record for %s", pcap, r.Aegis.IDS.UID)
	}
	if !cut && ref.Aegis.Class != r.Aegis.Class {
		t.Logf("%s: flow %s alone is %s, within the whole recording %s", role, r.Aegis.IDS.UID, ref.Aegis.Class, r.Aegis.Class)
	}
	if !slices.Contains(accept, ref.Aegis.Class) {
		t.Logf("%s: skipping %s: its first %v alone is %s", role, r.Aegis.IDS.UID, afpMaxReplay, ref.Aegis.Class)
		return nil
	}
	p := &afpPick{role: role, accept: accept, src: r, v6: client.Addr().Is6(), serverPort: server.Port(),
		service: r.Aegis.IDS.Service, cut: cut, want: ref.Aegis.Class, wantRoute: ref.Aegis.Route.Name,
		sched: afpBuildSchedule(pkts, client)}
	if r.TLS != nil {
		p.sni = r.TLS.Client.ServerName
	}
	what := "whole"
	if cut {
		what = fmt.Sprintf("first %v of", afpMaxReplay)
	}
	t.Logf("%s: %s recorded flow %s %s (IPv6 %v, %.2f s, %d client / %d server payload packets, service %q, SNI %q): offline %s, confidence %.3f, route %s",
		role, what, r.Aegis.IDS.UID, r.Aegis.FlowKey, p.v6, float64(r.Event.Duration)/1e9,
		p.sched.packets[afpClient], p.sched.packets[afpServer], p.service, p.sni, ref.Aegis.Class, ref.Aegis.Confidence, ref.Aegis.Route.Name)
	return p
}

func afpAddrPort(ip string, port uint16) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	return netip.AddrPortFrom(a.Unmap(), port), err
}

// afpAnalyze is 'aegis analyze --all' of one capture with Zeek logs: the
// records by Zeek uid.
func afpAnalyze(t *testing.T, pcap string, zeekLogs ...string) map[string]schemas.Record {
	t.Helper()
	args := []string{"analyze", "--pcap", pcap, "--all", "--quiet"}
	for _, l := range zeekLogs {
		args = append(args, "--zeek", l)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), args, &out, &errb); code != exitOK {
		t.Fatalf("aegis %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	recs := map[string]schemas.Record{}
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r schemas.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if r.Aegis.IDS != nil && r.Aegis.IDS.UID != "" {
			recs[r.Aegis.IDS.UID] = r
		}
	}
	return recs
}

// afpPkt is a decoded TCP packet of a capture.
type afpPkt struct {
	ts       time.Time
	src, dst netip.AddrPort
	flags    uint8 // schemas.TCP* bits
	seq      uint32
	payload  []byte // as long as the headers say, zero-filled where the capture cut it
	fr       frame
}

// afpDecode decodes a TCP/IP frame (Ethernet, maybe 802.1Q).
func afpDecode(fr frame) (afpPkt, bool) {
	pk := gopacket.NewPacket(fr.data, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	tcp, ok := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		return afpPkt{}, false
	}
	var src, dst netip.Addr
	plen := -1
	switch ip := pk.NetworkLayer().(type) {
	case *layers.IPv4:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		plen = int(ip.Length) - int(ip.IHL)*4 - int(tcp.DataOffset)*4
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		plen = int(ip.Length) - int(tcp.DataOffset)*4
	default:
		return afpPkt{}, false
	}
	if plen < len(tcp.Payload) {
		plen = len(tcp.Payload)
	}
	payload := make([]byte, plen)
	copy(payload, tcp.Payload)
	var flags uint8
	for _, f := range []struct {
		set bool
		bit uint8
	}{{tcp.FIN, schemas.TCPFin}, {tcp.SYN, schemas.TCPSyn}, {tcp.RST, schemas.TCPRst}, {tcp.PSH, schemas.TCPPsh}, {tcp.ACK, schemas.TCPAck}} {
		if f.set {
			flags |= f.bit
		}
	}
	return afpPkt{ts: fr.ci.Timestamp, src: netip.AddrPortFrom(src.Unmap(), uint16(tcp.SrcPort)),
		dst: netip.AddrPortFrom(dst.Unmap(), uint16(tcp.DstPort)), flags: flags, seq: tcp.Seq, payload: payload, fr: fr}, true
}

func afpWritePcap(t *testing.T, path string, pkts []afpPkt) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := w.WritePacket(p.fr.ci, p.fr.data); err != nil {
			t.Fatal(err)
		}
	}
}

// afpStep is one payload packet of the recording, to be written again.
type afpStep struct {
	at   time.Duration // since the recording's first packet
	side int
	data []byte
	// peer is how many bytes the other side had sent before this packet:
	// the step waits for them, as a real peer answers what it received.
	peer int64
}

// afpSchedule is a recorded TCP connection as a replay plan.
type afpSchedule struct {
	steps   []afpStep
	fin     [2]time.Duration // when each side closes its half (its recorded FIN or RST, else the end)
	end     time.Duration
	bytes   [2]int64
	packets [2]int
}

// afpBuildSchedule turns a recorded connection (client as given) into a
// replay plan: payload packets in order, retransmitted bytes left out.
func afpBuildSchedule(pkts []afpPkt, client netip.AddrPort) afpSchedule {
	s := afpSchedule{fin: [2]time.Duration{-1, -1}}
	var started [2]bool
	var next [2]uint32
	t0 := pkts[0].ts
	for _, p := range pkts {
		side := afpServer
		if p.src == client {
			side = afpClient
		}
		at := p.ts.Sub(t0)
		s.end = at
		if p.flags&(schemas.TCPFin|schemas.TCPRst) != 0 && s.fin[side] < 0 {
			s.fin[side] = at
		}
		if p.flags&schemas.TCPSyn != 0 {
			started[side], next[side] = true, p.seq+1
		}
		data := p.payload
		if len(data) == 0 {
			continue
		}
		end := p.seq + uint32(len(data))
		if started[side] {
			if int32(end-next[side]) <= 0 {
				continue // a retransmission: the kernel does its own
			}
			if behind := next[side] - p.seq; int32(behind) > 0 {
				data = data[behind:]
			}
		}
		started[side], next[side] = true, end
		s.steps = append(s.steps, afpStep{at: at, side: side, data: data, peer: s.bytes[1-side]})
		s.bytes[side] += int64(len(data))
		s.packets[side]++
	}
	for i := range s.fin {
		if s.fin[i] < 0 {
			s.fin[i] = s.end
		}
	}
	return s
}

// afpCounter counts the bytes one side received, and wakes waiters.
type afpCounter struct {
	mu   sync.Mutex
	n    int64
	eof  bool
	wake chan struct{}
}

func newAfpCounter() *afpCounter { return &afpCounter{wake: make(chan struct{})} }

func (c *afpCounter) add(n int, eof bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += int64(n)
	c.eof = c.eof || eof
	close(c.wake)
	c.wake = make(chan struct{})
}

// wait blocks until n bytes arrived (true), or EOF or the deadline (false).
func (c *afpCounter) wait(n int64, deadline time.Time) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		c.mu.Lock()
		got, eof, wake := c.n, c.eof, c.wake
		c.mu.Unlock()
		switch {
		case got >= n:
			return true
		case eof:
			return false
		}
		select {
		case <-wake:
		case <-timer.C:
			return false
		}
	}
}

// waitEOF blocks until the stream ended (true) or the deadline (false).
func (c *afpCounter) waitEOF(deadline time.Time) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		c.mu.Lock()
		eof, wake := c.eof, c.wake
		c.mu.Unlock()
		if eof {
			return true
		}
		select {
		case <-wake:
		case <-timer.C:
			return false
		}
	}
}

// afpOutcome is what one replayed connection did.
type afpOutcome struct {
	client, server netip.AddrPort
	start, end     time.Time
	late           []time.Duration // per write: how long after its recorded time it began
	late0          int             // writes that could not start on time (the peer's bytes or an earlier write came late)
	written        [2]int64
	writes         [2]int
	err            error
}

// afpSleepUntil sleeps until deadline. The runtime's timers wake about a
// millisecond late here, which would blur sub-millisecond gaps, so the
// thread sleeps in nanosleep(2) (high-resolution, a few tens of
// microseconds of slack) instead, without spinning: a busy test machine
// needs the CPU for the other side and the capture.
func afpSleepUntil(deadline time.Time) {
	for {
		d := time.Until(deadline)
		if d <= 0 {
			return
		}
		ts := unix.NsecToTimespec(int64(d))
		_ = unix.Nanosleep(&ts, nil) // EINTR: the loop sleeps the rest
	}
}

// afpReplay connects to addr (ln's address) and replays s over the
// connection: the client side from this namespace, the server side on the
// accepted connection. started is called once the connection is up.
func afpReplay(ln net.Listener, addr netip.AddrPort, s afpSchedule,
	started func(client, server netip.AddrPort, start time.Time) error) (res afpOutcome) {
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	res.start = time.Now()
	cc, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		res.err = fmt.Errorf("dial %s: %w", addr, err)
		return res
	}
	var sc net.Conn
	select {
	case sc = <-accepted:
	case <-time.After(5 * time.Second):
	}
	if sc == nil {
		cc.Close()
		res.err = errors.New("the server side never accepted the connection")
		return res
	}
	conns := [2]*net.TCPConn{cc.(*net.TCPConn), sc.(*net.TCPConn)}
	defer conns[0].Close()
	defer conns[1].Close()
	res.client = cc.LocalAddr().(*net.TCPAddr).AddrPort()
	res.server = cc.RemoteAddr().(*net.TCPAddr).AddrPort()
	res.client = netip.AddrPortFrom(res.client.Addr().Unmap(), res.client.Port())
	res.server = netip.AddrPortFrom(res.server.Addr().Unmap(), res.server.Port())
	if err := started(res.client, res.server, res.start); err != nil {
		res.err = err
		return res
	}
	limit := res.start.Add(s.end + 20*time.Second) // against hanging, not a speed requirement
	recv := [2]*afpCounter{newAfpCounter(), newAfpCounter()}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for side := range 2 {
		c := conns[side]
		c.SetNoDelay(true)
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				recv[side].add(n, err != nil)
				if err != nil {
					return
				}
			}
		}()
		wg.Go(func() {
			var late []time.Duration
			late0 := 0
			for _, st := range s.steps {
				if st.side != side {
					continue
				}
				due := res.start.Add(st.at)
				if !recv[side].wait(st.peer, limit) {
					fail(fmt.Errorf("side %d: the other side's first %d bytes never arrived", side, st.peer))
					return
				}
				if time.Now().After(due) {
					late0++
				}
				afpSleepUntil(due)
				late = append(late, time.Since(due))
				if _, err := c.Write(st.data); err != nil {
					fail(fmt.Errorf("side %d: write: %w", side, err))
					return
				}
				res.written[side] += int64(len(st.data))
				res.writes[side]++
			}
			afpSleepUntil(res.start.Add(s.fin[side]))
			if err := c.CloseWrite(); err != nil {
				fail(fmt.Errorf("side %d: close: %w", side, err))
			}
			mu.Lock()
			res.late = append(res.late, late...)
			res.late0 += late0
			mu.Unlock()
		})
	}
	wg.Wait()
	// Both halves closed: wait for the FINs, then close without a reset.
	for side := range 2 {
		if !recv[side].waitEOF(limit) {
			fail(fmt.Errorf("side %d: no end of stream", side))
		}
	}
	conns[0].Close()
	conns[1].Close()
	res.end = time.Now()
	res.err = errors.Join(errs...)
	return res
}

// logTiming reports how closely the writes kept the recorded times.
func (o *afpOutcome) logTiming(t *testing.T, p *afpPick) {
	t.Helper()
	late := slices.Clone(o.late)
	slices.Sort(late)
	if len(late) == 0 {
		return
	}
	q := func(f float64) time.Duration { return late[int(f*float64(len(late)-1))] }
	t.Logf("%s: %d writes (%d client, %d server) over %.2f s; lateness against the recording p50 %v p99 %v max %v; %d could not start on time",
		p.role, len(late), o.writes[afpClient], o.writes[afpServer], o.end.Sub(o.start).Seconds(), q(0.5), q(0.99), late[len(late)-1], o.late0)
}

// afpWireFidelity compares the re-captured packets of p's connection with
// the recording: how many payload packets each side put on the wire (the
// kernel may merge or split writes) and how far their times moved.
func afpWireFidelity(t *testing.T, p *afpPick, recapPath string) {
	t.Helper()
	var got [2][]time.Duration
	var first time.Time
	var started [2]bool
	var next [2]uint32
	for _, fr := range readFrames(t, recapPath) {
		pk, ok := afpDecode(fr)
		if !ok {
			continue
		}
		side := -1
		switch {
		case pk.src == p.res.client && pk.dst == p.res.server:
			side = afpClient
		case pk.src == p.res.server && pk.dst == p.res.client:
			side = afpServer
		default:
			continue
		}
		if first.IsZero() {
			first = pk.ts
		}
		if pk.flags&schemas.TCPSyn != 0 {
			started[side], next[side] = true, pk.seq+1
		}
		if len(pk.payload) == 0 {
			continue
		}
		end := pk.seq + uint32(len(pk.payload))
		if started[side] && int32(end-next[side]) <= 0 {
			continue
		}
		started[side], next[side] = true, end
		got[side] = append(got[side], pk.ts.Sub(first))
	}
	var want [2][]time.Duration
	for _, st := range p.sched.steps {
		want[st.side] = append(want[st.side], st.at)
	}
	for side, name := range []string{"client", "server"} {
		if len(got[side]) != len(want[side]) {
			t.Logf("%s: %s payload packets on the wire %d, in the recording %d (the kernel merged or split writes)",
				p.role, name, len(got[side]), len(want[side]))
			continue
		}
		var dev []time.Duration
		for i := 1; i < len(got[side]); i++ {
			dev = append(dev, ((got[side][i] - got[side][i-1]) - (want[side][i] - want[side][i-1])).Abs())
		}
		slices.Sort(dev)
		if len(dev) > 0 {
			t.Logf("%s: %s payload packets on the wire %d, as recorded; gap error against the recording p50 %v p90 %v max %v",
				p.role, name, len(got[side]), dev[len(dev)/2], dev[len(dev)*9/10], dev[len(dev)-1])
		}
	}
}

// afpZeekLog reads a Zeek TSV log: its header lines (without #close) and
// its records by uid.
func afpZeekLog(t *testing.T, path string) (header []string, byUID map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	byUID = map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "#close"):
		case strings.HasPrefix(line, "#"):
			header = append(header, line)
		default:
			if cols := strings.Split(line, "\t"); len(cols) > 1 {
				byUID[cols[1]] = line
			}
		}
	}
	return header, byUID
}

// afpZeekTime formats a time as Zeek's ts column.
func afpZeekTime(ts time.Time) string {
	return fmt.Sprintf("%d.%06d", ts.Unix(), ts.Nanosecond()/1000)
}

// afpSSLLine is the recording's ssl.log line (its TLS version, cipher,
// server name, ...) for the replayed connection.
func afpSSLLine(orig, uid string, client, server netip.AddrPort, start time.Time) (string, error) {
	cols := strings.Split(orig, "\t")
	if len(cols) < 6 {
		return "", fmt.Errorf("recorded ssl.log line %q is too short", orig)
	}
	cols[0], cols[1] = afpZeekTime(start), uid
	cols[2], cols[3] = client.Addr().String(), fmt.Sprint(client.Port())
	cols[4], cols[5] = server.Addr().String(), fmt.Sprint(server.Port())
	return strings.Join(cols, "\t"), nil
}

// afpConnLine is the conn.log line Zeek would write for the replayed
// connection (default columns, as the bundled conn.log). Packet and byte
// counts are estimates (payload writes plus handshake and close); the join
// uses the 5-tuple and the time range.
func afpConnLine(p *afpPick, o *afpOutcome) string {
	hdr := 20 + 32 // IPv4 + TCP with timestamps
	if p.v6 {
		hdr = 40 + 32
	}
	service := p.service
	if service == "" {
		service = "-"
	}
	origPkts := int64(o.writes[afpClient] + 3)
	respPkts := int64(o.writes[afpServer] + 2)
	return strings.Join([]string{
		afpZeekTime(o.start), p.uid,
		o.client.Addr().String(), fmt.Sprint(o.client.Port()), o.server.Addr().String(), fmt.Sprint(o.server.Port()),
		"tcp", service, fmt.Sprintf("%.6f", o.end.Sub(o.start).Seconds()),
		fmt.Sprint(o.written[afpClient]), fmt.Sprint(o.written[afpServer]),
		"SF", "T", "T", "0", "ShADadFf",
		fmt.Sprint(origPkts), fmt.Sprint(o.written[afpClient] + origPkts*int64(hdr)),
		fmt.Sprint(respPkts), fmt.Sprint(o.written[afpServer] + respPkts*int64(hdr)),
		"-", "6",
	}, "\t")
}

// afpLogWriter appends whole lines to the sensor's logs, one writer at a
// time.
type afpLogWriter struct{ mu sync.Mutex }

func (w *afpLogWriter) append(path string, lines ...string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
	return errors.Join(err, f.Close())
}

// afpTick sends one datagram: packet-clock movement on the wire.
func afpTick(to netip.AddrPort) error {
	c, err := net.Dial("udp", to.String())
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte("tick"))
	return err
}

// afpConfigYAML is the aegis.yaml of the replay: capture on iface, follow
// the test's Zeek logs, every flow a candidate, every joined flow
// published, and the flow table's close delays short so the connections
// leave it 200 ms (packet clock) after their FINs.
func afpConfigYAML(dir, iface, filter string) string {
	return fmt.Sprintf(`sensor: afpacket-test
workers: 2
logs:
  zeek: [%[1]s/logs/ssl.log, %[1]s/logs/conn.log]
  follow:
    positions_file: %[1]s/state/positions.json
    poll_interval: 10ms
    checkpoint_every: 20ms
packets:
  source: afpacket
  afpacket:
    interface: %[2]s
    filter: %[3]q
    workers: 2
    block_size: 65536
    num_blocks: 128
    block_timeout: 10ms
    poll_timeout: 20ms
flow_table:
  partial_close_delay: 200ms
  close_delay: 200ms
  reset_delay: 200ms
candidates:
  protocols: []
  min_duration: 0s
  min_packets: 0
join:
  join_delay: 10s
  grace: 1h
alerts:
  publish_all: true
  suppress_window: 0s
outputs:
  files:
    jsonl:
      path: "%[1]s/out/{kind}.jsonl"
      fsync_interval: 5ms
`, dir, iface, filter)
}

// afpWaitLog waits until the daemon's log holds s.
func afpWaitLog(t *testing.T, d *daemonRun, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.stderr.String(), s) {
		select {
		case code := <-d.done:
			t.Fatalf("aegis run exited %d before %q:\n%s", code, s, d.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after 20 s:\n%s", s, d.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// afpTcpdump is a tcpdump writing the veth's packets to a file.
type afpTcpdump struct {
	path   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func afpStartTcpdump(iface, path string) (*afpTcpdump, error) {
	td := &afpTcpdump{stderr: &syncBuffer{}, done: make(chan error, 1)}
	// -Z root: stay root, so the file can be written in the test's
	// private temporary directory.
	// --immediate-mode and -U: every packet is in the file as soon as
	// tcpdump has it (TPACKET_V3 blocks would otherwise hold the last ones).
	td.cmd = exec.Command("tcpdump", "-i", iface, "-n", "-U", "--immediate-mode", "-s", "256", "-Z", "root",
		"--time-stamp-precision", "nano", "-w", path)
	td.path = path
	td.cmd.Stderr = td.stderr
	if err := td.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { td.done <- td.cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(td.stderr.String(), "listening on") {
		select {
		case err := <-td.done:
			return nil, fmt.Errorf("%v: %s", err, td.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			td.kill()
			return nil, fmt.Errorf("not listening after 10 s: %s", td.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return td, nil
}

// stopAfter waits until the file holds a UDP datagram to tick (the last
// packet the test sends), then stops the capture.
func (td *afpTcpdump) stopAfter(tick netip.AddrPort) error {
	deadline := time.Now().Add(10 * time.Second)
	for !afpHasUDP(td.path, tick) {
		if time.Now().After(deadline) {
			td.stop()
			return fmt.Errorf("the re-capture never showed the tick to %s: %s", tick, td.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return td.stop()
}

// afpHasUDP reports whether the pcap at path (maybe still being written)
// holds a UDP datagram to dst.
func afpHasUDP(path string, dst netip.AddrPort) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return false
	}
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return false
		}
		pk := gopacket.NewPacket(data, r.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		udp, ok := pk.Layer(layers.LayerTypeUDP).(*layers.UDP)
		ip, ok4 := pk.NetworkLayer().(*layers.IPv4)
		if ok && ok4 && uint16(udp.DstPort) == dst.Port() && ip.DstIP.Equal(net.IP(dst.Addr().AsSlice())) {
			return true
		}
	}
}

// stop ends the capture (SIGINT: tcpdump flushes and closes the file).
func (td *afpTcpdump) stop() error {
	td.cmd.Process.Signal(os.Interrupt)
	select {
	case <-td.done:
		td.done <- nil // for kill
		return nil
	case <-time.After(10 * time.Second):
		td.cmd.Process.Kill()
		return fmt.Errorf("did not stop on SIGINT: %s", td.stderr.String())
	}
}

func (td *afpTcpdump) kill() {
	select {
	case err := <-td.done:
		td.done <- err
	default:
		td.cmd.Process.Kill()
	}
}

// afpVeth is a veth pair: host in the test's network namespace, peer in a
// namespace of its own, an IPv4 /30 and (where the kernel has IPv6) an
// IPv6 /64 on it, address autoconfiguration off so the link stays quiet.
type afpVeth struct {
	ns, host, peer string
	host4, peer4   netip.Addr
	host6, peer6   netip.Addr // invalid without IPv6
}

// afpNewVeth makes an afpVeth with names unique to this run, removed when
// the test ends; it skips the test where that is not permitted.
func afpNewVeth(t *testing.T) *afpVeth {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the AF_PACKET replay needs root (CAP_NET_RAW to capture, CAP_NET_ADMIN and CAP_SYS_ADMIN for a network namespace and a veth pair); CI runs it as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: the AF_PACKET replay needs the ip command (iproute2) to make a network namespace and a veth pair")
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tag := hex.EncodeToString(rnd[:3])
	base := netip.AddrFrom4([4]byte{10, 200 + rnd[3]%50, rnd[4], rnd[5] &^ 3})
	v := &afpVeth{ns: "aegis-run-" + tag, host: "arh" + tag, peer: "arn" + tag,
		host4: base.Next(), peer4: base.Next().Next()}
	if out, err := exec.Command("ip", "netns", "add", v.ns).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot make a network namespace here (ip netns add: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", v.ns).Run() })
	if out, err := exec.Command("ip", "link", "add", v.host, "type", "veth", "peer", "name", v.peer, "netns", v.ns).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot make a veth pair here (ip link add: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", v.host).Run() })
	ip := func(args ...string) error {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	for _, args := range [][]string{
		{"link", "set", v.host, "addrgenmode", "none"},
		{"-n", v.ns, "link", "set", v.peer, "addrgenmode", "none"},
		{"addr", "add", v.host4.String() + "/30", "dev", v.host},
		{"-n", v.ns, "addr", "add", v.peer4.String() + "/30", "dev", v.peer},
	} {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	// IPv6 where the kernel has it (recorded IPv6 flows are replayed over
	// IPv6, so that header sizes stay as recorded); without it, only IPv4
	// flows are picked.
	h6 := netip.AddrFrom16([16]byte{0xfd, 0xae, rnd[3], rnd[4], rnd[5], rnd[6], 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	p6 := h6.Next()
	if err := errors.Join(ip("-6", "addr", "add", h6.String()+"/64", "dev", v.host, "nodad"),
		ip("-n", v.ns, "-6", "addr", "add", p6.String()+"/64", "dev", v.peer, "nodad")); err == nil {
		v.host6, v.peer6 = h6, p6
	} else {
		t.Logf("no IPv6 on the veth (%v): IPv6 recordings are not replayed", err)
	}
	for _, args := range [][]string{
		{"-n", v.ns, "link", "set", "lo", "up"},
		{"-n", v.ns, "link", "set", v.peer, "up"},
		{"link", "set", v.host, "up"},
	} {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// listen makes a TCP listener inside the peer namespace (a socket belongs
// to the namespace it was made in, whatever thread uses it later).
func (v *afpVeth) listen(addr netip.AddrPort) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	c := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ns, err := os.Open("/run/netns/" + v.ns)
		if err != nil {
			c <- result{nil, err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			c <- result{nil, fmt.Errorf("setns %s: %w", v.ns, err)}
			return
		}
		ln, err := net.Listen("tcp", addr.String())
		c <- result{ln, err}
	}()
	r := <-c
	return r.ln, r.err
}
