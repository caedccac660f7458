package cadence

import (
	"math"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
)

// sparseControlEvery is how many server flushes must have passed since the
// previous client write for a control-sized client record (HTTP/2
// WINDOW_UPDATE, PING ack) to be read as flow control inside a server run
// rather than as a new turn. Flow-control records come after tens of KB of
// data; keystroke echo alternates one for one.
const sparseControlEvery = 8

// horizon returns the last instant both directions' detail covers: when a
// direction was trimmed its detail ends early, and interleaving the other
// direction past that point would invent silences.
func horizon(f *flowtable.Flow) int64 {
	h := int64(math.MaxInt64)
	for _, d := range []*flowtable.Direction{&f.Orig, &f.Resp} {
		if t, _ := detail(d); trimmed(d) && len(t) > 0 {
			h = min(h, t[len(t)-1])
		}
	}
	return h
}

// mergeFlushes merges the client and server flushes (each in arrival order)
// by start time up to the horizon; on equal starts the client comes first.
func mergeFlushes(c, s []flush, hor int64, out []flush) []flush {
	i, j := 0, 0
	for i < len(c) || j < len(s) {
		var next flush
		if j >= len(s) || (i < len(c) && c[i].start <= s[j].start) {
			next = c[i]
			i++
		} else {
			next = s[j]
			j++
		}
		if next.start > hor {
			continue
		}
		out = append(out, next)
	}
	return out
}

// serverRun is a run of server flushes with no client write in between other
// than sparse control records: the shape of a streamed response.
type serverRun struct {
	ok           bool
	first, last  int // indices into the merged flushes
	flushes      int
	packets      int64
	bytes        int64
	start, end   int64
	controls     int   // sparse client control records inside the run
	hasRequest   bool  // client wrote before the run
	requestBytes int64 // the client turn right before the run
	requestEnd   int64 // end of that turn's last packet
}

func (r serverRun) durationS() float64 { return gapMs(r.start, r.end) / 1000 }

// ttfbMs is the time from the end of the request to the run's first packet.
func (r serverRun) ttfbMs() float64 {
	if !r.hasRequest {
		return 0
	}
	return gapMs(r.requestEnd, r.start)
}

// longestRun finds the server run with the most flushes (then the longest,
// then the earliest). Over UDP (QUIC) acknowledgements travel as small
// client datagrams after every few server packets, so there any
// control-sized client datagram is read as an acknowledgement, sparse or not.
func (a *Analyzer) longestRun(m []flush, udp bool) serverRun {
	var best, cur serverRun
	active := false
	since := 0 // server flushes since the last client write in this run
	var turnBytes, turnEnd int64
	turnFlushes := 0
	better := func(x, y serverRun) bool {
		if x.flushes != y.flushes {
			return x.flushes > y.flushes
		}
		return x.end-x.start > y.end-y.start
	}
	for i, f := range m {
		if f.dir == dirServer {
			if !active {
				cur = serverRun{ok: true, first: i, start: f.start,
					hasRequest: turnFlushes > 0, requestBytes: turnBytes, requestEnd: turnEnd}
				active, since = true, 0
			}
			cur.last = i
			cur.flushes++
			cur.packets += int64(f.n)
			cur.bytes += f.bytes
			cur.end = max(cur.end, f.end)
			since++
			turnBytes, turnFlushes = 0, 0
			continue
		}
		if active && f.bytes <= int64(a.cfg.ControlMaxBytes) && (udp || since >= sparseControlEvery) {
			cur.controls++
			since = 0
			continue
		}
		if active {
			if better(cur, best) {
				best = cur
			}
			active = false
		}
		turnBytes += f.bytes
		turnFlushes++
		turnEnd = f.end
	}
	if active && better(cur, best) {
		best = cur
	}
	return best
}

// exchange fills the exchange features from the merged flushes and the
// longest server run.
func exchange(m []flush, run serverRun, client, server schemas.DirectionFeatures) schemas.ExchangeFeatures {
	var x schemas.ExchangeFeatures
	for i := 1; i < len(m); i++ {
		if m[i].dir != m[i-1].dir {
			x.Turns++
		}
	}
	if run.ok {
		x.TTFBMs = run.ttfbMs()
		x.ServerRunS = run.durationS()
		x.ServerRunPackets = run.packets
		x.ServerRunFlushes = int64(run.flushes)
		x.RequestBytes = run.requestBytes
	}
	if client.Bytes > 0 {
		x.BytesRatio = float64(server.Bytes) / float64(client.Bytes)
	}
	return x
}
