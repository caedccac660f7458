//go:build race

package coupling

// raceEnabled is set under the race detector, which makes the statistical
// tests draw fewer timelines.
const raceEnabled = true
