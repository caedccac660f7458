// Package coupling ties a host's LLM streams to the actions that follow
// them (issue 9, "tool-call coupling"): an agent acts right after its model
// answers, so each of its commands (or each new short connection it opens)
// starts within a few hundred milliseconds of one of its host's LLM
// streams ending, again and again. A person reading a chat answer, a CI
// runner on a timer or a monitoring poller act on their own clock.
//
// # Inputs
//
// The pipeline feeds two kinds of events per host:
//
//   - Stream: one model answer of a flow the cadence analysis called
//     llm_stream (a keep-alive connection gives one Stream per
//     request/response turn; ExtractConfig.Answers splits the flow table's
//     per-packet detail into turns). Its End is the answer's last server
//     payload packet (see Stream).
//   - Action: the start of a new connection from the host (any IDS flow
//     record: SSH exec, HTTP, databases, SMB, DNS ...) or a command write
//     inside an interactive session (ExtractConfig.Commands finds them in
//     the session's per-packet detail).
//
// Per host the Detector keeps the most recent max_events_per_host streams
// and, separately, actions, sorted by time (late records are inserted in
// place); max_hosts and max_events bound the total, host_ttl forgets quiet
// hosts and old events. All times are the record (packet) clock.
//
// # The statistic
//
// A host's actions are split into channels: the commands of one session,
// or the connection starts of one service (by IDS service, else port; DNS
// is ignored, see ignore_services). The agent acts through one tool, so
// its channel is clean even when the host makes many unrelated
// connections. For one channel:
//
//   - lag: for each stream end, the time to the first action of the
//     channel after it and before the next stream end; a cycle is a
//     stream end whose lag is at most lag_window (each stream end counts
//     once);
//   - closeness, the test statistic: the sum over the cycles of
//     lag_window - lag. An agent acts early in every window; chance lands
//     anywhere in some windows. When answers come a second or two apart
//     the window covers much of each gap and chance fills many windows,
//     but not their beginnings, so closeness keeps its power where the
//     count of cycles loses it;
//   - null: the channel's action times shifted all together by one random
//     offset of min_shift to max_shift (either sign), wrapping around the
//     analysed span (a circular shift): the actions keep their own rhythm
//     (bursts, timers, typing) and the host's activity level, and lose any
//     tie to the stream ends. permutations copies are drawn from a
//     generator seeded by (seed, host, channel);
//   - p-value: (1 + copies with at least the observed closeness) / (1 +
//     copies); score: (closeness - null mean) / max(null sd, lag_window/2);
//   - decision: cycles >= min_cycles and p-value x channels tested on the
//     host (Bonferroni) <= alpha. The threshold is a significance level,
//     not a fitted constant: on timelines whose actions are independent
//     of the streams, at most about alpha of the hosts are flagged per
//     evaluation (the tests measure it on shuffled and simulated
//     timelines).
//
// A finding is a schemas.Coupling record (its own kind, published as
// sink.KindCoupling); Links and LinkedDetections name the detection
// records it supports.
//
// # What it cannot show
//
// See the repository README: without the LLM traffic nothing is claimed; without the
// shell the connection starts still couple; NAT, shared hosts, dual-stack
// hosts and proxies that hide the LLM connection all break the per-host
// view.
package coupling
