package cadence

import (
	"path"
	"strings"
)

// Profile is the cadence shape of one model route: a provider's serving
// stack and model, because the stack shapes the cadence as much as the model
// does. Gaps are the gaps between server flushes inside a stream, in
// milliseconds, modelled as log-normal. Published figures (Whisper Leak)
// were captured on the client host, where segmentation offload merges the
// segments of one flush into one "packet" (their mean packet of ~1.7 KB for
// Azure exceeds the MTU), so they describe flushes.
type Profile struct {
	// Name is the route, "provider/model", e.g. "azure-openai/gpt-4o".
	Name     string
	Provider string
	Model    string
	// Servers are TLS server-name patterns (path.Match syntax, matched
	// case-insensitively; "*.openai.azure.com" matches subdomains only).
	Servers []string
	// GapMeanMs and GapStdMs are the published mean and standard deviation
	// of gaps (0 when the profile gives LogMu/LogSigma directly).
	GapMeanMs, GapStdMs float64
	// LogMu and LogSigma are the in-stream log-normal of flush gaps
	// (natural log of milliseconds). From a published mean and std: sigma
	// by moment matching, capped at MaxStreamSigma, and mu keeping the mean.
	LogMu, LogSigma float64
	// FlushBytesMin and FlushBytesMax bound the typical payload of one
	// flush (0, 0 = not scored; providers pad, so size weighs less than time).
	FlushBytesMin, FlushBytesMax float64
	// TokensPerFlush is informational (not scored).
	TokensPerFlush float64
	// QuantumMs is a flush-gap quantisation step (0 = none), e.g. ~45 ms
	// for Claude 3.5 Haiku.
	QuantumMs float64
	// TTFTMinMs and TTFTMaxMs bound the time to first token (0, 0 = not
	// scored).
	TTFTMinMs, TTFTMaxMs float64
	// PacketsP95 is the 95th percentile of packets per response (0 = not
	// scored); streams far longer count against the route.
	PacketsP95 int
	// Source says where the numbers come from.
	Source string

	bins       [routeBins]float64 // gap histogram probabilities, see lognormalBins
	binEntropy float64            // entropy of bins: the cross-entropy of the profile's own streams
}

// Profiles is a validated, ordered set of route profiles. It is immutable
// after LoadProfiles returns and safe for concurrent use.
type Profiles struct {
	routes []Profile
}

// Len returns the number of enabled routes.
func (p *Profiles) Len() int {
	if p == nil {
		return 0
	}
	return len(p.routes)
}

// Routes returns a copy of the enabled routes in file order.
func (p *Profiles) Routes() []Profile {
	if p == nil {
		return nil
	}
	out := make([]Profile, len(p.routes))
	copy(out, p.routes)
	for i := range out {
		out[i].Servers = append([]string(nil), out[i].Servers...)
	}
	return out
}

// Route returns the profile named name.
func (p *Profiles) Route(name string) (Profile, bool) {
	if p == nil {
		return Profile{}, false
	}
	for _, r := range p.routes {
		if r.Name == name {
			r.Servers = append([]string(nil), r.Servers...)
			return r, true
		}
	}
	return Profile{}, false
}

// normaliseServerName lower-cases a server name or pattern and drops a
// trailing dot.
func normaliseServerName(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// listsServer reports whether p names server (already normalised). Plain
// names and "*.suffix" patterns take a fast path; other patterns use
// path.Match.
func (p *Profile) listsServer(server string) bool {
	for _, pat := range p.Servers {
		if serverMatch(pat, server) {
			return true
		}
	}
	return false
}

func serverMatch(pat, server string) bool {
	if !strings.ContainsAny(pat, "*?[\\") {
		return pat == server
	}
	if rest, ok := strings.CutPrefix(pat, "*"); ok && !strings.ContainsAny(rest, "*?[\\") {
		// "*" matches any run of characters except '/'.
		head, found := strings.CutSuffix(server, rest)
		return found && !strings.Contains(head, "/")
	}
	ok, _ := path.Match(pat, server)
	return ok
}
