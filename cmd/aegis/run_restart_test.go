package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// summaryCount reads one counter of the "summary" log line.
func summaryCount(log, name string) int {
	m := regexp.MustCompile(name + `=(\d+)`).FindStringSubmatch(log)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkUnion checks the records of several runs: every expected record at
// least once, none unexpected, and duplicates (allowed only when a run was
// killed) identical in id and class.
func checkUnion(t *testing.T, got []schemas.Record, want map[string]string, dupsAllowed bool) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range got {
		seen[r.Event.ID]++
		if c, ok := want[r.Event.ID]; !ok || c != string(r.Aegis.Class) {
			t.Errorf("record %s (%s %s) is not one the offline analysis gives (%q)", r.Event.ID, r.Aegis.FlowKey, r.Aegis.Class, c)
		}
	}
	dups := 0
	for id, c := range want {
		switch n := seen[id]; {
		case n == 0:
			t.Errorf("record %s (%s) lost across the restart", id, c)
		case n > 1:
			dups += n - 1
		}
	}
	if dups > 0 && !dupsAllowed {
		t.Errorf("%d duplicates after a graceful restart: every published record was acknowledged before exit", dups)
	}
	t.Logf("%d records, %d expected, %d duplicates", len(got), len(want), dups)
}

// TestRunRestartGraceful stops 'aegis run' with SIGTERM while the sensor is
// still writing, and starts it again with the packet source at "now": the
// flows whose timing the first run never finished are backfilled from the
// ring, nothing is lost, nothing is published twice.
func TestRunRestartGraceful(t *testing.T) {
	dir := t.TempDir()
	s := newSensor(t, dir)
	out := filepath.Join(dir, "out", "detection.jsonl")
	d := startRun(t, writeConfig(t, dir, runConfigYAML(dir, "oldest")))
	half := len(s.frames) / 2
	for i := 0; i < half; i += s.perFile {
		s.writeFile(t, s.frames[i:min(i+s.perFile, half)])
		time.Sleep(20 * time.Millisecond)
	}
	waitRecords(t, out, 30, d)
	d.stop(t)
	first := len(readRecords(t, out))

	d2 := startRun(t, writeConfig(t, dir, runConfigYAML(dir, "now")))
	time.Sleep(200 * time.Millisecond) // "now" is taken before the rest is written
	rest := *s
	rest.frames = s.frames[half:]
	rest.writeAll(t, 20*time.Millisecond)
	*s = rest
	want := expectedRecords(t, dir)
	waitRecords(t, out, len(want), d2)
	time.Sleep(100 * time.Millisecond)
	d2.stop(t)
	got := readRecords(t, out)
	checkUnion(t, got, want, false)
	if n := summaryCount(d2.stderr.String(), "join_backfills"); n < 1 {
		t.Errorf("second run backfilled %d records; the first run's unfinished flows must come from the ring\n%s", n, d2.stderr.String())
	}
	if first == 0 || first >= len(want) {
		t.Errorf("first run published %d of %d: the restart was not in the middle", first, len(want))
	}
}

// startChildRun runs 'aegis run' as a real child process (this test binary
// in its aegis role, see TestMain).
func startChildRun(t *testing.T, cfgPath string, stderr *syncBuffer) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "AEGIS_TEST_RUN_ARGS="+strings.Join([]string{"run", "--config", cfgPath, "--log-format", "text"}, "\x1f"))
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestRunKill9 kills 'aegis run' with SIGKILL at a point where records are
// flowing, then runs it again: nothing is lost, and every duplicate is the
// same record (same deterministic id), from a line whose acknowledgement
// the kill cut off.
func TestRunKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the kill -9 restart")
	}
	dir := t.TempDir()
	s := newSensor(t, dir)
	out := filepath.Join(dir, "out", "detection.jsonl")
	cfg := writeConfig(t, dir, runConfigYAML(dir, "oldest"))
	var errb syncBuffer
	cmd := startChildRun(t, cfg, &errb)
	s.writeAll(t, 20*time.Millisecond)
	want := expectedRecords(t, dir)
	deadline := time.Now().Add(30 * time.Second)
	for len(readRecords(t, out)) < len(want)/3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	killedAt := len(readRecords(t, out))
	if killedAt >= len(want) {
		t.Skipf("the child published everything (%d) before the kill; nothing to check", killedAt)
	}

	var errb2 syncBuffer
	cmd2 := startChildRun(t, cfg, &errb2)
	deadline = time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		seen := map[string]bool{}
		for _, r := range readRecords(t, out) {
			seen[r.Event.ID] = true
		}
		if len(seen) >= len(want) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	cmd2.Process.Signal(syscall.SIGTERM)
	if err := cmd2.Wait(); err != nil {
		t.Errorf("second run: %v\n%s", err, errb2.String())
	}
	checkUnion(t, readRecords(t, out), want, true)
	t.Logf("killed after %d records", killedAt)
}
