package coupling

// Detail is one direction of one flow as the flow table keeps it: the times
// (ns, packet clock) and transport payload sizes of its payload packets, in
// arrival order (cadence/flowtable Direction.Times and Sizes). The slices
// are read, never kept or changed.
type Detail struct {
	Times []int64
	Sizes []uint32
	// Trimmed is set when the table kept the detail of the first packets
	// only (Direction.PayloadPackets > len(Times)): what came later is
	// unknown.
	Trimmed bool
}

// Span is one model answer found by Answers: Start is the first packet of
// the request that asked for it, End its last server payload packet.
type Span struct{ Start, End int64 }

// Answers splits the packets of one LLM flow (client and server detail)
// into model answers, oldest first:
//
//   - a client write of at least RequestMinBytes after server payload
//     (or the first one) starts a turn, at the first client write larger
//     than ControlMaxBytes since the server's last packet (HTTP headers
//     written apart from the body); smaller client writes and the rest of
//     a request split over several packets do not;
//   - the server packets of a turn are grouped into writes (packets closer
//     than FlushGap are one write); writes of at most TrailingMaxBytes that
//     come TrailingGap or more after the previous one at the end of the
//     turn (close_notify, GOAWAY when the idle connection closes) are left
//     out;
//   - a turn is an answer when at least MinAnswerFlushes server writes
//     follow its last client write larger than ControlMaxBytes: the
//     server streams on its own. Its end is its last server packet left.
//
// The TLS handshake is a turn too (the ClientHello is large), but each of
// its server writes answers a client write (ServerHello flight, session
// tickets after the client's Finished, HTTP/2 SETTINGS after the preface),
// so at most one or two follow the client's last one: it is not an
// answer. When either direction's detail was trimmed, the last turn is
// left out: later requests or later answer packets are unknown, so its end
// is.
func (c ExtractConfig) Answers(client, server Detail) []Span {
	var out []Span
	cn, sn := min(len(client.Times), len(client.Sizes)), min(len(server.Times), len(server.Sizes))
	gap, trailGap := int64(c.FlushGap), int64(c.TrailingGap)
	si := 0
	var starts []int64
	for i := 0; i < cn; i++ {
		if int(client.Sizes[i]) < c.RequestMinBytes {
			continue
		}
		t := client.Times[i]
		// Server payload since the previous turn start makes this a new
		// turn; otherwise it continues the same request.
		if len(starts) == 0 {
			for j := i - 1; j >= 0 && int(client.Sizes[j]) > c.ControlMaxBytes && (sn == 0 || client.Times[j] > server.Times[0] || server.Times[0] > t); j-- {
				t = client.Times[j]
			}
			starts = append(starts, t)
			continue
		}
		for si < sn && server.Times[si] < starts[len(starts)-1] {
			si++
		}
		if si < sn && server.Times[si] < t {
			// The request may begin with smaller writes (HTTP headers
			// before the body): the turn starts at the first client
			// write after the server's last packet before it.
			lastSrv := server.Times[si]
			for k := si; k < sn && server.Times[k] < t; k++ {
				lastSrv = server.Times[k]
			}
			for j := i - 1; j >= 0 && client.Times[j] > lastSrv && int(client.Sizes[j]) > c.ControlMaxBytes; j-- {
				t = client.Times[j]
			}
			starts = append(starts, t)
		}
	}
	si, ci := 0, 0
	for k, st := range starts {
		next := int64(1<<63 - 1)
		if k+1 < len(starts) {
			next = starts[k+1]
		} else if client.Trimmed || server.Trimmed {
			break
		}
		// The turn's last client write that is more than a control record.
		lastReq := st
		for ci < cn && client.Times[ci] < next {
			if client.Times[ci] >= st && int(client.Sizes[ci]) > c.ControlMaxBytes {
				lastReq = client.Times[ci]
			}
			ci++
		}
		for si < sn && server.Times[si] < st {
			si++
		}
		// The turn's server packets are server[si:sj].
		sj := si
		for sj < sn && server.Times[sj] < next {
			sj++
		}
		// Writes, from the end, dropping the trailing close packets.
		end := sj
		for end > si {
			// The last write: packets closer than gap to their predecessor.
			ws := end - 1
			bytes := int64(server.Sizes[ws])
			for ws > si && server.Times[ws]-server.Times[ws-1] < gap {
				ws--
				bytes += int64(server.Sizes[ws])
			}
			if ws > si && bytes <= int64(c.TrailingMaxBytes) && server.Times[ws]-server.Times[ws-1] >= trailGap {
				end = ws
				continue
			}
			break
		}
		writes := 0
		for i := si; i < end; i++ {
			if server.Times[i] > lastReq && (i == si || server.Times[i]-server.Times[i-1] >= gap) {
				writes++
			}
		}
		if writes >= c.MinAnswerFlushes {
			out = append(out, Span{Start: st, End: server.Times[end-1]})
		}
		si = sj
	}
	return out
}

// Commands returns the times of the command writes in one interactive
// session: the payload packets of the commanding side (in: the client, or
// the responder of a reverse shell) that come after CommandQuiet or more
// of silence of both sides, once the other side (out) has sent something
// (so the protocol greeting, the key exchange and the login are not
// commands, unless someone paused during them). For a person this is the
// first keystroke after a pause; for an agent, the command line.
//
// The detail ends where either direction's detail was trimmed: past it the
// silence cannot be judged.
func (c ExtractConfig) Commands(in, out Detail) []int64 {
	var res []int64
	quiet := int64(c.CommandQuiet)
	in.Times = in.Times[:min(len(in.Times), len(in.Sizes))]
	out.Times = out.Times[:min(len(out.Times), len(out.Sizes))]
	limit := int64(1<<63 - 1)
	if in.Trimmed && len(in.Times) > 0 {
		limit = in.Times[len(in.Times)-1]
	}
	if out.Trimmed && len(out.Times) > 0 {
		limit = min(limit, out.Times[len(out.Times)-1])
	}
	oi := 0
	last := int64(-1 << 63) // previous packet of either side
	seenOut := false
	for _, t := range in.Times {
		if t > limit {
			break
		}
		for oi < len(out.Times) && out.Times[oi] <= t {
			last = max(last, out.Times[oi])
			seenOut = true
			oi++
		}
		if seenOut && t-last >= quiet {
			res = append(res, t)
		}
		last = max(last, t)
	}
	return res
}
