package schemas

// Cadence is the timing evidence of one flow: per-direction features over
// payload-bearing packets plus the exchange features that relate the two
// directions. Times are in milliseconds (suffix _ms) or seconds (_s).
type Cadence struct {
	DurationS float64           `json:"duration_s"`
	Client    DirectionFeatures `json:"client"`
	Server    DirectionFeatures `json:"server"`
	Exchange  ExchangeFeatures  `json:"exchange"`
	Session   SessionFeatures   `json:"session"`
}

// DirectionFeatures describes one direction's payload-bearing packets.
type DirectionFeatures struct {
	Packets int64 `json:"packets"` // payload-bearing packets
	Bytes   int64 `json:"bytes"`   // payload bytes
	// IAT summarises the gaps between consecutive payload packets.
	IAT IATStats `json:"iat"`
	// GapEntropy is the normalised (0..1) entropy of the gaps binned in
	// log2 steps from 0.1 ms to 100 s; Regularity is 1 - GapEntropy
	// (1 = perfectly regular). Both are 0 with fewer than two gaps.
	GapEntropy float64 `json:"gap_entropy"`
	Regularity float64 `json:"regularity"`
	// SubMsShare is the share of gaps under 1 ms (one flush split into
	// back-to-back segments).
	SubMsShare float64 `json:"sub_ms_share"`
	// Flushes groups packets closer than the flush threshold into one
	// application write; FlushIAT summarises the gaps between flushes.
	Flushes     int64    `json:"flushes"`
	FlushesPerS float64  `json:"flushes_per_s"`
	FlushIAT    IATStats `json:"flush_iat"`
	// Sizes.
	SizeMean      float64 `json:"size_mean"`
	SizeMedian    float64 `json:"size_median"`
	SizeModeShare float64 `json:"size_mode_share"` // share of packets at the most common size
	// TinyShare is the share of packets no larger than a keystroke-sized
	// record (for SSH and TLS a single encrypted keystroke).
	TinyShare float64 `json:"tiny_share"`
	// TinyIAT summarises gaps between consecutive keystroke-sized flushes
	// (the typing rhythm when this is a client).
	TinyIAT IATStats `json:"tiny_iat"`
}

// IATStats summarises a set of gaps, in milliseconds. Quantiles and the MAD
// (median absolute deviation, unscaled) come from the timing detail; when the
// flow table trimmed the detail, N, mean, std, CV, min and max of the packet
// gaps (DirectionFeatures.IAT) come from running statistics over every packet.
type IATStats struct {
	N        int64   `json:"n"`
	MeanMs   float64 `json:"mean_ms"`
	StdMs    float64 `json:"std_ms"`
	CV       float64 `json:"cv"`
	MedianMs float64 `json:"median_ms"`
	MADMs    float64 `json:"mad_ms"`
	P10Ms    float64 `json:"p10_ms"`
	P25Ms    float64 `json:"p25_ms"`
	P75Ms    float64 `json:"p75_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MinMs    float64 `json:"min_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// ExchangeFeatures relate the client's and the server's packets.
type ExchangeFeatures struct {
	// Turns counts changes of the sending side among payload flushes.
	Turns int64 `json:"turns"`
	// TTFBMs is the time from the last client flush before the longest
	// server run to that run's first packet (time to first token for LLM
	// streams).
	TTFBMs float64 `json:"ttfb_ms"`
	// The longest run of server flushes with no client payload in between
	// (sparse control-sized client records such as HTTP/2 WINDOW_UPDATE do
	// not break a run): its duration, packets and flushes.
	ServerRunS       float64 `json:"server_run_s"`
	ServerRunPackets int64   `json:"server_run_packets"`
	ServerRunFlushes int64   `json:"server_run_flushes"`
	// RequestBytes is the client payload of the turn right before the
	// longest server run (the request that started it).
	RequestBytes int64 `json:"request_bytes"`
	// BytesRatio is server payload bytes over client payload bytes (0 when
	// the client sent none).
	BytesRatio float64 `json:"bytes_ratio"`
}

// SessionFeatures describe the interactive structure of the commanding side
// (the client, or the responder of a reverse shell): typed keystrokes,
// command lines after think pauses, and an upload phase.
type SessionFeatures struct {
	// CommandSide is "client", "server" (commands flow from the responder,
	// as in a reverse shell) or "none".
	CommandSide string `json:"command_side"`
	// Keystrokes counts keystroke-sized writes inside typing bursts (at
	// least three keys at human spacing); EchoShare is the share the other
	// side echoed with a keystroke-sized write.
	Keystrokes int64   `json:"keystrokes"`
	EchoShare  float64 `json:"echo_share"`
	// FastTiny counts keystroke-sized writes closer together than a person
	// types (scripted input or SSH keystroke-timing obfuscation).
	FastTiny int64 `json:"fast_tiny"`
	// Commands counts line-sized single writes after a silence of both
	// sides of at least the think minimum; AnsweredShare is the share the
	// other side answered promptly.
	Commands      int64   `json:"commands"`
	AnsweredShare float64 `json:"answered_share"`
	// PauseMedianMs and PauseCV summarise the silences before commands
	// (model latency for an agent).
	PauseMedianMs float64 `json:"pause_median_ms"`
	PauseCV       float64 `json:"pause_cv"`
	// FastCommandShare is the share of commands sent sooner after the
	// previous output than a person could have typed them.
	FastCommandShare float64 `json:"fast_command_share"`
	// Upload phase: client bytes from the first large write that starts the
	// bulk of the client's data, its chunks (flushes), their size and gap
	// CV, and when it started (seconds from flow start).
	UploadBytes   int64   `json:"upload_bytes"`
	UploadChunks  int64   `json:"upload_chunks"`
	UploadSizeCV  float64 `json:"upload_size_cv"`
	UploadGapCV   float64 `json:"upload_gap_cv"`
	UploadOffsetS float64 `json:"upload_offset_s"`
}
