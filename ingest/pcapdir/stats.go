package pcapdir

import (
	"fmt"

	"github.com/aegis-nsm/aegis/ingest/capture"
)

// Stats are a Source's counters since New. They are a snapshot: the
// Source updates them after every batch and every poll.
type Stats struct {
	// Decode counts the packet records read, by what became of them:
	// Decoded, or skipped by reason (TruncatedHeader, NotIP, BadHeader,
	// UnknownLinkType, TruncatedRecord for a half-written last record
	// still there when a file was complete, BadRecord), plus Files opened
	// (a reopened file counts again) and FilesSkipped (not a capture,
	// unsupported link type, unreadable).
	Decode capture.Stats
	// Packets is the number of packets handed to the callback; Batches
	// the number of callback calls.
	Packets, Batches uint64
	// Bytes is the number of bytes of whole records read (record headers
	// included).
	Bytes uint64
	// FilesDone counts files read to their end and closed.
	FilesDone uint64
	// FilesReopened counts closed files opened again because they grew.
	FilesReopened uint64
	// FilesLost counts files the ring deleted (or rewrote in place)
	// before they were read to their end. PacketsLost is the packets
	// they held where they could be counted, LostUncounted the number of
	// lost files whose packet count is unknown, and BytesLost the bytes
	// of all of them that were never read.
	FilesLost, PacketsLost, LostUncounted, BytesLost uint64
	// Rewritten counts files truncated and rewritten in place while open
	// (tcpdump -C -W reusing a ring slot); each is also a lost file.
	Rewritten uint64
	// Late counts packets delivered with a timestamp before the packet
	// clock: written by a writer the merge had stopped waiting for
	// (Config.MergeWait), or in a file that appeared late.
	Late uint64
	// PartialWaits counts the times reading stopped at a half-written
	// record and waited for its end.
	PartialWaits uint64
	// Clock is the packet clock: the latest packet timestamp delivered,
	// in nanoseconds since the Unix epoch (0 before the first packet).
	Clock int64
}

// String formats the counters for a log line.
func (s Stats) String() string {
	return fmt.Sprintf("packets=%d batches=%d bytes=%d files_done=%d files_reopened=%d files_lost=%d packets_lost=%d lost_uncounted=%d bytes_lost=%d rewritten=%d late=%d partial_waits=%d clock=%d %v",
		s.Packets, s.Batches, s.Bytes, s.FilesDone, s.FilesReopened, s.FilesLost, s.PacketsLost, s.LostUncounted,
		s.BytesLost, s.Rewritten, s.Late, s.PartialWaits, s.Clock, s.Decode)
}

// Loss describes one file whose packets were (partly) lost: deleted by
// the ring before it was read, or rewritten in place while being read.
type Loss struct {
	// File is the file name relative to Config.Dir.
	File string
	// Packets is the number of packets lost, or -1 when unknown.
	Packets int64
	// Bytes is the number of bytes lost (the file size less what was
	// read), or -1 when unknown.
	Bytes int64
	// Reason says what happened.
	Reason string
}

// String formats the loss for a log line.
func (l Loss) String() string {
	return fmt.Sprintf("file %s: %s: packets=%d bytes=%d", l.File, l.Reason, l.Packets, l.Bytes)
}

// Position is where a Source is: enough to resume after a restart without
// delivering a packet twice or skipping one. Store it (it marshals to JSON)
// after the batch it follows has been processed, and pass it back in
// Config.Resume with Start "position".
type Position struct {
	// Clock is the packet clock at the position. Files not listed whose
	// first packet is not after it were read completely.
	Clock int64 `json:"clock"`
	// Files are the files being read at the position (several with more
	// than one writer), in time order of their first packets.
	Files []FilePosition `json:"files,omitempty"`
}

// FilePosition is one file's place in a Position.
type FilePosition struct {
	// Name is the file name relative to Config.Dir (informational: the
	// file is recognised by Dev, Ino and First, so a renamed file is
	// still found).
	Name string `json:"name"`
	// Dev and Ino identify the file on its file system.
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	// First is the timestamp of the file's first record (0 if it had
	// none yet): it tells a ring slot rewritten in place from the
	// capture that was there.
	First int64 `json:"first"`
	// Offset is the byte offset of the next record in a classic pcap
	// file, or the number of records read in a pcapng or gzip file.
	Offset int64 `json:"offset"`
}
