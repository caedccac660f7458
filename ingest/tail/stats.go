package tail

import "sync/atomic"

// Stats are a Follower's counters since New.
type Stats struct {
	Lines              int64 // lines delivered on Lines
	Bytes              int64 // bytes of those lines, "\n" included
	Acked              int64 // lines acknowledged
	DuplicateAcks      int64 // Ack calls for a line not pending (acked twice)
	FilesOpened        int64 // file opens (reopens included)
	FilesClosed        int64 // files closed after CloseInactive or rotation
	RotationsRenamed   int64 // followed files renamed (path now names another file or a rename within Paths)
	RotationsRemoved   int64 // followed files deleted
	Truncations        int64 // truncations (copytruncate, restart of a writer with O_TRUNC)
	CopiesFollowed     int64 // copytruncate copies continued from where the original was left
	BytesLost          int64 // bytes seen in a file and truncated away before they were read
	PartialLinesLost   int64 // incomplete last lines dropped by a truncation
	LongLines          int64 // lines over MaxLineBytes, skipped
	Unreadable         int64 // files that could not be opened or read (e.g. permission denied)
	IdentityMismatch   int64 // saved positions not used because the inode now holds other content
	InFlight           int64 // lines delivered and not yet acknowledged
	CheckpointsWritten int64
	CheckpointErrors   int64
}

type counters struct {
	lines, bytes, acked, dupAcks, opened, closed     atomic.Int64
	renamed, removed, truncations, copies, bytesLost atomic.Int64
	partialLost, longLines, unreadable, idMismatch   atomic.Int64
	inFlight, checkpoints, checkpointErrors          atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Lines: c.lines.Load(), Bytes: c.bytes.Load(), Acked: c.acked.Load(), DuplicateAcks: c.dupAcks.Load(),
		FilesOpened: c.opened.Load(), FilesClosed: c.closed.Load(),
		RotationsRenamed: c.renamed.Load(), RotationsRemoved: c.removed.Load(),
		Truncations: c.truncations.Load(), CopiesFollowed: c.copies.Load(), BytesLost: c.bytesLost.Load(),
		PartialLinesLost: c.partialLost.Load(), LongLines: c.longLines.Load(), Unreadable: c.unreadable.Load(),
		IdentityMismatch: c.idMismatch.Load(), InFlight: c.inFlight.Load(),
		CheckpointsWritten: c.checkpoints.Load(), CheckpointErrors: c.checkpointErrors.Load(),
	}
}
