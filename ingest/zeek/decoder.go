package zeek

import (
	"bytes"

	"github.com/aegis-nsm/aegis/ingest/logscan"
	"github.com/aegis-nsm/aegis/schemas"
)

// Kind says what a decoded line was.
type Kind uint8

// The kinds of line.
const (
	// KindMeta is a header (#separator, #fields, #close, ...), a comment
	// (btest's "### ..." line) or a blank line: no record.
	KindMeta Kind = iota
	// KindConn is a conn record: Result.Flow is set.
	KindConn
	// KindSSL is an ssl record: Result.SSL is set.
	KindSSL
	// KindSkipped is a record of another log path (dns, http, ...),
	// recognised and not decoded: Result.Path names it.
	KindSkipped
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindMeta:
		return "meta"
	case KindConn:
		return "conn"
	case KindSSL:
		return "ssl"
	case KindSkipped:
		return "skipped"
	}
	return "invalid"
}

// SSLRecord is what Aegis takes from an ssl.log record: the uid that joins
// it to the conn record, the TLS server name (SNI), the version and the
// JA3/JA3S/JA4 fingerprints when their scripts add those columns. Each
// string is "" when the column is absent or unset.
type SSLRecord struct {
	UID        string
	ServerName string // no SNI in the ClientHello: ""
	Version    string // "TLSv12", "TLSv13", ...
	JA3, JA3S  string // salesforce/ja3 columns
	JA4        string // foxio/ja4 column
	Line       int64  // line number of the record
}

// Result is one decoded line. Only the member its Kind names is set. The
// strings in it are the caller's to keep: they do not alias the line.
type Result struct {
	Kind Kind            // what the line was
	Flow schemas.IDSFlow // KindConn
	SSL  SSLRecord       // KindSSL
	Path string          // log path of a KindConn, KindSSL or KindSkipped record
}

// Decoder decodes one Zeek log, line by line, in the order of the file:
// the ASCII (TSV) format driven by its header, and JSON lines (one object
// per line, as LogAscii::use_json writes them). It keeps the state a file
// carries (the current header block and the line number), so use one
// Decoder per file. A Decoder is not safe for concurrent use.
type Decoder struct {
	file  string
	cfg   Config
	line  int64
	hdr   header
	stats Stats

	intern  logscan.Interner
	js      logscan.JSONScanner
	scratch []byte          // unescaping, reused between lines
	utf     []byte          // UTF-8 repair, reused between lines
	keep    []byte          // strings kept from one record, converted once
	strs    [numKept][]byte // the record's uid, community_id, ssl strings
	badUTF8 bool            // the record had invalid UTF-8 (repaired)
	cf      connFields
	tsvVal  val       // the TSV field being applied
	sslRec  SSLRecord // the ssl record of the line decoded last
	tabs    []uint64  // the separators of the TSV line, one bit a byte
	ends    []int     // where the fields of the TSV line end

	// out is where a conn record is decoded: &own, or, in the readers, the
	// slot of the collected flows it goes to (so it is written once, not
	// built here and copied).
	out *schemas.IDSFlow
	own schemas.IDSFlow
	// arena, when set (by the readers), holds the strings the records
	// keep: one allocation per block of them, not one per record.
	arena *logscan.Strings
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
	d.out = &d.own
	d.hdr.reset()
	return d
}

// File returns the file name the Decoder was made for.
func (d *Decoder) File() string { return d.file }

// Line returns the number of the line decoded last (0 before the first).
func (d *Decoder) Line() int64 { return d.line }

// SetLine sets the line count, so that the next Decode call is line n+1.
// A follower that resumes in the middle of a file re-feeds the header block
// (Decode of each header line) and then calls SetLine with the number of
// the line before its resume offset.
func (d *Decoder) SetLine(n int64) { d.line = n }

// Path returns the #path of the current header block ("" before one).
func (d *Decoder) Path() string { return d.hdr.path }

// Fields returns the column names of the current header block. The slice
// belongs to the Decoder; do not modify it.
func (d *Decoder) Fields() []string { return d.hdr.fields }

// Closed reports whether the current header block ended with a #close line:
// Zeek finished the file (at rotation or shutdown). A follower can take it
// as the sign that no more records will be appended to this block; a new
// #separator line (Zeek restarted and reopened the file) clears it.
func (d *Decoder) Closed() bool { return d.hdr.closed }

// Stats returns a snapshot of the counters so far.
func (d *Decoder) Stats() Stats { return d.stats.clone() }

// Decode decodes one line. The line may end in "\n" or "\r\n"; it is only
// read during the call, so the caller may reuse its buffer. A malformed
// line returns a *LineError (naming the file, line and field) and a Result
// of KindMeta; the Decoder stays usable and the next line is unaffected.
func (d *Decoder) Decode(line []byte) (Result, error) {
	kind, path, err := d.decode(line)
	if err != nil {
		return Result{Kind: KindMeta}, err
	}
	switch kind {
	case KindConn:
		return Result{Kind: KindConn, Flow: *d.cf.flow, Path: path}, nil
	case KindSSL:
		return Result{Kind: KindSSL, SSL: d.sslRec, Path: path}, nil
	}
	return Result{Kind: kind, Path: path}, nil
}

// decode is Decode without building a Result (a large struct, copied at
// every return): a conn record is left in *d.cf.flow and an ssl record in
// d.sslRec, until the next line. It returns the kind and log path.
func (d *Decoder) decode(line []byte) (Kind, string, *LineError) {
	d.line++
	d.stats.Lines++
	d.badUTF8 = false
	line = logscan.TrimLine(line, d.line == 1)
	var (
		kind = KindMeta
		path string
		err  *LineError
	)
	switch {
	case len(line) == 0:
	case line[0] == '#':
		err = d.decodeMeta(line)
	case line[0] == '{' || (line[0] == ' ' && bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("{"))):
		kind, path, err = d.decodeJSON(line)
	default:
		kind, path, err = d.decodeTSV(line)
	}
	if err != nil {
		d.stats.countBad(err.Reason)
		return KindMeta, "", err
	}
	if d.badUTF8 {
		d.stats.InvalidUTF8++
		d.badUTF8 = false
	}
	switch kind {
	case KindMeta:
		d.stats.Meta++
	case KindConn:
		d.stats.Conn++
		if d.cf.flow.Interim {
			d.stats.Interim++
		}
	case KindSSL:
		d.stats.SSL++
	case KindSkipped:
		d.stats.countSkipped(path)
	}
	return kind, path, nil
}

// countLineTooLong counts a line the reader skipped for its length.
func (d *Decoder) countLineTooLong() {
	d.line++
	d.stats.Lines++
	d.stats.countBad(ReasonLineTooLong)
}

// interimPath reports whether path is one of Config.InterimPaths.
func (d *Decoder) interimPath(path string) bool {
	for _, p := range d.cfg.InterimPaths {
		if p == path {
			return true
		}
	}
	return false
}

// kindOfPath classifies a log path with the configured path lists.
func (d *Decoder) kindOfPath(path string) Kind {
	for _, p := range d.cfg.ConnPaths {
		if p == path {
			return KindConn
		}
	}
	if d.interimPath(path) {
		return KindConn
	}
	for _, p := range d.cfg.SSLPaths {
		if p == path {
			return KindSSL
		}
	}
	return KindSkipped
}
