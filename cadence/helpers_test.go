package cadence

import "testing"

// newTestAnalyzer returns an Analyzer with the default config and the
// embedded profiles.
func newTestAnalyzer(tb testing.TB) *Analyzer {
	tb.Helper()
	p, err := LoadProfiles("")
	if err != nil {
		tb.Fatal(err)
	}
	a, err := NewAnalyzer(DefaultConfig(), p)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
