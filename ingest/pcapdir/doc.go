// Package pcapdir reads the rolling PCAP directory a capture writer keeps
// next to the IDS, for the packets of the flows Aegis measures.
//
// # Source: following the ring
//
// A Source follows a directory written by tcpdump -G/-C/-W (strftime
// names such as ring-%Y%m%d%H%M%S.pcap, numbered rings file.pcap0,
// file.pcap1, ..., -C names name, name1, name2, ...), Suricata pcap-log
// (log.pcap.<epoch>[.<usec>], and in multi mode <filename>.<thread>.<epoch>
// or per-thread directories) or netsniff-ng (<epoch>.pcap). Config.Pattern
// selects the files. It delivers the packets, decoded by capture's Decoder
// into schemas.Packet, in batches and in time order, and keeps the packet
// clock (the latest timestamp delivered) for the caller's timeouts.
//
// Files are ordered by the timestamp of their first record, read from the
// file's head; files without a record yet (just created) by modification
// time, then by name with digit runs compared as numbers. Files of one
// writer (see below) are read one after the other; the files of several
// writers that write at once (Suricata multi mode, one file per thread) are
// merged by time.
//
// The file being written is read as it grows. A record is parsed only once
// all its bytes are on disk: its 16-byte header first, then the captured
// length it announces. A half-written record at the end (a writer's
// buffered write cut anywhere) is left in the buffer and completed by the
// next read: it is never parsed early and never counted as corrupt. A file
// is complete when a newer file of the same writer exists and it has not
// changed for Config.Settle (writers close a file before they create the
// next); only then is a partial record still at its end counted as
// truncated. Every read that finds new bytes checks that the file still
// starts with the first record it had, so a ring slot truncated and
// rewritten in place (tcpdump -C -W) is noticed before any of its new
// bytes are parsed as the old capture's.
//
// Writers: files are tied to a writer by name. Suricata multi-mode names
// (<filename>.<thread>.<epoch>) give one writer per thread; otherwise each
// directory is one writer. The merge holds a packet back while another
// writer's file has nothing buffered, is still growing (changed within
// Config.MergeWait) and its last packet is older: that writer may still
// write an earlier one. A writer silent for longer stops holding the
// others back; what it writes later is delivered late and counted.
//
// Deletion by the ring: an open file deleted under the Source is read to
// its end through the open descriptor (Linux keeps the data until it is
// closed). A file deleted before it was read is skipped and reported
// (Losses, Stats.FilesLost, a warning in the log) with its packet count
// when the Source had it open ahead (Config.LookAhead, counted through the
// descriptor before closing it) and its size otherwise; the reader has
// fallen behind the ring and moves on to the oldest file left. A file
// rewritten in place while being read loses the bytes not read yet.
//
// Start: the oldest file's beginning, now (the newest file of each writer,
// past its last whole record), or a saved Position (files being read and
// their offsets, plus the packet clock), which the caller checkpoints
// after processing a batch.
//
// Classic pcap (microsecond or nanosecond, either byte order) is followed
// as it grows. pcapng and gzip files are read through capture.FileReader
// once they are complete; their Position offsets count records.
//
// # Index and Backfill: reading a flow's past
//
// Index keeps the time range of every file (first record from the head,
// last record by walking the record headers when needed, cached by size
// and modification time) and lists the files whose range covers a time
// window (FilesCovering); Backfill reads such files as one capture in time
// order and hands out the packets a filter accepts.
//
// # Suricata configuration check
//
// CheckSuricataConfig reads suricata.yaml and warns about the pcap-log,
// stream and encryption-handling settings that keep the encrypted packets
// Aegis needs out of the files.
//
// # Buffers and concurrency
//
// A Source's Run is called once and owns the files; the batch it passes
// to the callback is the Source's and valid until the callback returns.
// Position, Stats, Clock, Losses and SkipErrors are safe for concurrent
// use. An Index is safe for concurrent use. Backfill's packet pointer is
// reused between calls. Nothing is logged per packet.
package pcapdir
