// Package sink defines the one contract every output of Aegis implements
// (Kafka, JSONL files, stdout, webhooks) and the message that crosses it.
//
// Delivery is at least once: a Message's Done callback is called exactly
// once, with nil when the sink has made the record durable (Kafka acked it
// with acks=all, the file write and fsync returned, the webhook answered
// 2xx) or with the error that made the sink give up on it (after retries and,
// for webhooks, after the dead-letter file took it). The pipeline turns Done
// into acknowledgements of the log lines that produced the record, so a
// reader's checkpoint never runs ahead of what the sinks hold.
//
// Back-pressure: Write blocks while the sink is full (bounded in-flight
// memory) and returns only when the message was accepted or ctx ended. A
// sink that is down makes Write block; it never drops a message silently.
package sink

import (
	"context"
	"errors"

	"github.com/aegis-nsm/aegis/schemas"
)

// Kind is the record kind a message carries; sinks route by it (one Kafka
// topic per kind, one file per kind, ...).
type Kind string

// The record kinds Aegis publishes.
const (
	KindDetection Kind = "detection" // schemas.Record from the flow pipeline
	KindVerdict   Kind = "verdict"   // LLM intent chain explaining detections
	KindCoupling  Kind = "coupling"  // stream-to-action coupling finding
	KindCampaign  Kind = "campaign"  // cross-sensor campaign from aegis correlate
)

// Kinds lists every record kind in a fixed order.
var Kinds = []Kind{KindDetection, KindVerdict, KindCoupling, KindCampaign}

// Message is one record handed to a sink. Sinks must not modify Value or
// Record; both may be shared by several sinks at once.
type Message struct {
	// Kind selects topic / file.
	Kind Kind
	// Value is the record's native JSON encoding: one object, no trailing
	// newline.
	Value []byte
	// Record is the detection record Value encodes, for sinks that write
	// another format (Zeek TSV, EVE); nil for kinds other than detection.
	Record *schemas.Record
	// SourceIP is the originator address of the flow (or the host a
	// verdict, coupling or campaign is about): the default partition key.
	SourceIP string
	// CommunityID is the flow's Community ID when there is one: the
	// optional partition key.
	CommunityID string
	// Severity is the record's severity name ("none" ... "critical"); the
	// pipeline routes on it.
	Severity string
	// ID is the record's deterministic id, for logs and dead letters.
	ID string
	// Done is called exactly once when the sink has made the message
	// durable (nil) or gave up on it (the error). May be nil.
	Done func(error)
}

// Finish calls m.Done with err when it is set.
func (m *Message) Finish(err error) {
	if m.Done != nil {
		m.Done(err)
	}
}

// Sink is an output. Implementations are safe for concurrent use by several
// goroutines.
type Sink interface {
	// Name identifies the sink in logs and metrics ("kafka", "jsonl:/path", ...).
	Name() string
	// Write hands m to the sink. It blocks while the sink is full and
	// returns nil once m is accepted; Done reports the outcome later. It
	// returns ctx.Err() when ctx ends first (m was not accepted; Done is not
	// called) and ErrClosed after Close.
	Write(ctx context.Context, m Message) error
	// Flush blocks until Done has been called for every message accepted
	// before it, or ctx ends.
	Flush(ctx context.Context) error
	// Close flushes what it can, releases resources and makes further
	// Writes fail with ErrClosed. Messages still pending get Done(ErrClosed).
	Close() error
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sink: closed")

// PermanentError marks a failure retrying cannot fix (topic missing, not
// authorised, bad URL): the sink stops and the message says what to fix.
type PermanentError struct {
	Sink string
	Err  error
	Fix  string // what the operator should change
}

func (e *PermanentError) Error() string {
	msg := e.Sink + ": " + e.Err.Error()
	if e.Fix != "" {
		msg += " (" + e.Fix + ")"
	}
	return msg
}

func (e *PermanentError) Unwrap() error { return e.Err }
