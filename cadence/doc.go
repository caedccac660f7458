// Package cadence turns the packet timing of one finished flow into
// features, a class and a model-route fingerprint. TLS and SSH hide content;
// the rhythm of writes survives encryption, and it is set by physics that
// machines and people cannot easily change: how fast a model generates
// tokens, how fast a person types and reacts, how a TCP stack splits a
// write.
//
// # Input and output
//
// Analyze reads a flowtable.Flow (per direction the timestamps and payload
// sizes of the first payload packets, running gap statistics over all of
// them, totals; Orig is the client) and returns a Result: schemas.Cadence
// features, one of the classes below with a confidence in 0..1, reasons that
// name the deciding features, the handoff moment for handoffs, and a
// schemas.RouteMatch. The same flow always gives the same Result.
//
// # Building blocks
//
// Flush: packets of one direction closer than Config.FlushGap (2 ms) form
// one flush, i.e. one application write that TCP split into back-to-back
// segments. A 1,448-byte segment serialises in 12 µs at 1 Gb/s and 1.2 ms at
// 10 Mb/s, while models flush tokens 3 ms or more apart.
//
// Keystroke-sized: a write of at most Config.TinyMaxBytes (52 B). One
// encrypted keystroke is 36 B in SSH with chacha20-poly1305 or AES-GCM and
// up to 52 B with encrypt-then-MAC SHA-256; one character in a TLS 1.3
// record is about 23 B. In plaintext protocols a keystroke is 1-3 B, so the
// session analysis lowers the bound per side to its 10th-percentile write
// plus 16 B when that is smaller.
//
// Server run: the longest sequence of server flushes with no client write in
// between, except control-sized client records (<= 64 B) that come after at
// least 8 server flushes (HTTP/2 WINDOW_UPDATE and PING acks arrive after
// tens of KB; keystroke echo alternates one for one). Over UDP (QUIC) every
// control-sized client datagram is read as an acknowledgement.
//
// Session acts, per side: a typed keystroke is keystroke-sized, at least
// 35 ms after the side's previous write and not within 15 ms of the other
// side's last write (people neither type nor react faster; protocol clients
// answer in milliseconds), inside a burst of three or more keys at most
// 1.5 s apart. A command line is a single larger write (at most 1 KB) after
// both sides were silent for at least 0.5 s (the first silence starts at
// the connection's first packet). Keystroke-sized writes faster than a
// person are machine input; on the client they are treated as chaff of SSH
// keystroke-timing obfuscation (OpenSSH >= 9.5 sends them on a 20 ms grid)
// and, with the server's keystroke-sized replies, neither end a pause nor
// answer a command. The other side's writes before this side writes again
// are the answer: prompt (within 3 s), its first packet (a PTY echo has the
// command's size, give or take 16 B), its last packet (a prompt repeats),
// its content (more than one keystroke-sized packet).
//
// # Classes and the physics behind each rule
//
// llm_stream: a streamed completion. After one client request, the server
// sends a run of at least 8 small flushes (median <= 6 KB) lasting 0.4 s to
// 5 minutes (max output tokens at generation speed) whose median gap lies in
// the token range 3-400 ms (per-token flushing at hundreds of tokens/s down
// to Gemini's multi-KB bursts ~200-350 ms apart), at least 70% of gaps in
// range, p75/p25 of the gaps within 12x (a decoder is steady; event feeds
// are bursty), while the client only acknowledges. It is not command output
// (the request is keystroke-sized, or the run opens with a terminal echo of
// the request), not bulk (MSS-sized segments in equal flushes, or more than
// 300 KB/s: throughput-limited transfers fill the link, token streams carry
// tens of KB/s), not a timer (gaps constant to 3%: decoding jitters), not a
// push ticker or video (median gap above 400 ms), not UDP media (MTU-sized
// datagrams, or gaps on a frame clock with MAD under a quarter of the
// median), and not ping-pong (FTP, Redis, RPC or polling put client writes
// between server flushes, so their runs are a flush or two). Confidence
// starts at 0.55 and grows with the number of flushes, the share of gaps in
// range, a request of prompt size, a gap CV of 0.2 or more and sub-ms
// segment splits; a request under 256 B (a subscription), a missing request
// or quartiles spread over 5x lower it.
//
// agent_shell: an LLM agent driving a shell over a byte stream (TCP). At
// least Config.MinCommands (4) command lines, answered promptly (at least
// 60%) with output (not a lone keystroke-sized reply such as an
// authentication failure: a login gives a person up to three think-paused
// line writes), most of the side's later writes being such commands, and no
// typing phase. The pauses are model latency, time to first token plus the
// whole generated answer: irregular (pause CV >= 0.15; a fixed period is
// polling or beaconing), mostly under 30 s, and commands vary in size (80%
// at one size is a heartbeat). The answers must look like a shell: a PTY
// echo of the command, a repeated prompt ending multi-packet answers, or
// (when the IDS names no service) several writes per answer; otherwise it
// is a request/response service, unless the IDS says ssh, telnet, rlogin or
// rsh. Commands sent sooner after the previous output than a person could
// type them (0.3 s reaction plus 80 ms per character, 150 words per minute)
// raise the confidence: an agent pays for thinking, not for typing. When the
// responder issues the answered commands (a reverse shell) it needs one
// more.
//
// human_interactive (the important negative): keystroke-sized client writes
// in typing bursts at human spacing (inter-key gaps ~80-400 ms, irregular,
// roughly log-normal), echoed by the server, over a byte stream. Bursts of
// more than 200 keys without a 1.5 s pause, or keys at machine-regular
// spacing (CV < 0.1), are scripts. A session of keystroke-sized writes on
// the 20 ms obfuscation grid with few command lines is kept interactive at
// confidence 0.5.
//
// handoff: one session whose client side changes between typing and command
// lines. The acts (keystrokes K, commands C, in time order) are split where
// (K before + C after) - (C before + K after) is largest (or the mirror for
// agent_to_human); each side needs its own evidence (MinKeystrokes keys at
// >= 80% purity, MinCommands commands at >= 75% purity, the command phase
// answered and within model latency). The moment reported is the first act
// of the new phase (Handoff.At, RFC 3339 UTC, and its offset from the flow
// start).
//
// agent_exfil: a high-volume client-to-server transfer (at least 256 KiB and
// 4x the server's bytes) whose bulk (the run of large client writes holding
// most of the client's bytes) follows at least two answered command lines,
// from the client or from the responder of a reverse shell, and no typed
// phase; machine-regular chunk sizes (CV <= 0.35) and chunks paced with idle
// gaps raise the confidence. Without an agent phase in the flow the upload
// is other, even when machine-paced: a bandwidth-limited backup chunks
// exactly like the rate-limited staging of ATT&CK T1030, so that pattern is
// only named in the reasons.
//
// other: bulk transfer, video, beaconing, RPC, VoIP, push feeds, or too
// little payload. Its reasons say why each detection class did not fit.
//
// What one flow cannot show: an agent that opens a new connection per
// command (ssh host 'cmd') or per uploaded chunk leaves single-command or
// single-upload flows that look like any script. The strongest agent
// evidence couples flows of one host (a command starting right after one of
// the host's LLM streams ends); that is the correlation stage's job, and the
// features here (times, sizes, server run, session acts) are what it needs.
//
// Decision order: handoff, then agent_exfil, then the best-scoring of
// llm_stream, agent_shell and human_interactive; a detection needs
// Config.MinConfidence (0.5). Ports and protocol names are not evidence.
// The IDS service is a weak prior only: for agent_shell a remote-shell
// service adds 0.03 and waives the shell-structure test, a known non-shell
// service multiplies the confidence by 0.85 and does not accept multi-write
// answers as shell structure; for llm_stream a remote-shell service
// multiplies it by 0.7 (a token-paced run inside SSH is usually command
// output). The TLS server name only corroborates a route.
//
// # Model routes
//
// Profiles (profiles/default.yaml, embedded; a user file overrides by name)
// describe a route's in-stream flush gaps as a log-normal: from published
// mean and std, the mean is kept and the spread moment-matched but capped at
// MaxStreamSigma (published stds pool many streams, first-token gaps and
// stalls). Weak terms add flush size (per flush), gap quantisation (Claude
// 3.5 Haiku's ~45 ms), time to first token and stream length. The matcher
// bins the run's flush gaps (doubling from 1 ms) and ranks profiles by
// log-likelihood (at most 200 gaps counted as independent evidence). A
// route is named when its typicality score (exp of how much less likely the
// gaps are under it than its own draws, times the shape terms; 1 = typical)
// reaches Config.RouteMinScore and its log-likelihood beats the runner-up by
// Config.RouteMinEvidence (3, about 20:1). Otherwise the route is "unknown"
// (with the provider when all close routes share one). A TLS server name
// that exactly one close route lists breaks a near tie; a name no profile
// lists, on a flow with LLM cadence, is reported "unlisted" (self-hosted or
// proxied model); a name listed for another provider than the cadence's is
// reported in reasons. A name alone never makes an llm_stream.
//
// # Concurrency and ownership
//
// An Analyzer is immutable after NewAnalyzer and safe for concurrent use; it
// keeps per-call scratch buffers in a sync.Pool. Analyze never retains the
// Flow, and the Result it returns owns all its memory. Profiles are
// immutable and may be shared by several Analyzers.
package cadence
