package cadence

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/aegis-nsm/aegis/schemas"
)

// RouteUnknown is the route name when no profile fits well enough or two fit
// equally well.
const RouteUnknown = "unknown"

// SNI relations reported in RouteMatch.SNI.
const (
	SNIListed   = "listed"
	SNIUnlisted = "unlisted"
	SNINone     = "none"
)

// Weights of the one-off shape terms of a route score (exponents, so a term
// can only lower the fit). Timing dominates: providers pad sizes, and the
// quantisation step is a hypothesis to re-measure.
const (
	weightSize    = 0.5
	weightQuantum = 0.5
	weightTTFT    = 0.3
	weightLength  = 0.3
)

type routeScore struct {
	idx      int
	score    float64
	evidence float64
}

// Route gap histogram of flush gaps: bin 0 holds gaps under 1 ms, bins
// 1..routeBins-2 double from 1 ms, the last holds the rest (over 2 minutes).
const routeBins = 19

// routeBin returns the histogram bin of a gap in milliseconds.
func routeBin(ms float64) int {
	if !(ms >= 1) {
		return 0
	}
	return min(1+floorLog2(ms), routeBins-1)
}

// lognormalBins returns the probability of each route bin under a
// log-normal of ln-ms (mu, sigma), floored so that no bin is impossible.
func lognormalBins(mu, sigma float64) [routeBins]float64 {
	var p [routeBins]float64
	cdf := func(ms float64) float64 {
		return 0.5 * math.Erfc(-(math.Log(ms)-mu)/(sigma*math.Sqrt2))
	}
	prev := 0.0
	for b := range routeBins - 1 {
		c := cdf(math.Exp2(float64(b))) // upper edge of bin b: 1, 2, 4, ... ms
		p[b] = c - prev
		prev = c
	}
	p[routeBins-1] = 1 - prev
	for b := range p {
		p[b] = max(p[b], 1e-6)
	}
	return p
}

// crossEntropy is the mean negative log-likelihood per gap of the observed
// histogram under the profile's bins; n times it is the (binned)
// negative log-likelihood of the stream.
func crossEntropy(counts *[routeBins]int, n int, p *Profile) float64 {
	if n == 0 {
		return 0
	}
	var ce float64
	for b, c := range counts {
		if c > 0 {
			ce -= float64(c) / float64(n) * math.Log(p.bins[b])
		}
	}
	return ce
}

// quantumShare is the share of gaps (of at least half a step) within 15% of
// a step of a multiple of q; random gaps give ~0.3.
func quantumShare(gaps []float64, q float64) (float64, int) {
	n, hit := 0, 0
	for _, g := range gaps {
		if g < q/2 {
			continue
		}
		n++
		k := math.Round(g / q)
		if math.Abs(g-k*q) <= 0.15*q {
			hit++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(hit) / float64(n), n
}

// logDistanceTerm is exp(-d²/(2w²)) for the log distance d of x outside
// [lo, hi].
func logDistanceTerm(x, lo, hi, w float64) float64 {
	var d float64
	switch {
	case x < lo && x > 0:
		d = math.Log(lo / x)
	case x > hi && hi > 0:
		d = math.Log(x / hi)
	default:
		return 1
	}
	return math.Exp(-d * d / (2 * w * w))
}

// routeEvidenceGaps caps the gaps a route decision counts as independent
// evidence: consecutive gaps of one stream are correlated (batching, stalls)
// and profiles are approximations, so evidence saturates.
const routeEvidenceGaps = 200

// scoreProfile scores one profile against a stream shape.
//
// evidence ranks profiles: the binned log-likelihood of the stream's flush
// gaps (at most routeEvidenceGaps of them counted as independent) plus the
// one-off shape terms (flush size, quantisation, time to first byte,
// stream length), so differences between profiles are log-likelihood
// ratios.
//
// score is a 0..1 typicality: exp(-(cross-entropy - the profile's own
// entropy)), 1 when the gaps are as likely under the profile as its own
// draws (a narrow stream centred on the profile scores 1; single streams
// are narrower than the pooled figures), falling as they move away, times
// the shape terms spread over the gaps.
func scoreProfile(sh *streamShape, p *Profile) (score, evidence float64) {
	ce := crossEntropy(&sh.hist, sh.histN, p)
	terms := 0.0 // sum of weighted log terms
	n := float64(max(min(sh.histN, routeEvidenceGaps), 1))
	typical := 0.0   // how far below the profile's own draws the stream falls (log)
	sizeTerms := 0.0 // the per-flush size evidence inside terms
	if p.FlushBytesMax > 0 && len(sh.flushBytes) > 0 {
		// Flush size is evidence per flush: the profile expects 90% of
		// its flushes within its size range (give or take half again),
		// against an uninformed 50% for a profile without a range.
		lo, _ := slices.BinarySearch(sh.flushBytes, p.FlushBytesMin/1.5)
		hi, found := slices.BinarySearch(sh.flushBytes, p.FlushBytesMax*1.5)
		for found && hi < len(sh.flushBytes) && sh.flushBytes[hi] == p.FlushBytesMax*1.5 {
			hi++ // include flushes exactly at the upper bound
		}
		in := max(hi-lo, 0)
		share := float64(in) / float64(len(sh.flushBytes))
		ll := share*math.Log(0.9) + (1-share)*math.Log(0.1)
		self := 0.9*math.Log(0.9) + 0.1*math.Log(0.1)
		nf := float64(min(len(sh.flushBytes), routeEvidenceGaps))
		sizeTerms = weightSize * nf * (share*math.Log(0.9/0.5) + (1-share)*math.Log(0.1/0.5))
		terms += sizeTerms
		typical += weightSize * min(ll-self, 0)
	}
	if p.QuantumMs > 0 {
		if share, n := quantumShare(sh.flushGaps, p.QuantumMs); n >= 8 {
			terms += weightQuantum * math.Log(min(max((share-0.3)/0.5, 0.1), 1))
		}
	}
	if p.TTFTMaxMs > 0 && sh.hasTTFB && sh.ttfbMs > p.TTFTMaxMs {
		// Only a late first byte counts: headers may precede the first token.
		terms += weightTTFT * math.Log(logDistanceTerm(sh.ttfbMs, 0, p.TTFTMaxMs, 0.7))
	}
	if p.PacketsP95 > 0 {
		terms += weightLength * math.Log(logDistanceTerm(float64(sh.packets), 0, 3*float64(p.PacketsP95), 1))
	}
	score = clamp01(finite(math.Exp(-max(ce-p.binEntropy, 0) + typical + (terms-sizeTerms)/n)))
	return score, finite(-n*ce + terms)
}

// matchRoute scores every profile against the stream and applies the floor,
// the evidence margin and the SNI corroboration.
func (a *Analyzer) matchRoute(sh *streamShape, sni string, sc *scratch) (schemas.RouteMatch, []string) {
	rm := schemas.RouteMatch{Name: RouteUnknown, SNI: SNINone}
	sni = normaliseServerName(sni)
	routes := a.profiles.routes
	var why []string
	if len(routes) == 0 {
		why = append(why, "no route profiles loaded")
		return rm, append(why, a.sniReasons(&rm, sni, -1)...)
	}
	scores := sc.routes[:0]
	for i := range routes {
		sc, ev := scoreProfile(sh, &routes[i])
		scores = append(scores, routeScore{idx: i, score: sc, evidence: ev})
	}
	sc.routes = scores
	slices.SortFunc(scores, func(x, y routeScore) int {
		if c := cmp.Compare(y.evidence, x.evidence); c != 0 {
			return c
		}
		return cmp.Compare(routes[x.idx].Name, routes[y.idx].Name)
	})
	k := min(a.cfg.RouteCandidates, len(scores))
	rm.Candidates = make([]schemas.RouteCandidate, k)
	for i := range k {
		rm.Candidates[i] = schemas.RouteCandidate{Name: routes[scores[i].idx].Name, Score: round3(scores[i].score)}
	}
	best := scores[0]
	rm.Score = round3(best.score)
	bp := &routes[best.idx]
	if best.score < a.cfg.RouteMinScore {
		why = append(why, fmt.Sprintf("no route profile fits the cadence (best %s %.2f < %.2f)", bp.Name, best.score, a.cfg.RouteMinScore))
		return rm, append(why, a.sniReasons(&rm, sni, -1)...)
	}
	// Profiles whose log-likelihood is within the margin of the best are
	// indistinguishable on this evidence.
	near := 1
	for near < len(scores) && best.evidence-scores[near].evidence < a.cfg.RouteMinEvidence {
		near++
	}
	chosen := best.idx
	if near > 1 {
		chosen = -1
		if sni != "" {
			listing := -1
			for _, s := range scores[:near] {
				if routes[s.idx].listsServer(sni) {
					if listing >= 0 {
						listing = -2
						break
					}
					listing = s.idx
				}
			}
			if listing >= 0 {
				chosen = listing
				why = append(why, fmt.Sprintf("cadence fits %d routes about equally; server name %q is listed only for %s", near, sni, routes[listing].Name))
			}
		}
		if chosen < 0 {
			provider := bp.Provider
			names := make([]string, 0, near)
			for _, s := range scores[:near] {
				names = append(names, routes[s.idx].Name)
				if routes[s.idx].Provider != provider {
					provider = ""
				}
			}
			rm.Provider = provider
			msg := fmt.Sprintf("cadence fits %s about equally (log-likelihood ratio < %.1f): route unknown", strings.Join(names, ", "), a.cfg.RouteMinEvidence)
			if provider != "" {
				msg += ", provider " + provider
			}
			why = append(why, msg)
			return rm, append(why, a.sniReasons(&rm, sni, -1)...)
		}
	}
	cp := &routes[chosen]
	rm.Name, rm.Provider = cp.Name, cp.Provider
	var chosenScore routeScore
	for _, s := range scores {
		if s.idx == chosen {
			chosenScore = s
		}
	}
	rm.Score = round3(chosenScore.score)
	next := ""
	for _, s := range scores {
		if s.idx != chosen {
			next = fmt.Sprintf("; next %s %.2f, log-likelihood ratio %.1f", routes[s.idx].Name, s.score, chosenScore.evidence-s.evidence)
			break
		}
	}
	why = append(why, fmt.Sprintf("cadence fits route %s (score %.2f%s)", cp.Name, rm.Score, next))
	return rm, append(why, a.sniReasons(&rm, sni, chosen)...)
}

// sniReasons sets rm.SNI for a stream and explains how the server name
// relates to the cadence. chosen is the route index, or -1 when unknown.
func (a *Analyzer) sniReasons(rm *schemas.RouteMatch, sni string, chosen int) []string {
	if sni == "" {
		rm.SNI = SNINone
		return nil
	}
	routes := a.profiles.routes
	var providers []string
	chosenLists := false
	for i := range routes {
		if routes[i].listsServer(sni) {
			if !slices.Contains(providers, routes[i].Provider) {
				providers = append(providers, routes[i].Provider)
			}
			if i == chosen {
				chosenLists = true
			}
		}
	}
	if len(providers) == 0 {
		rm.SNI = SNIUnlisted
		return []string{fmt.Sprintf("LLM cadence to server name %q that no profile lists: possibly a self-hosted or proxied model", sni)}
	}
	rm.SNI = SNIListed
	switch {
	case chosenLists:
		return []string{fmt.Sprintf("server name %q is listed for %s (corroborates)", sni, routes[chosen].Name)}
	case chosen >= 0 && !slices.Contains(providers, routes[chosen].Provider):
		return []string{fmt.Sprintf("server name %q is listed for provider %v but the cadence fits %s of provider %s (gateway, proxy or profile drift?)",
			sni, providers, routes[chosen].Name, routes[chosen].Provider)}
	case chosen >= 0:
		return []string{fmt.Sprintf("server name %q is listed for provider %s (same provider, other route)", sni, routes[chosen].Provider)}
	}
	return []string{fmt.Sprintf("server name %q is listed for provider %v; the cadence alone did not pick a route", sni, providers)}
}

// sniOnly reports the SNI relation of a flow without LLM cadence: a listed
// name is noted (it is never evidence on its own), anything else is "none".
func (a *Analyzer) sniOnly(sni string) (string, string) {
	sni = normaliseServerName(sni)
	if sni == "" {
		return SNINone, ""
	}
	for i := range a.profiles.routes {
		if a.profiles.routes[i].listsServer(sni) {
			return SNIListed, fmt.Sprintf("server name %q is a known LLM API name, but the flow shows no token-stream cadence (a name alone is not evidence)", sni)
		}
	}
	return SNINone, ""
}

func round3(x float64) float64 { return math.Round(clamp01(x)*1000) / 1000 }
