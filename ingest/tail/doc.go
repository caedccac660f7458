// Package tail follows growing log files (Zeek logs, Suricata eve.json)
// the way SOC log shippers do, and checkpoints how far every line has been
// acknowledged, so that a crash re-reads and never skips.
//
// A Follower expands its Config.Paths (files or globs) every PollInterval,
// opens new files, and delivers each complete line on Lines with its file
// identity, line number and byte range. It handles:
//
//   - rename rotation (Zeek, logrotate create): the renamed file is read
//     through its open handle to the end, the new file at the path from 0;
//   - new-name rotation (Suricata rotate-interval, threaded eve.N.json):
//     new files are picked up, drained files are closed after
//     CloseInactive and reopened if they grow again;
//   - deletion and re-creation, and truncation (copytruncate, a writer
//     reopening with O_TRUNC): detected by size and by the file no longer
//     starting with the bytes its generation started with, which is
//     checked after every read, so that bytes of a new generation are
//     never taken for the old one's; reading restarts at 0, and the bytes
//     seen and never read are counted in Stats.BytesLost;
//   - copytruncate copies matched by Paths: a new file is recognised as the
//     copy of a generation read (or about to be read) from another file by
//     its first bytes, whatever the generation's length, waits until that
//     reading ends, and continues it there, however the copy, the
//     truncation and the polls interleave; no line is delivered twice, and
//     the only lines lost are those written between the copy and the
//     truncation that the follower had not read. A new file is classified
//     once it holds a complete line after any "#" header lines (until then
//     it is not read). Identical content cannot be told apart: a new file
//     starting with the same complete lines as a generation being read is
//     taken for its copy (at worst identical lines are skipped, never
//     delivered twice);
//   - unreadable files (counted, reported at most once a minute, skipped),
//     overlong lines (counted and skipped whole), partial last lines (held
//     until their newline arrives).
//
// # Acknowledgements and checkpoints
//
// Every Line must be acknowledged once (Follower.Ack or AckToken), in any
// order: a line that produced several records when all of them are
// delivered, a line that produced none (header, comment, rejected) at
// once. At most MaxInFlight lines are unacknowledged; then reading stops
// (backpressure, bounded memory). Per file, the durable offset advances
// over the contiguous prefix of acknowledged lines only. The positions
// file (JSON, written atomically: temporary file, fsync, rename, fsync of
// the directory) records per file its identity (device, inode, content
// fingerprint past any "#" header lines, so that Zeek files with the same
// header differ), its path and the durable offset and line number; it is
// written every CheckpointEvery when it changed, and by Close. On start
// with StartSaved a position is used only if the identity matches. After a
// crash reading resumes at the last durable offset: nothing is skipped,
// and only lines not yet durable are delivered again.
//
// # Ownership and concurrency
//
// Run is called once and owns the files; Lines, Ack, AckToken, Stats and
// Close are safe for concurrent use. Line.Text belongs to the receiver.
// Nothing is logged per line.
//
// The follower is our own (polling, no inotify); see DEPENDENCY.md for why
// github.com/nxadm/tail is not used.
package tail
