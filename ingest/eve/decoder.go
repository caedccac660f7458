package eve

import (
	"bytes"

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
	// KindSNI is a tls or quic event: Result.SNI is set.
	KindSNI
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
	case KindSNI:
		return "sni"
	case KindSkipped:
		return "skipped"
	}
	return "invalid"
}

// SNIRecord is what Aegis takes from a tls or quic event: the flow_id that
// joins it to the flow event and the server name the client asked for.
type SNIRecord struct {
	FlowID uint64 // 0 when the event had none
	SNI    string // tls.sni or quic.sni; "" when the ClientHello had none
	Line   int64  // line number of the event
}

// Result is one decoded line. Only the member its Kind names is set. The
// strings in it are the caller's to keep: they do not alias the line.
type Result struct {
	Kind      Kind            // what the line was
	Flow      schemas.IDSFlow // KindFlow
	SNI       SNIRecord       // KindSNI
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
	return &Decoder{file: file, cfg: cfg}
}

// File returns the file name the Decoder was made for.
func (d *Decoder) File() string { return d.file }

// Line returns the number of the line decoded last (0 before the first).
func (d *Decoder) Line() int64 { return d.line }

// SetLine sets the line count, so that the next Decode call is line n+1
// (for a follower resuming in the middle of a file).
func (d *Decoder) SetLine(n int64) { d.line = n }

// Stats returns a snapshot of the counters so far.
func (d *Decoder) Stats() Stats { return d.stats.clone() }

// Decode decodes one line. The line may end in "\n" or "\r\n"; it is only
// read during the call, so the caller may reuse its buffer. A malformed
// line returns a *LineError (naming the file, line and field) and a Result
// of KindBlank; the Decoder stays usable and the next line is unaffected.
func (d *Decoder) Decode(line []byte) (Result, error) {
	d.line++
	d.stats.Lines++
	line = logscan.TrimLine(line, d.line == 1)
	if len(bytes.TrimSpace(line)) == 0 {
		d.stats.Blank++
		return Result{Kind: KindBlank}, nil
	}
	res, err := d.decode(line)
	if err != nil {
		d.stats.countBad(err.Reason)
		return Result{Kind: KindBlank}, err
	}
	d.stats.countEvent(res.EventType)
	switch res.Kind {
	case KindFlow:
		d.stats.Flows++
	case KindSNI:
		d.stats.SNI++
	case KindSkipped:
		d.stats.Skipped++
	}
	return res, nil
}

// countLineTooLong counts a line the reader skipped for its length.
func (d *Decoder) countLineTooLong() {
	d.line++
	d.stats.Lines++
	d.stats.countBad(ReasonLineTooLong)
}
