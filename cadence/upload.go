package cadence

import (
	"fmt"

	"github.com/aegis-nsm/aegis/schemas"
)

// idleChunkGapMs is the least silence between two upload chunks for them to
// count as separately paced writes rather than one throughput-limited
// stream (a congestion-window burst ends within an RTT of the next).
const idleChunkGapMs = 100

// upload is the client's bulk phase: from the first large write that starts
// the bulk of the client's bytes to the end of the detail.
type upload struct {
	ok        bool
	start     int64 // ns
	bytes     int64 // client payload bytes from start on (totals)
	chunks    int   // client flushes from start on (detail)
	sizeCV    float64
	gapCV     float64
	idleShare float64 // share of chunk gaps with >= idleChunkGapMs of silence
	gapMedMs  float64
}

// findUpload looks for a high-volume client-to-server phase.
func (a *Analyzer) findUpload(client, server schemas.DirectionFeatures, sc *scratch) upload {
	var u upload
	if client.Bytes < a.cfg.ExfilMinBytes || float64(client.Bytes) < a.cfg.ExfilMinRatio*float64(server.Bytes) {
		return u
	}
	// The upload is the run of large client writes (client writes of at
	// most ControlMaxBytes in between do not break it) that carries the most
	// bytes; it must hold most of the client's detail bytes. A handshake's
	// or a paste's large write stands alone and loses to the bulk.
	fl := sc.flushes[dirClient]
	var total int64
	for _, f := range fl {
		total += f.bytes
	}
	large := int64(a.cfg.LineMaxBytes)
	control := int64(a.cfg.ControlMaxBytes)
	start, end := -1, -1 // best run [start, end)
	var bestBytes int64
	for i := 0; i < len(fl); {
		if fl[i].bytes <= large {
			i++
			continue
		}
		j, last := i, i
		var runBytes int64
		for j < len(fl) && (fl[j].bytes > large || fl[j].bytes <= control) {
			if fl[j].bytes > large {
				runBytes += fl[j].bytes
				last = j
			}
			j++
		}
		if runBytes > bestBytes {
			start, end, bestBytes = i, last+1, runBytes
		}
		i = j
	}
	if start < 0 || 2*bestBytes < total {
		// No bulk phase in the detail: an upload only if the bytes beyond
		// the detail are themselves high-volume.
		rest := client.Bytes - total
		if rest < a.cfg.ExfilMinBytes || len(fl) == 0 {
			return u
		}
		u.ok = true
		u.start = fl[len(fl)-1].end
		u.bytes = rest
		return u
	}
	u.ok = true
	var before int64
	for _, f := range fl[:start] {
		before += f.bytes
	}
	u.start = fl[start].start
	u.bytes = max(client.Bytes-before, 0)
	chunks := fl[start:end]
	u.chunks = len(chunks)
	sizes := sc.work[:0]
	// The last chunk is usually a remainder; leave it out of the size spread.
	for i, c := range chunks {
		if i < len(chunks)-1 || len(chunks) < 3 {
			sizes = append(sizes, float64(c.bytes))
		}
	}
	m, s := meanStd(sizes)
	u.sizeCV = cv(m, s)
	gaps := sizes[:0]
	idle := 0
	for i := 1; i < len(chunks); i++ {
		gaps = append(gaps, gapMs(chunks[i-1].start, chunks[i].start))
		if gapMs(chunks[i-1].end, chunks[i].start) >= idleChunkGapMs {
			idle++
		}
	}
	sc.work = gaps
	m, s = meanStd(gaps)
	u.gapCV = cv(m, s)
	if len(gaps) > 0 {
		u.idleShare = float64(idle) / float64(len(gaps))
		u.gapMedMs = medianOf(gaps, sc)
	}
	return u
}

// evalExfil decides whether an upload is agent exfiltration: a high-volume
// client-to-server phase inside a session whose earlier acts are agent
// command lines (not typed keystrokes). Without such a phase the upload is
// other, even when machine-paced: a bandwidth-limited backup chunks exactly
// like rate-limited staging (T1030), so that pattern is only reported.
func (a *Analyzer) evalExfil(sides *[2]session, u upload) (float64, []string, string) {
	if !u.ok {
		return 0, nil, ""
	}
	cfg := &a.cfg
	// The command phase may come from the client (an agent's session that
	// then uploads) or from the responder (a reverse shell whose victim
	// then sends the data back): take the side with more answered
	// commands.
	cmds, answered, keys := 0, 0, 0
	for side := range sides {
		c, ans, k := phaseBefore(sides[side].events, u.start)
		if ans > answered {
			cmds, answered = c, ans
		}
		if side == int(dirClient) {
			keys = k
		}
	}
	chunking := fmt.Sprintf("%d chunks, size CV %.2f, gap CV %.2f", u.chunks, u.sizeCV, u.gapCV)
	if u.chunks == 0 {
		chunking = "beyond the timing detail"
	}
	upl := fmt.Sprintf("client uploaded %s (%s)", humanBytes(u.bytes), chunking)
	sizeRegular := u.chunks >= 8 && u.sizeCV <= 0.35
	paced := u.chunks >= 8 && u.gapCV <= 0.5 && u.idleShare >= 0.5
	if keys >= cfg.MinKeystrokes && keys >= cmds {
		return 0, nil, fmt.Sprintf("%s after a typed (human) phase of %d keystrokes", upl, keys)
	}
	if cmds >= 2 && 10*answered >= 6*cmds {
		score := 0.6
		why := []string{fmt.Sprintf("%s after %d agent-paced command lines", upl, cmds)}
		if cmds >= cfg.MinCommands {
			score += 0.1
		}
		if sizeRegular {
			score += 0.1
			why = append(why, "machine-regular chunk sizes")
		}
		if paced {
			score += 0.1
			why = append(why, fmt.Sprintf("chunks paced every %.0f ms with idle gaps", u.gapMedMs))
		}
		return min(score, 0.9), why, ""
	}
	if u.chunks >= 20 && u.idleShare >= 0.8 && u.sizeCV <= 0.1 && u.gapCV <= 0.2 {
		// Rate-limited staging (T1030) looks like this, and so does a
		// backup tool with a bandwidth limit: report it, do not alert.
		return 0, nil, fmt.Sprintf("%s in fixed-size chunks every %.0f ms with idle gaps, but no agent-like command phase in this flow (rate-limited transfer; correlate with the host's agent sessions)", upl, u.gapMedMs)
	}
	return 0, nil, upl + " without an agent-like command phase (backup or file transfer)"
}

// phaseBefore counts the commands (and those answered) and keystrokes among
// events before t.
func phaseBefore(ev []event, t int64) (cmds, answered, keys int) {
	for _, e := range ev {
		if e.start >= t {
			break
		}
		switch e.kind {
		case evCommand:
			cmds++
			if e.answered {
				answered++
			}
		case evKey:
			keys++
		}
	}
	return cmds, answered, keys
}
