package eve

import (
	"bytes"

	"github.com/aegis-nsm/aegis/ingest/flowctx"
	"github.com/aegis-nsm/aegis/ingest/logscan"
	"github.com/aegis-nsm/aegis/schemas"
)

// Kind says what a decoded line was.
type Kind uint8

// The kinds of line.
const (
	// KindBlank is an empty line: no event.
	KindBlank Kind = iota
	// KindFlow is a flow event: Result.Flow is set.
	KindFlow
	// KindContext is an event that adds context to a flow (tls, quic,
	// ssh, http, alert): Result.Context is set.
	KindContext
	// KindSkipped is an event of another type (alert, dns, netflow, ...),
	// recognised and not decoded: Result.EventType names it.
	KindSkipped
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindBlank:
		return "blank"
	case KindFlow:
		return "flow"
	case KindContext:
		return "context"
	case KindSkipped:
		return "skipped"
	}
	return "invalid"
}

// KindSNI is the old name of KindContext.
//
// Deprecated: use KindContext.
const KindSNI = KindContext

// ContextRecord is what Aegis takes from a tls, quic, ssh, http or alert
// event: the flow_id that joins it to the flow event and the fields of
// flowctx.Fields the event had:
//
//   - tls: SNI (tls.sni), TLSVersion (tls.version, "TLS 1.3"), JA3 and
//     JA3S (tls.ja3.hash, tls.ja3s.hash), JA4 (tls.ja4);
//   - quic: SNI (quic.sni), JA3, JA3S, JA4 (quic.ja3.hash, ...);
//   - ssh: SSHClient and SSHServer (ssh.client.software_version,
//     ssh.server.software_version);
//   - http: HTTPHost (http.hostname), HTTPUserAgent
//     (http.http_user_agent), HTTPURL (http.url);
//   - alert: one Alerts entry (alert.gid, signature_id, rev, signature,
//     category, severity, action; the event timestamp as its Time), plus
//     any of the above from the tls, http, ssh or quic object Suricata
//     adds to alerts.
type ContextRecord struct {
	FlowID uint64 // 0 when the event had none
	Line   int64  // line number of the event
	flowctx.Fields
}

// SNIRecord is the old name of ContextRecord.
//
// Deprecated: use ContextRecord.
type SNIRecord = ContextRecord

// Result is one decoded line. Only the member its Kind names is set. The
// strings and slices in it are the caller's to keep: they do not alias the
// line.
type Result struct {
	Kind      Kind            // what the line was
	Flow      schemas.IDSFlow // KindFlow
	Context   ContextRecord   // KindContext
	EventType string          // event_type of any event
}

// Decoder decodes Suricata EVE JSON, one line (one event) at a time, and
// counts what it saw. It is cheap; use one per file, so line numbers in
// errors and in IDSFlow.Line are right. A Decoder is not safe for
// concurrent use.
type Decoder struct {
	file  string
	cfg   Config
	line  int64
	stats Stats

	intern  logscan.Interner
	js      logscan.JSONScanner
	ev      event
	scratch []byte
	utf     []byte          // UTF-8 repair
	badUTF8 bool            // the event had invalid UTF-8 (repaired)
	cidBuf  []byte          // a computed community_id
	fl      schemas.IDSFlow // the flow event decoded last, unless out is elsewhere
	ctxRec  ContextRecord   // the context record decoded last

	// out is where a flow event is decoded: &fl, or, in the readers, the
	// slot of the collected flows it goes to (so it is written once, not
	// built here and copied).
	out *schemas.IDSFlow
	// arena, when set (by the readers), holds the strings the records
	// keep: one allocation per block of them, not one per string.
	arena *logscan.Strings

	// A run of events of one type is counted in evRun and added to
	// stats.Events when the type changes or Stats is called: two map
	// operations a line were a cost of their own.
	evType string // the event type counted last ("" for none)
	evKey  string // the stats.Events key it was counted under
	evRun  int64  // events of evType since, not yet in stats.Events
}

// NewDecoder returns a Decoder for the file named file (the name only
// labels errors and IDSFlow.File; the Decoder does no I/O). It returns an
// error when cfg does not validate.
func NewDecoder(file string, cfg Config) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newDecoder(file, cfg.withDefaults()), nil
}

// newDecoder is NewDecoder for a cfg that is valid and has its defaults.
func newDecoder(file string, cfg Config) *Decoder {
	d := &Decoder{file: file, cfg: cfg}
	d.out = &d.fl
	return d
}

// File returns the file name the Decoder was made for.
func (d *Decoder) File() string { return d.file }

// Line returns the number of the line decoded last (0 before the first).
func (d *Decoder) Line() int64 { return d.line }

// SetLine sets the line count, so that the next Decode call is line n+1
// (for a follower resuming in the middle of a file).
func (d *Decoder) SetLine(n int64) { d.line = n }

// Stats returns a snapshot of the counters so far.
func (d *Decoder) Stats() Stats {
	d.flushEvents()
	return d.stats.clone()
}

// countEvent counts one event of type t in Stats.Events.
func (d *Decoder) countEvent(t string) {
	if t == d.evType && d.evKey != "" {
		d.evRun++
		return
	}
	d.flushEvents()
	d.evType, d.evKey = t, d.stats.countEvent(t)
}

// flushEvents adds the pending run of events to stats.Events.
func (d *Decoder) flushEvents() {
	if d.evRun > 0 {
		d.stats.Events[d.evKey] += d.evRun
		d.evRun = 0
	}
}

// Decode decodes one line. The line may end in "\n" or "\r\n"; it is only
// read during the call, so the caller may reuse its buffer. A malformed
// line returns a *LineError (naming the file, line and field) and a Result
// of KindBlank; the Decoder stays usable and the next line is unaffected.
func (d *Decoder) Decode(line []byte) (Result, error) {
	kind, eventType, err := d.decodeLine(line)
	if err != nil {
		return Result{Kind: KindBlank}, err
	}
	switch kind {
	case KindFlow:
		return Result{Kind: KindFlow, Flow: *d.out, EventType: eventType}, nil
	case KindContext:
		return Result{Kind: KindContext, Context: d.ctxRec, EventType: eventType}, nil
	}
	return Result{Kind: kind, EventType: eventType}, nil
}

// decodeLine is Decode without building a Result (a large struct, copied
// at every return): a flow event is left in *d.out and a context record in
// d.ctxRec, until the next line. It returns the kind and event type.
func (d *Decoder) decodeLine(line []byte) (Kind, string, *LineError) {
	d.line++
	d.stats.Lines++
	d.badUTF8 = false
	line = logscan.TrimLine(line, d.line == 1)
	if len(bytes.TrimSpace(line)) == 0 {
		d.stats.Blank++
		return KindBlank, "", nil
	}
	kind, eventType, err := d.decode(line)
	if err != nil {
		d.stats.countBad(err.Reason)
		return KindBlank, "", err
	}
	if d.badUTF8 {
		d.stats.InvalidUTF8++
	}
	d.countEvent(eventType)
	switch kind {
	case KindFlow:
		d.stats.Flows++
	case KindContext:
		d.stats.Context++
		d.stats.Alerts += int64(len(d.ctxRec.Alerts))
	case KindSkipped:
		d.stats.Skipped++
	}
	return kind, eventType, nil
}

// countLineTooLong counts a line the reader skipped for its length.
func (d *Decoder) countLineTooLong() {
	d.line++
	d.stats.Lines++
	d.stats.countBad(ReasonLineTooLong)
}
