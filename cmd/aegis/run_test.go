package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

const bundledDir = "../../testdata/synth/"

// frame is one captured frame of the bundled traffic.
type frame struct {
	ci   gopacket.CaptureInfo
	data []byte
}

func readFrames(t testing.TB, path string) []frame {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []frame
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame{ci, append([]byte(nil), data...)})
	}
}

// zeekLog is a Zeek TSV log split into its header and records, each record
// with the time Zeek would write it (conn: the end of the connection plus
// Zeek's close delay; ssl: the handshake).
type zeekLog struct {
	header []string
	recs   []zeekRec
	footer []string
}

type zeekRec struct {
	line string
	due  time.Time
}

func readZeekLog(t testing.TB, path string, conn bool) zeekLog {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var l zeekLog
	for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "#close"):
			l.footer = append(l.footer, line)
		case strings.HasPrefix(line, "#"):
			l.header = append(l.header, line)
		default:
			cols := strings.Split(line, "\t")
			var ts, dur float64
			fmt.Sscanf(cols[0], "%f", &ts)
			if conn {
				fmt.Sscanf(cols[8], "%f", &dur) // duration
				dur += 5                        // tcp_close_delay
			}
			l.recs = append(l.recs, zeekRec{line, time.Unix(0, int64((ts+dur)*1e9))})
		}
	}
	sort.SliceStable(l.recs, func(i, j int) bool { return l.recs[i].due.Before(l.recs[j].due) })
	return l
}

// sensor writes what a Zeek sensor with a tcpdump ring beside it writes:
// the bundled capture as a ring of pcap files, and conn.log and ssl.log
// lines once the packets they describe are in the ring.
type sensor struct {
	dir      string
	frames   []frame
	conn     zeekLog
	ssl      zeekLog
	perFile  int
	nextConn int
	nextSSL  int
	files    int
}

func newSensor(t testing.TB, dir string) *sensor {
	s := &sensor{dir: dir, frames: readFrames(t, bundledDir+"traffic.pcap"),
		conn: readZeekLog(t, bundledDir+"conn.log", true), ssl: readZeekLog(t, bundledDir+"ssl.log", false)}
	s.perFile = len(s.frames)/12 + 1
	os.MkdirAll(filepath.Join(dir, "ring"), 0o755)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	appendLines(t, filepath.Join(dir, "logs", "conn.log"), s.conn.header)
	appendLines(t, filepath.Join(dir, "logs", "ssl.log"), s.ssl.header)
	return s
}

func appendLines(t testing.TB, path string, lines []string) {
	if len(lines) == 0 {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes the next ring file, then the log lines now due.
func (s *sensor) writeFile(t testing.TB, frames []frame) {
	path := filepath.Join(s.dir, "ring", fmt.Sprintf("trace-%04d.pcap", s.files))
	s.files++
	f, err := os.Create(path + ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	for _, fr := range frames {
		w.WritePacket(fr.ci, fr.data)
	}
	f.Close()
	os.Rename(path+".tmp", path)
	now := frames[len(frames)-1].ci.Timestamp
	var ssl, conn []string
	for ; s.nextSSL < len(s.ssl.recs) && !s.ssl.recs[s.nextSSL].due.After(now); s.nextSSL++ {
		ssl = append(ssl, s.ssl.recs[s.nextSSL].line)
	}
	for ; s.nextConn < len(s.conn.recs) && !s.conn.recs[s.nextConn].due.After(now); s.nextConn++ {
		conn = append(conn, s.conn.recs[s.nextConn].line)
	}
	appendLines(t, filepath.Join(s.dir, "logs", "ssl.log"), ssl)
	appendLines(t, filepath.Join(s.dir, "logs", "conn.log"), conn)
}

// writeAll writes the whole ring (pausing between files when pause > 0),
// the rest of the logs, and then one unrelated packet an hour later: the
// wire goes on, so the flow table's idle timeouts end every flow.
func (s *sensor) writeAll(t testing.TB, pause time.Duration) {
	for i := 0; i < len(s.frames); i += s.perFile {
		s.writeFile(t, s.frames[i:min(i+s.perFile, len(s.frames))])
		time.Sleep(pause)
	}
	var ssl, conn []string
	for ; s.nextSSL < len(s.ssl.recs); s.nextSSL++ {
		ssl = append(ssl, s.ssl.recs[s.nextSSL].line)
	}
	for ; s.nextConn < len(s.conn.recs); s.nextConn++ {
		conn = append(conn, s.conn.recs[s.nextConn].line)
	}
	appendLines(t, filepath.Join(s.dir, "logs", "ssl.log"), ssl)
	appendLines(t, filepath.Join(s.dir, "logs", "conn.log"), conn)
	time.Sleep(300 * time.Millisecond) // the follower takes the last lines
	last := s.frames[len(s.frames)-1].ci.Timestamp
	s.writeFile(t, []frame{clockFrame(last.Add(time.Hour))})
}

// clockFrame is a UDP packet between two documentation addresses.
func clockFrame(ts time.Time) frame {
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{192, 0, 2, 1}, DstIP: []byte{192, 0, 2, 2}}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 9}
	udp.SetNetworkLayerForChecksum(ip)
	gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload("tick"))
	data := buf.Bytes()
	return frame{gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}, data}
}

// runConfigYAML is the aegis.yaml of these tests: every flow a candidate,
// every analysed flow published, records to a JSONL file.
func runConfigYAML(dir, pcapStart string) string {
	return fmt.Sprintf(`sensor: test-sensor
logs:
  zeek: [%[1]s/logs/ssl.log, %[1]s/logs/conn.log]
  follow:
    positions_file: %[1]s/state/positions.json
    poll_interval: 10ms
    checkpoint_every: 20ms
packets:
  source: pcapdir
  pcapdir:
    dir: %[1]s/ring
    pattern: "trace-*.pcap"
    start: %[2]s
    poll_interval: 10ms
candidates:
  protocols: []
  min_duration: 0s
  min_packets: 0
join:
  grace: 2h
alerts:
  publish_all: true
  suppress_window: 0s
outputs:
  files:
    jsonl:
      path: "%[1]s/out/{kind}.jsonl"
      fsync_interval: 5ms
quiet_advance: 1h
metrics:
  listen: 127.0.0.1:0
`, dir, pcapStart)
}

// expectedRecords is what 'aegis analyze --all' says of the IDS-joined flows
// of what the sensor wrote (the ring stores microseconds, so the offline
// analysis reads the ring, not the original nanosecond capture): record id
// -> class.
func expectedRecords(t *testing.T, dir string) map[string]string {
	t.Helper()
	ring, _ := filepath.Glob(filepath.Join(dir, "ring", "trace-*.pcap"))
	args := []string{"analyze", "--zeek", filepath.Join(dir, "logs", "conn.log"), "--zeek", filepath.Join(dir, "logs", "ssl.log"), "--all", "--quiet"}
	var out, errb bytes.Buffer
	code := run(context.Background(), append(args, ring...), &out, &errb)
	if code != exitOK {
		t.Fatalf("analyze: exit %d: %s", code, errb.String())
	}
	want := map[string]string{}
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var r schemas.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if r.Aegis.IDS != nil {
			want[r.Event.ID] = string(r.Aegis.Class)
		}
	}
	return want
}

// readRecords reads the JSONL output: records in order, each checked
// against the JSON Schema.
func readRecords(t *testing.T, path string) []schemas.Record {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []schemas.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if err := schemacheck.ValidateJSON(sc.Bytes()); err != nil {
			t.Fatalf("record %d fails the schema: %v", len(out)+1, err)
		}
		var r schemas.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// daemonRun is one in-process 'aegis run'; stop is SIGTERM.
type daemonRun struct {
	cancel context.CancelFunc
	done   chan int
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startRun(t *testing.T, cfgPath string) *daemonRun {
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemonRun{cancel: cancel, done: make(chan int, 1), stderr: &syncBuffer{}}
	go func() {
		d.done <- run(ctx, []string{"run", "--config", cfgPath, "--log-format", "text"}, io.Discard, d.stderr)
	}()
	return d
}

func (d *daemonRun) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		if code != exitOK {
			t.Fatalf("aegis run exited %d:\n%s", code, d.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("aegis run did not stop within 30 s of SIGTERM:\n%s", d.stderr.String())
	}
}

// waitRecords waits until the output holds n records (or 60 s pass).
func waitRecords(t *testing.T, path string, n int, d *daemonRun) []schemas.Record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		recs := readRecords(t, path)
		if len(recs) >= n {
			return recs
		}
		select {
		case code := <-d.done:
			t.Fatalf("aegis run exited %d early:\n%s", code, d.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			d.cancel()
			<-d.done
			t.Fatalf("%d of %d records after 20 s:\n%s", len(recs), n, d.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeConfig(t *testing.T, dir, yaml string) string {
	p := filepath.Join(dir, "aegis.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkAgainst compares the live records with the offline analysis: every
// IDS-joined flow published exactly once, with the same id and class.
func checkAgainst(t *testing.T, got []schemas.Record, want map[string]string) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range got {
		seen[r.Event.ID]++
		if c, ok := want[r.Event.ID]; !ok {
			t.Errorf("record %s (%s, %s) is not one analyze publishes", r.Event.ID, r.Aegis.FlowKey, r.Aegis.Class)
		} else if c != string(r.Aegis.Class) {
			t.Errorf("record %s (%s): class %s live, %s offline", r.Event.ID, r.Aegis.FlowKey, r.Aegis.Class, c)
		}
		if r.Aegis.IDS == nil || r.Aegis.IDS.UID == "" {
			t.Errorf("record %s has no IDS uid", r.Event.ID)
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("record %s published %d times", id, n)
		}
	}
	for id := range want {
		if seen[id] == 0 {
			t.Errorf("record %s (%s) never published", id, want[id])
		}
	}
}

// TestRunFollowsRollingPcap: a sensor writes a ring of pcap files and its
// conn.log and ssl.log while 'aegis run' follows them; every candidate flow
// is published once, as the offline analysis classifies it, with its uid.
func TestRunFollowsRollingPcap(t *testing.T) {
	dir := t.TempDir()
	s := newSensor(t, dir)
	d := startRun(t, writeConfig(t, dir, runConfigYAML(dir, "oldest")))
	s.writeAll(t, 30*time.Millisecond)
	want := expectedRecords(t, dir)
	got := waitRecords(t, filepath.Join(dir, "out", "detection.jsonl"), len(want), d)
	time.Sleep(300 * time.Millisecond) // nothing more comes; acks and checkpoints settle
	m := scrapeMetrics(t, d)
	d.stop(t)
	got = readRecords(t, filepath.Join(dir, "out", "detection.jsonl"))
	checkAgainst(t, got, want)

	// The metrics say what happened.
	var lines int
	for _, l := range []string{"conn.log", "ssl.log"} {
		b, _ := os.ReadFile(filepath.Join(dir, "logs", l))
		lines += bytes.Count(b, []byte("\n"))
	}
	vb, _ := os.ReadFile(filepath.Join(dir, "out", "verdict.jsonl"))
	verdicts := bytes.Count(vb, []byte("\n"))
	cb, _ := os.ReadFile(filepath.Join(dir, "out", "coupling.jsonl"))
	others := verdicts + bytes.Count(cb, []byte("\n"))
	if verdicts == 0 {
		t.Error("no verdicts: the reasoning pass (rule-based when the model is off) publishes one per source window with detections")
	}
	for _, line := range bytes.Split(bytes.TrimSpace(vb), []byte("\n")) {
		if err := schemacheck.ValidateVerdictJSON(line); err != nil {
			t.Fatalf("verdict fails its schema: %v", err)
		}
	}
	classes := map[string]int{}
	for _, r := range got {
		classes[string(r.Aegis.Class)]++
	}
	checks := map[string]float64{
		`aegis_ids_records_total`:                     float64(len(s.conn.recs)),
		`aegis_log_lines_total{log="zeek"}`:           float64(lines),
		`aegis_log_lines_acked_total`:                 float64(lines),
		`aegis_detections_total{class="llm_stream"}`:  float64(classes["llm_stream"]),
		`aegis_detections_total{class="agent_shell"}`: float64(classes["agent_shell"]),
		`aegis_join_total{outcome="miss"}`:            0,
		`aegis_ready`:                                 1,
	}
	// Verdicts may still be published at shutdown (their windows close
	// then): at the scrape, every published record was acknowledged, and
	// the detections were all there.
	acked, published := m[`aegis_sink_records_total{outcome="acked",sink="jsonl"}`], m[`aegis_alerts_total{outcome="published"}`]
	if acked != published || acked < float64(len(got)) || acked > float64(len(got)+others) {
		t.Errorf("sink acked %v, published %v; want equal, between %d detections and %d with verdicts and couplings", acked, published, len(got), len(got)+others)
	}
	for k, want := range checks {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("metric %s = %v (present %v), want %v", k, got, ok, want)
		}
	}
}

// scrapeMetrics reads the run's /metrics (its address is in the start-up
// log line) into name{labels} -> value, and checks /healthz and /readyz.
func scrapeMetrics(t *testing.T, d *daemonRun) map[string]float64 {
	t.Helper()
	mm := regexp.MustCompile(`metrics=(\S+)`).FindStringSubmatch(d.stderr.String())
	if mm == nil {
		t.Fatalf("no metrics address in the log:\n%s", d.stderr.String())
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + mm[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", path, resp.Status)
		}
	}
	resp, err := http.Get("http://" + mm[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		fmt.Sscanf(line[i+1:], "%g", &v)
		out[line[:i]] = v
	}
	return out
}

// TestRunReplayIsByteIdentical: the same inputs, replayed twice from
// scratch, give byte-identical output.
func TestRunReplayIsByteIdentical(t *testing.T) {
	dir := t.TempDir()
	s := newSensor(t, dir)
	s.writeAll(t, 0)
	want := expectedRecords(t, dir)
	var outputs [2][]byte
	for i := range outputs {
		// From scratch: no checkpoint, no output.
		os.RemoveAll(filepath.Join(dir, "state"))
		os.RemoveAll(filepath.Join(dir, "out"))
		d := startRun(t, writeConfig(t, dir, runConfigYAML(dir, "oldest")))
		waitRecords(t, filepath.Join(dir, "out", "detection.jsonl"), len(want), d)
		time.Sleep(100 * time.Millisecond)
		d.stop(t)
		outputs[i], _ = os.ReadFile(filepath.Join(dir, "out", "detection.jsonl"))
	}
	if len(outputs[0]) == 0 {
		t.Fatal("no output")
	}
	if !bytes.Equal(outputs[0], outputs[1]) {
		a, b := bytes.Split(outputs[0], []byte("\n")), bytes.Split(outputs[1], []byte("\n"))
		for i := range min(len(a), len(b)) {
			if !bytes.Equal(a[i], b[i]) {
				t.Fatalf("two replays differ at record %d:\n%s\n%s", i+1, a[i], b[i])
			}
		}
		t.Errorf("two replays differ: %d and %d bytes", len(outputs[0]), len(outputs[1]))
	}
}
