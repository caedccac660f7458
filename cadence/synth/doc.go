// Package synth generates labelled network traffic for measuring Aegis's
// detection quality: a pcap, the Zeek conn.log and ssl.log a sensor would
// have written for it, and a truth file that labels every flow with its
// class (schemas.ClassLLMStream, ClassAgentShell, ClassHandoff,
// ClassAgentExfil, ClassHumanInteractive, ClassOther), the scenario that
// produced it and, for LLM streams, the provider/model route.
//
// # What it models
//
// The generator is a model of the physics of packet timing, not a replay of
// real traffic. Each flow comes from a small per-connection TCP simulation
// as a sensor near the client sees it: three-way handshake, MSS options
// (1460/1448 with timestamps, 1380, 1400), segmentation of application
// writes, pacing at the path's bottleneck rate, a congestion window with slow
// start (and slow start after idle, per server), receive-window limits,
// delayed ACKs (Linux quick-ack, pingpong and the one-full-segment rule; every
// second segment with a 100-200 ms timer on Windows and macOS), occasional
// losses upstream or downstream of the sensor with duplicate ACKs, SACK and
// fast or timeout retransmission, FIN or RST teardown. RTT is 5-150 ms per
// WAN flow (sub-millisecond on the LAN). Above TCP sit TLS 1.3 records (22
// bytes of overhead each, real ClientHello/ServerHello bytes with the SNI),
// SSH binary packets sized per cipher (chacha20-poly1305, AES-GCM, EtM MACs;
// real banners and KEXINIT), telnet, plaintext HTTP, DNS, RTP and others.
// Application behaviour is drawn per flow from ranges (log-normal and gamma
// jitter, heavy tails, stalls), so no class has a fixed size, port or gap.
//
// Scenarios (see Scenarios for the full list and descriptions):
//
//   - llm_stream: 12 routes seeded from published per-route cadence (Whisper
//     Leak normalisation files: ~7 ms Amazon Nova, ~9 ms DeepSeek-R1 with a
//     huge spread, 16-17 ms Grok-2 and Llama-3.1-8B via OpenRouter, ~21 ms
//     o1-mini after a long reasoning delay, 39-46 ms Azure GPT-4o(-mini) with
//     content-filter batching, ~116 ms Claude 3.5 Haiku at multiples of ~45
//     ms, 215-246 ms Gemini 2.0 Flash(-Lite) with multi-KB bursts) plus a
//     local Ollama on the LAN; chat and agent-loop sessions, several turns
//     per keep-alive connection, split and merged records, server stalls,
//     gateways with unlisted names.
//   - human_interactive: SSH and telnet typed by people (log-normal
//     inter-key gaps, word pauses, typos, tab completion, editors with
//     auto-repeat, OpenSSH keystroke-timing obfuscation with chaff).
//   - agent_shell: whole command lines after model-latency pauses over SSH,
//     exec-per-command SSH, bind and reverse shells, telnet; when an agent's
//     LLM connection is seen, each command leaves 20-800 ms after one of its
//     streams ends (the same episode number in the truth file).
//   - handoff: one session that changes from a person to an agent or back;
//     the truth gives the moment.
//   - agent_exfil: machine-regular uploads inside or right after an agent
//     session (chunked HTTPS, one connection per chunk, scp -r, a
//     ControlMaster channel, a reverse shell).
//   - other: hard negatives, each its own scenario: bulk downloads, scp,
//     backup uploads (the negative closest to exfiltration), beacons,
//     long polls, video, VoIP, Redis/gRPC/database polling, scripted FTP,
//     WebSocket/SSE push (the negative closest to an LLM stream), remote
//     desktop, DNS, web browsing, Ansible.
//
// # What it cannot show
//
// Real serving stacks, middleboxes and networks have structure no model
// has: provider batching and padding change over time, proxies re-chunk
// streams, real people and real agents vary beyond these ranges, Wi-Fi and
// cellular jitter, NIC offloads (GRO/TSO) on the capture host, QUIC/HTTP-3
// (not generated), ICMP, IP fragments and tunnels. Payload bytes are zero
// except protocol headers and plaintext protocols. TLS is always 1.3, so
// ssl.log never lists certificates. A detector tuned only on this data will
// learn the model's assumptions: use it for regression and ranges, and judge
// on real captures.
//
// # Output
//
// Generate writes to io.Writers (Outputs); WriteDir writes traffic.pcap,
// conn.log, ssl.log and truth.jsonl into a directory. The pcap is Ethernet
// (some frames 802.1Q-tagged), nanosecond resolution by default, globally
// time-ordered. conn.log and ssl.log use Zeek's default ASCII (TSV) layout;
// conn.log rows are written when a flow's last packet has been written
// (ordered by flow end, as Zeek writes at connection end), ssl.log rows at
// the flow's first packet; pkts and ip_bytes count exactly the packets in the
// pcap, orig_bytes/resp_bytes follow the sequence numbers, and duration
// leaves out the final ACK of a teardown, as Zeek does. #open and #close are
// in UTC. The truth file has one Truth (JSON) per flow, in conn.log order.
//
// The same Config gives byte-identical files: all randomness comes from the
// seed, each episode has its own generator, and nothing reads the clock or
// iterates a map. Generation is single-threaded; Generate holds no global
// state and may run concurrently with itself on different Outputs. Memory is
// bounded by the flows that overlap in time (episodes are generated when the
// merge reaches their start), so TargetPackets can ask for files of millions
// of packets.
//
// Use:
//
//	cfg := synth.DefaultConfig()   // or TestdataConfig(), BenchmarkConfig(2_000_000)
//	cfg.Seed = 42
//	sum, err := synth.WriteDir(cfg, "out")
//
// testdata/synth holds the TestdataConfig output; TestGolden keeps it in step
// with the generator (go test ./cadence/synth -run TestGolden -update).
package synth
