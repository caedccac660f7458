package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// TestDetectionQuality runs the checked-in labelled set through the same
// analysis as 'aegis analyze --all' and prints the quality report. It
// guards against regressions with floors far below today's figures (see the
// README): benign flows must not be called detections, and LLM streams and
// handoffs must be found. Per-flow classes that need the per-host view
// (one command or one chunk per connection) are not held to a floor.
func TestDetectionQuality(t *testing.T) {
	res, err := evaluateDir(context.Background(), "../../testdata/synth", "")
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	res.writeMarkdown(&md)
	t.Logf("detection quality on testdata/synth:\n%s", md.String())
	if res.Unmatched > 0 {
		t.Errorf("%d labelled flows were not produced by the analysis", res.Unmatched)
	}
	benign, falseAlarms := 0, 0
	for _, truth := range []schemas.Class{schemas.ClassOther, schemas.ClassHumanInteractive} {
		for pred, n := range res.Confusion[truth] {
			benign += n
			if pred.IsDetection() {
				falseAlarms += n
			}
		}
	}
	if benign == 0 || float64(falseAlarms) > 0.03*float64(benign) {
		t.Errorf("%d of %d benign flows called a detection class", falseAlarms, benign)
	}
	for _, c := range []struct {
		class schemas.Class
		floor float64
	}{{schemas.ClassLLMStream, 0.8}, {schemas.ClassHandoff, 0.6}, {schemas.ClassHumanInteractive, 0.7}, {schemas.ClassAgentShell, 0.6}} {
		if _, rec, n := precisionRecallOf(res.Decidable, c.class); n == 0 || rec < c.floor {
			t.Errorf("%s recall %.2f over %d flows, floor %.2f", c.class, rec, n, c.floor)
		}
	}
}
