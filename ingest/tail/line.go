package tail

import "fmt"

// FileID identifies one file generation: the device and inode it lives on
// and a fingerprint of its first bytes (after any "#" header lines), so
// that a reused inode or a file truncated and rewritten gets a new
// identity.
type FileID struct {
	Dev         uint64 `json:"dev"`
	Inode       uint64 `json:"ino"`
	Fingerprint uint64 `json:"fingerprint"`
}

// String formats id as dev:inode:fingerprint.
func (id FileID) String() string {
	return fmt.Sprintf("%d:%d:%016x", id.Dev, id.Inode, id.Fingerprint)
}

// Line is one complete line of a followed file.
//
// Text is the line without its "\n" (a "\r" before it is kept). It is owned
// by the receiver: the Follower never writes to it again, and it may be
// retained.
//
// Every Line received from Lines must be acknowledged exactly once with Ack
// (or Ack(l.Token())) when the consumer is done with it: when every
// record decoded from it has been delivered by the sink, or at once when
// it produced no record (comments, headers, bad or skipped lines). Acks may
// come in any order and from any goroutine.
type Line struct {
	// File is the path the line was read through (the name at the time of
	// reading; a rotated file keeps its last known name).
	File string
	// ID is the identity of the file generation.
	ID FileID
	// Num is the 1-based line number within the file generation.
	Num int64
	// Start and End are the byte offsets of the line: [Start, End)
	// including its "\n".
	Start, End int64
	// Text is the line's content, without "\n". Owned by the receiver.
	Text []byte

	tok Token
}

// Token returns the small acknowledgement handle of l, for consumers that
// do not want to keep the whole Line until it is acknowledged.
func (l Line) Token() Token { return l.tok }

// Token acknowledges one Line; see Follower.Ack. The zero Token is
// ignored by Ack.
type Token struct {
	t   *tracker
	num int64
}
