// Package format turns sink messages into the bytes an output writes: the
// native JSON line ("json"), a Zeek ASCII log ("zeek", path aegis, joinable
// with conn.log on uid) and a Suricata EVE event ("eve", event_type aegis,
// keyed by flow_id and community_id) so each SOC pipeline can ingest Aegis
// records with the parser it already has.
//
// An Encoder is stateless: every method is safe for concurrent use, and
// Append writes only into the dst the caller passes (the caller owns dst and
// the returned slice, which aliases dst when it had room). Encoders never
// modify the Message, its Value or its Record.
//
// Framing: a file starts with Header, holds any number of Append outputs
// (each one whole line ending in "\n") and ends with Footer. Header and
// Footer are empty for json and eve; for zeek they are the "#..." meta
// lines, and #open/#close carry the encoder's clock (Options.Now).
package format

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
)

// Encoder turns messages into lines of one output format. Implementations
// are safe for concurrent use.
type Encoder interface {
	// Name is the format's name ("json", "zeek", "eve").
	Name() string
	// Append appends the encoding of m (one or more whole lines, each
	// ending in "\n") to dst and returns the extended slice. It only reads
	// m. When the format cannot carry m (a zeek encoder given a message
	// without a Record), it returns dst unchanged and an error wrapping
	// ErrSkipped; other errors mean m is malformed (an unparseable
	// timestamp, Value that is not JSON).
	Append(dst []byte, m *sink.Message) ([]byte, error)
	// Accepts reports whether messages of kind k can be encoded at all;
	// a writer need not open an output for a kind its encoder never takes.
	Accepts(k sink.Kind) bool
	// Header returns the bytes that start every file (nil when none). The
	// slice is new on each call and belongs to the caller.
	Header() []byte
	// Footer returns the bytes that end every file (nil when none). The
	// slice is new on each call and belongs to the caller.
	Footer() []byte
}

// ErrSkipped is wrapped by Append's error when the format cannot carry the
// message (it is not malformed). A sink counts it and reports the message
// done: the output by design does not hold that kind.
var ErrSkipped = errors.New("format: message kind not carried by this format")

// Options tune the encoders. The zero value means the defaults.
type Options struct {
	// Now is the clock of the zeek #open/#close lines and of eve events
	// for non-detection messages whose Value has no timestamp. Default
	// time.Now. Tests set a fixed clock for byte-stable output.
	Now func() time.Time
	// ZeekPath is the #path of the zeek format. Default "aegis".
	ZeekPath string
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ZeekPath == "" {
		o.ZeekPath = DefaultZeekPath
	}
	return o
}

// DefaultZeekPath is the #path (and usual file name, aegis.log) of the zeek
// format.
const DefaultZeekPath = "aegis"

// The format names New accepts.
const (
	JSON = "json"
	Zeek = "zeek"
	EVE  = "eve"
)

// Names lists the format names New accepts.
func Names() []string { return []string{JSON, Zeek, EVE} }

// Valid reports whether name is a format New accepts.
func Valid(name string) bool { return slices.Contains(Names(), name) }

// New returns the encoder of the named format with default Options.
func New(name string) (Encoder, error) { return NewWithOptions(name, Options{}) }

// NewWithOptions returns the encoder of the named format.
func NewWithOptions(name string, o Options) (Encoder, error) {
	o = o.withDefaults()
	switch name {
	case JSON:
		return jsonEncoder{}, nil
	case Zeek:
		for i := 0; i < len(o.ZeekPath); i++ {
			if c := o.ZeekPath[i]; c <= ' ' || c == 0x7f || c == '\\' {
				return nil, fmt.Errorf("format: zeek path %q: must not contain spaces, control characters or backslashes", o.ZeekPath)
			}
		}
		return zeekEncoder{opts: o}, nil
	case EVE:
		return eveEncoder{opts: o}, nil
	}
	return nil, fmt.Errorf("format: unknown format %q (known: %v)", name, Names())
}
