package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// findChromium returns a Chromium or Chrome binary: $AEGIS_CHROMIUM, else
// the usual names in PATH.
func findChromium() (string, error) {
	if p := os.Getenv("AEGIS_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium, chromium-browser or google-chrome in PATH")
}

// browser is one headless Chromium process this test started.
type browser struct {
	cmd    *exec.Cmd
	wsURL  string
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

// startChromium starts headless Chromium with a fresh profile and the
// DevTools protocol on a free port, and returns once it listens.
func startChromium(ctx context.Context, t *testing.T, bin string) *browser {
	t.Helper()
	args := []string{
		"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
		"--user-data-dir=" + filepath.Join(t.TempDir(), "profile"),
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--window-size=1440,1000",
		"about:blank",
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers share the group: stop them all
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	b := &browser{cmd: cmd, stderr: &syncBuffer{}}
	t.Cleanup(func() {
		// Ask politely (Browser.close was sent by the test), then stop
		// the process group this test started.
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-waited
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			b.stderr.Write([]byte(line + "\n"))
			if i := strings.Index(line, "DevTools listening on "); i >= 0 && !sent {
				found <- strings.TrimSpace(line[i+len("DevTools listening on "):])
				sent = true
			}
		}
		io.Copy(io.Discard, pipe)
	}()
	select {
	case b.wsURL = <-found:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("chromium did not open its DevTools port: %v\nstderr:\n%s", ctx.Err(), b.stderr.String())
	}
	return b
}

// pageReport is what the test reads from the rendered page.
type pageReport struct {
	Timelines  int      `json:"timelines"`
	Histograms int      `json:"histograms"`
	Sections   int      `json:"sections"`
	Rows       int      `json:"rows"`
	Scripts    int      `json:"scripts"`
	Images     int      `json:"images"`
	HostileSNI int      `json:"hostileSNI"`
	Title      string   `json:"title"`
	Height     int      `json:"height"`
	BrokenRefs []string `json:"brokenRefs"`
	StyledOK   bool     `json:"styledOK"`
}

// TestChromium renders a report of the bundled capture's detections (plus
// one with hostile text in every field) in headless Chromium and checks
// that the page loads with no console error, fetches nothing, runs no
// script, shows one timeline and one histogram per detection, and links
// every summary row to its section. It keeps a screenshot.
func TestChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the headless Chromium test")
	}
	bin, err := findChromium()
	if err != nil {
		t.Skipf("Chromium is not installed (%v): apt-get install chromium, or set AEGIS_CHROMIUM to its path", err)
	}
	dets := analyseCapture(t)
	rep := New(`Aegis analyze: testdata/synth "><script>alert('title')</script>`, Options{Inputs: []string{"testdata/synth/traffic.pcap", "testdata/synth/conn.log", "testdata/synth/ssl.log"}})
	for i := range dets {
		rep.Add(&dets[i].rec, dets[i].detail)
	}
	hostileRec, hostileDetail := hostileRecord(hostile)
	hostileDetail.First = dets[len(dets)-1].detail.First + 1e9 // last on the page
	hostileDetail.Client.Times = append([]int64(nil), hostileDetail.Client.Times...)
	rep.Add(&hostileRec, hostileDetail)
	want := len(dets) + 1

	dir := t.TempDir()
	htmlPath := filepath.Join(dir, "report.html")
	f, err := os.Create(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	br := startChromium(ctx, t, bin)
	c, err := dialCDP(ctx, br.wsURL)
	if err != nil {
		t.Fatalf("DevTools connection: %v", err)
	}
	defer c.close()
	defer c.call(ctx, "", "Browser.close", nil, nil)

	pageURL := fileURL(htmlPath)
	s := openPage(ctx, t, c, pageURL)
	const probe = `(() => {
	  const q = s => document.querySelectorAll(s);
	  const ids = new Set([...q('[id]')].map(e => e.id));
	  const broken = [...q('table.summary a[href^="#"]')].map(a => a.getAttribute('href').slice(1)).filter(id => !ids.has(id));
	  const sni = [...q('.sni')].filter(e => e.textContent === HOSTILE).length;
	  const badge = document.querySelector('.badge.cls-llm_stream');
	  const styled = !!badge && getComputedStyle(badge).color === 'rgb(255, 255, 255)';
	  return JSON.stringify({
	    timelines: q('svg.timeline').length, histograms: q('svg.histogram').length,
	    sections: q('section.detection').length, rows: q('table.summary tbody tr').length,
	    scripts: q('script').length, images: q('img').length, hostileSNI: sni,
	    title: document.title, height: document.documentElement.scrollHeight,
	    brokenRefs: broken, styledOK: styled,
	  });
	})()`
	hostileJSON, _ := json.Marshal(hostile)
	var ev struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails json.RawMessage `json:"exceptionDetails"`
	}
	if err := c.call(ctx, s, "Runtime.evaluate", map[string]any{"expression": strings.Replace(probe, "HOSTILE", string(hostileJSON), 1), "returnByValue": true}, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.ExceptionDetails) > 0 {
		t.Fatalf("probe failed: %s", ev.ExceptionDetails)
	}
	var pr pageReport
	if err := json.Unmarshal([]byte(ev.Result.Value), &pr); err != nil {
		t.Fatalf("probe result %q: %v", ev.Result.Value, err)
	}
	t.Logf("page: %+v", pr)

	// Screenshot of the top of the page (summary and the first detections).
	shotH := min(max(pr.Height, 1000), 3200)
	if err := c.call(ctx, s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1440, "height": shotH, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		t.Fatal(err)
	}
	var shot struct {
		Data string `json:"data"`
	}
	if err := c.call(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	shotPath := filepath.Join(dir, "report.png")
	if err := os.WriteFile(shotPath, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes, 1440x%d); page: %s", shotPath, len(png), shotH, htmlPath)
	if art := os.Getenv("AEGIS_TEST_ARTIFACTS"); art != "" {
		if err := os.MkdirAll(art, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string][]byte{"report-chromium.png": png} {
			if err := os.WriteFile(filepath.Join(art, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		page, _ := os.ReadFile(htmlPath)
		if err := os.WriteFile(filepath.Join(art, "report-chromium.html"), page, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("copied screenshot and page to %s", art)
	}

	problems := pageProblems(c, s, pageURL)
	for _, p := range problems {
		t.Error(p)
	}

	if pr.Sections != want || pr.Rows != want {
		t.Errorf("sections %d, summary rows %d; want %d detections", pr.Sections, pr.Rows, want)
	}
	if pr.Timelines != pr.Sections || pr.Histograms != pr.Sections || pr.Timelines+pr.Histograms != 2*want {
		t.Errorf("charts: %d timelines + %d histograms, want 2 × %d detections", pr.Timelines, pr.Histograms, want)
	}
	if pr.Scripts != 0 || pr.Images != 0 {
		t.Errorf("hostile text became elements: %d scripts, %d images", pr.Scripts, pr.Images)
	}
	if pr.HostileSNI != 1 {
		t.Errorf("the hostile server name should show once as text in the detection header, found %d", pr.HostileSNI)
	}
	if !strings.Contains(pr.Title, `"><script>`) {
		t.Errorf("title %q should show the hostile text literally", pr.Title)
	}
	if len(pr.BrokenRefs) > 0 {
		t.Errorf("summary links without a target: %v", pr.BrokenRefs)
	}
	if !pr.StyledOK {
		t.Error("the style sheet was not applied (CSP hash mismatch?)")
	}

	// The checks catch what they are meant to: the same page with an
	// inline style attribute (refused by its policy), a script (refused)
	// and a fetch must report problems.
	page, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	canary := strings.Replace(string(page), "<main>", `<main><div style="color:red">x</div><script>console.error("canary")</script><img src="http://127.0.0.1:9/canary.png">`, 1)
	canaryPath := filepath.Join(dir, "canary.html")
	if err := os.WriteFile(canaryPath, []byte(canary), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := openPage(ctx, t, c, fileURL(canaryPath))
	got := strings.Join(pageProblems(c, cs, fileURL(canaryPath)), "\n")
	if !strings.Contains(got, "style") || !strings.Contains(got, "script") || !strings.Contains(got, "canary.png") {
		t.Errorf("the console checks missed the canary's CSP violations or fetch; they reported:\n%s", got)
	} else {
		t.Logf("canary page (inline style, script, fetch) reported as expected:\n%s", got)
	}
	if t.Failed() {
		t.Logf("chromium stderr:\n%s", br.stderr.String())
	}
}

func fileURL(path string) string { return (&url.URL{Scheme: "file", Path: path}).String() }

// openPage opens pageURL in a new target with the Page, Runtime, Log and
// Network domains enabled, waits for its load event and returns the
// session id.
func openPage(ctx context.Context, t *testing.T, c *cdpClient, pageURL string) string {
	t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatal(err)
	}
	s := attached.SessionID
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"} {
		if err := c.call(ctx, s, m, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.call(ctx, s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1440, "height": 1000, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		t.Fatal(err)
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := c.call(ctx, s, "Page.navigate", map[string]any{"url": pageURL}, &nav); err != nil || nav.ErrorText != "" {
		t.Fatalf("navigate to %s: %v %s", pageURL, err, nav.ErrorText)
	}
	if _, err := c.waitEvent(ctx, s, "Page.loadEventFired"); err != nil {
		t.Fatal(err)
	}
	// Let late console messages (CSP reports are queued) arrive: a round
	// trip through the renderer after the load event.
	if err := c.call(ctx, s, "Runtime.evaluate", map[string]any{"expression": "new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))", "awaitPromise": true}, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// pageProblems lists the session's console errors and warnings, uncaught
// exceptions, log errors (CSP violations, failed loads), dialogs (an
// executed alert) and every request but the page itself.
func pageProblems(c *cdpClient, session, pageURL string) []string {
	var problems []string
	for _, e := range c.allEvents() {
		if e.SessionID != session {
			continue
		}
		switch e.Method {
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string `json:"type"`
				Args []struct {
					Value       any    `json:"value"`
					Description string `json:"description"`
				} `json:"args"`
			}
			json.Unmarshal(e.Params, &p)
			if p.Type == "error" || p.Type == "assert" || p.Type == "warning" {
				problems = append(problems, fmt.Sprintf("console.%s: %v", p.Type, p.Args))
			}
		case "Runtime.exceptionThrown":
			problems = append(problems, "exception: "+string(e.Params))
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level, Source, Text, URL string
				} `json:"entry"`
			}
			json.Unmarshal(e.Params, &p)
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				problems = append(problems, fmt.Sprintf("log %s (%s): %s %s", p.Entry.Level, p.Entry.Source, p.Entry.Text, p.Entry.URL))
			}
		case "Page.javascriptDialogOpening":
			problems = append(problems, "a script opened a dialog: "+string(e.Params))
		case "Network.requestWillBeSent":
			var p struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			}
			json.Unmarshal(e.Params, &p)
			if p.Request.URL != pageURL {
				problems = append(problems, "network request: "+p.Request.URL)
			}
		}
	}
	return problems
}
