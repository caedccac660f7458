// Package file is the sink that writes records to local files (JSON lines,
// a Zeek aegis.log or Suricata EVE events, see enrich/format) with
// size-based rotation and batched fsync, and to stdout.
//
// # Durability
//
// A message's Done(nil) is called only after its bytes were written and
// fsynced (stdout, and FsyncInterval < 0: after the write(2) returned).
// Fsyncs are batched: one writer goroutine takes every queued message,
// writes the batch with one write(2) per file, and fsyncs every
// FsyncInterval (or after each batch when it is 0), on Flush, before a
// rotation, at Close, and when MaxUnsynced records wait. When a write or
// fsync fails, every record not yet acknowledged in that file gets
// Done(err) and the file is truncated back to the last fsynced byte, so a
// failed record never leaves half a line behind; the next record tries
// again. A file that ends in a torn line (a crash of the host) is given a
// newline before anything is appended.
//
// # Rotation
//
// With MaxSize > 0, the writer rotates a file before a record would take
// it past MaxSize, logrotate style: it writes the format's footer (Zeek's
// #close), fsyncs, renames path.N-1 to path.N ... path to path.1 (path.1 is
// the newest), deletes what lies beyond path.MaxFiles, fsyncs the
// directory and opens a new path with the format's header. Records are
// never split across files, and every record is fsynced before its file is
// renamed.
//
// # Files per kind
//
// A Path containing {kind} gives each message kind its own file
// (/var/log/aegis/{kind}.jsonl: detection.jsonl, verdict.jsonl, ...). Files
// are opened at New for every kind the format carries (so a bad path fails
// start-up, naming the path) and for other kinds when the first arrives.
//
// # Concurrency and buffers
//
// A Sink is safe for concurrent use. Write encodes the message in the
// caller's goroutine into a buffer the sink owns, so the sink keeps no
// reference to m.Value or m.Record after Write returns. Done callbacks run
// on the sink's writer goroutine, one at a time; they must not block or
// call back into the same sink.
package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aegis-nsm/aegis/enrich/format"
	"github.com/aegis-nsm/aegis/enrich/sink"
)

// Stats are a sink's counters.
type Stats struct {
	Written   int64 // records written and acknowledged (Done(nil))
	Skipped   int64 // messages the format does not carry (Done(nil), nothing written)
	Failed    int64 // messages given up on (Done(err))
	Bytes     int64 // bytes written: records, headers and footers
	Rotations int64 // files rotated
	Syncs     int64 // fsync calls on data files
}

// Sink writes messages to files or to a writer. See the package comment.
type Sink struct {
	name     string
	cfg      Config
	enc      format.Encoder
	log      *slog.Logger
	template bool // Path holds {kind}

	// mu guards closed and the send side of in: Writes hold it shared while
	// they send, Close takes it to close in.
	mu     sync.RWMutex
	closed bool
	in     chan request
	// closing is closed first thing in Close, so that Writes and Flushes
	// blocked on a full queue give up instead of holding Close up.
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{} // closed when the writer goroutine ended
	// closeErr is set by the writer goroutine before done is closed.
	closeErr error

	// Owned by the writer goroutine.
	outs     map[string]*output // by resolved path; "" for a writer sink
	unsynced int                // records written, not yet acknowledged

	// fsync syncs a data file or directory (fsyncFile); tests replace it
	// to observe the order of writes, fsyncs and acknowledgements.
	fsync func(*os.File) error

	written, skipped, failed, bytes, rotations, syncs atomic.Int64
}

// fsyncFile syncs data files and directories; a variable so that tests that
// are about concurrency rather than durability can count fsyncs instead of
// waiting for the disk.
var fsyncFile = (*os.File).Sync

// request is one item of the writer's queue: a message (data, or err for
// one that failed to encode or is skipped), or a flush.
type request struct {
	kind sink.Kind
	data *[]byte // the encoded record; nil for a skipped or failed message
	err  error   // why data is nil (nil: skipped by the format)
	done func(error)
	// flush is set for a Flush request: the writer acknowledges everything
	// before it and sends the result.
	flush chan error
}

// bufPool holds encode buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func putBuf(b *[]byte) {
	if cap(*b) <= 256<<10 {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// New returns the sink cfg describes: a file sink, or the stdout sink when
// cfg.Path is "-". It validates cfg and opens (creating directories) the
// files of every kind the format carries, so an unwritable path is an error
// here that names it. log may be nil.
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Path == StdoutPath {
		return NewWriter("stdout", os.Stdout, cfg, log)
	}
	cfg = cfg.withDefaults()
	s, err := newSink("file:"+cfg.Path, cfg, log)
	if err != nil {
		return nil, err
	}
	s.template = strings.Contains(cfg.Path, KindPlaceholder)
	for _, k := range sink.Kinds {
		if !s.enc.Accepts(k) {
			continue
		}
		if _, err := s.output(k); err != nil {
			s.closeOutputs()
			return nil, err
		}
	}
	go s.run()
	return s, nil
}

// NewWriter returns a sink that writes to w (stdout, a pipe): the same
// encoding and queue as a file sink, no rotation and no fsync; Done(nil)
// comes after the write to w returned. name is the sink's Name. cfg.Path,
// MaxSize, MaxFiles, FsyncInterval and the modes are ignored. Close does not
// close w. log may be nil.
func NewWriter(name string, w io.Writer, cfg Config, log *slog.Logger) (*Sink, error) {
	cfg.Path = StdoutPath
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.MaxSize = 0
	cfg.FsyncInterval = -1
	s, err := newSink(name, cfg, log)
	if err != nil {
		return nil, err
	}
	o := &output{path: name, dst: w, w: bufio.NewWriterSize(w, 64<<10)}
	s.outs[""] = o
	s.writeHeader(o)
	go s.run()
	return s, nil
}

// NewStdout returns the stdout sink (NewWriter on os.Stdout).
func NewStdout(cfg Config, log *slog.Logger) (*Sink, error) {
	return NewWriter("stdout", os.Stdout, cfg, log)
}

func newSink(name string, cfg Config, log *slog.Logger) (*Sink, error) {
	enc, err := format.New(cfg.Format)
	if err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sink{
		name:    name,
		cfg:     cfg,
		enc:     enc,
		log:     log.With("sink", name),
		in:      make(chan request, cfg.QueueSize),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		outs:    map[string]*output{},
		fsync:   fsyncFile,
	}, nil
}

// Name returns "file:<path>" (the configured path, {kind} included) or the
// writer sink's name ("stdout").
func (s *Sink) Name() string { return s.name }

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (s *Sink) Stats() Stats {
	return Stats{
		Written: s.written.Load(), Skipped: s.skipped.Load(), Failed: s.failed.Load(),
		Bytes: s.bytes.Load(), Rotations: s.rotations.Load(), Syncs: s.syncs.Load(),
	}
}

// Write encodes m and queues it, blocking while the queue is full. It
// returns nil once m is accepted (Done reports the outcome: a message the
// format does not carry, such as a verdict in the zeek format, is counted
// as skipped and gets Done(nil); one that cannot be encoded gets the
// error), ctx.Err() when ctx ends first (m not accepted, Done not called)
// and sink.ErrClosed after Close.
func (s *Sink) Write(ctx context.Context, m sink.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := request{kind: m.Kind, done: m.Done}
	switch {
	case !validKind(m.Kind):
		req.err = fmt.Errorf("%s: message %s: kind %q is not a lower-case word", s.name, m.ID, m.Kind)
	case !s.enc.Accepts(m.Kind):
	default:
		buf := bufPool.Get().(*[]byte)
		b, err := s.enc.Append((*buf)[:0], &m)
		switch {
		case err == nil:
			*buf = b
			req.data = buf
		case errors.Is(err, format.ErrSkipped):
			putBuf(buf)
		default:
			putBuf(buf)
			req.err = fmt.Errorf("%s: %w", s.name, err)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		if req.data != nil {
			putBuf(req.data)
		}
		return sink.ErrClosed
	}
	select {
	case s.in <- req:
		return nil
	case <-ctx.Done():
		if req.data != nil {
			putBuf(req.data)
		}
		return ctx.Err()
	case <-s.closing:
		if req.data != nil {
			putBuf(req.data)
		}
		return sink.ErrClosed
	}
}

// validKind reports whether k can name a file: [a-z0-9_-]+.
func validKind(k sink.Kind) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Flush blocks until every message accepted before it was written, fsynced
// and acknowledged (Done called), or ctx ends. It returns the write or
// fsync failures it met (the records concerned got them in Done). After
// Close it returns nil at once (Close flushed).
func (s *Sink) Flush(ctx context.Context) error {
	ch := make(chan error, 1)
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil
	}
	select {
	case s.in <- request{flush: ch}:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	case <-s.closing:
		s.mu.RUnlock()
		return nil // Close flushes
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes and acknowledges everything queued, writes the format's
// footer, fsyncs and closes the files (not a writer sink's writer), and
// makes further Writes return sink.ErrClosed. It returns the errors of the
// final writes, fsyncs and closes; calling it again returns the same.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.in)
	}
	s.mu.Unlock()
	<-s.done
	return s.closeErr
}

// run is the writer goroutine.
func (s *Sink) run() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	for {
		var req request
		var ok bool
		select {
		case req, ok = <-s.in:
		case <-timer.C:
			armed = false
			s.syncAll(true)
			continue
		}
		// Take what is queued now, up to one queue's worth, as one batch.
	batch:
		for n := cap(s.in); ok; n-- {
			s.handle(req)
			if n <= 1 {
				break
			}
			select {
			case req, ok = <-s.in:
			default:
				break batch
			}
		}
		if !ok { // in closed: Close
			timer.Stop()
			s.shutdown()
			return
		}
		// The batch is written to the files (tailers see it); acknowledge
		// per the fsync policy.
		switch {
		case s.cfg.FsyncInterval <= 0:
			s.syncAll(s.cfg.FsyncInterval == 0)
		default:
			s.flushAll()
			if s.unsynced > 0 && !armed {
				timer.Reset(s.cfg.FsyncInterval)
				armed = true
			}
		}
	}
}

// handle applies one request.
func (s *Sink) handle(req request) {
	if req.flush != nil {
		req.flush <- s.syncAll(s.cfg.FsyncInterval >= 0)
		return
	}
	if req.data == nil {
		if req.err != nil {
			s.failed.Add(1)
			s.log.Warn("record not written", "err", req.err)
		} else {
			s.skipped.Add(1)
		}
		finish(req.done, req.err)
		return
	}
	defer putBuf(req.data)
	o, err := s.output(req.kind)
	if err != nil {
		s.failed.Add(1)
		finish(req.done, err)
		return
	}
	data := *req.data
	if s.cfg.MaxSize > 0 && o.size > o.headerLen && o.size+int64(len(data)) > s.cfg.MaxSize {
		s.rotate(o)
		if o.f == nil { // reopening after the rotation failed
			if err := s.open(o); err != nil {
				s.failed.Add(1)
				finish(req.done, err)
				return
			}
		}
	}
	if _, err := o.w.Write(data); err != nil {
		s.failed.Add(1)
		finish(req.done, s.fail(o, fmt.Errorf("%s: write %s: %w", s.name, o.path, err)))
		return
	}
	o.size += int64(len(data))
	s.bytes.Add(int64(len(data)))
	o.pending = append(o.pending, req.done)
	s.unsynced++
	if s.unsynced >= s.cfg.MaxUnsynced {
		s.syncAll(s.cfg.FsyncInterval >= 0)
	}
}

func finish(done func(error), err error) {
	if done != nil {
		done(err)
	}
}

// output is one file (or the writer) and its state; owned by the writer
// goroutine.
type output struct {
	path      string
	f         *os.File  // nil for a writer sink, or while closed after an error
	dst       io.Writer // a writer sink's writer; nil for a file
	closeErr  error
	w         *bufio.Writer
	size      int64 // bytes in the file, buffered ones included
	synced    int64 // bytes in the file that are acknowledged
	headerLen int64 // size right after this process opened an empty file and wrote its header
	pending   []func(error)
}

// pathOf resolves the path of kind k.
func (s *Sink) pathOf(k sink.Kind) string {
	if !s.template {
		return s.cfg.Path
	}
	return strings.ReplaceAll(s.cfg.Path, KindPlaceholder, string(k))
}

// output returns the output of kind k, opening it on first use.
func (s *Sink) output(k sink.Kind) (*output, error) {
	if o, ok := s.outs[""]; ok { // writer sink
		return o, nil
	}
	p := s.pathOf(k)
	o, ok := s.outs[p]
	if !ok {
		o = &output{path: p}
		s.outs[p] = o
	}
	if o.f == nil {
		if err := s.open(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// pathError words an error about path for an operator.
func pathError(sinkName, op, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	fix := ""
	switch {
	case errors.Is(err, fs.ErrPermission):
		fix = " (make the directory writable by the user Aegis runs as, or choose another path)"
	case errors.Is(err, syscall.ENOTDIR):
		fix = " (a component of the path is a file, not a directory)"
	case errors.Is(err, syscall.EROFS):
		fix = " (the file system is read-only)"
	}
	return fmt.Errorf("%s: cannot %s %q: %w%s", sinkName, op, path, err, fix)
}

// open opens o.path for appending, creating its directory and the file
// (with FileMode), repairs a torn last line and writes the header.
func (s *Sink) open(o *output) error {
	if dir := filepath.Dir(o.path); dir != "." {
		if err := os.MkdirAll(dir, s.cfg.DirMode); err != nil {
			return pathError(s.name, "create directory", dir, err)
		}
	}
	_, statErr := os.Stat(o.path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(o.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, s.cfg.FileMode)
	if err != nil {
		return pathError(s.name, "open", o.path, err)
	}
	if created {
		if err := f.Chmod(s.cfg.FileMode); err != nil {
			f.Close()
			return pathError(s.name, "set the mode of", o.path, err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return pathError(s.name, "stat", o.path, err)
	}
	if st.IsDir() {
		f.Close()
		return pathError(s.name, "open", o.path, errors.New("is a directory"))
	}
	o.f = f
	o.size = st.Size()
	o.headerLen = 0
	if o.w == nil {
		o.w = bufio.NewWriterSize(f, 64<<10)
	} else {
		o.w.Reset(f)
	}
	if o.size > 0 && st.Mode().IsRegular() {
		var last [1]byte
		if _, err := f.ReadAt(last[:], o.size-1); err == nil && last[0] != '\n' {
			// A torn line from a crash: end it so the next record starts
			// a line of its own.
			o.w.WriteByte('\n')
			o.size++
			s.log.Warn("file ended in a partial line; ended it with a newline", "path", o.path)
		}
	}
	o.synced = o.size
	empty := o.size == 0
	s.writeHeader(o)
	if empty {
		o.headerLen = o.size
	}
	return nil
}

// writeHeader writes the format's header (Zeek's meta lines) into o's
// buffer.
func (s *Sink) writeHeader(o *output) {
	if h := s.enc.Header(); len(h) > 0 {
		o.w.Write(h)
		o.size += int64(len(h))
		s.bytes.Add(int64(len(h)))
	}
}

// flushAll writes every buffered byte to the files, without fsync.
func (s *Sink) flushAll() {
	for _, o := range s.outs {
		if o.w != nil && o.w.Buffered() > 0 {
			if err := o.w.Flush(); err != nil {
				s.fail(o, fmt.Errorf("%s: write %s: %w", s.name, o.path, err))
			}
		}
	}
}

// syncAll writes out, fsyncs (when fsync) and acknowledges every output;
// it returns the failures (the records concerned got them already).
func (s *Sink) syncAll(fsync bool) error {
	var errs []error
	for _, o := range s.outs {
		if err := s.sync(o, fsync); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sync writes out o's buffer, fsyncs o (when fsync and o is a file) and
// acknowledges its pending records. On failure the records get the error
// (see fail), which it returns.
func (s *Sink) sync(o *output, fsync bool) error {
	if o.w == nil || (len(o.pending) == 0 && o.w.Buffered() == 0) {
		return nil
	}
	if err := o.w.Flush(); err != nil {
		return s.fail(o, fmt.Errorf("%s: write %s: %w", s.name, o.path, err))
	}
	if fsync && o.f != nil {
		s.syncs.Add(1)
		if err := s.fsync(o.f); err != nil {
			return s.fail(o, fmt.Errorf("%s: fsync %s: %w", s.name, o.path, err))
		}
	}
	o.synced = o.size
	n := len(o.pending)
	for i, d := range o.pending {
		finish(d, nil)
		o.pending[i] = nil
	}
	o.pending = o.pending[:0]
	s.unsynced -= n
	s.written.Add(int64(n))
	return nil
}

// fail gives up on o's unacknowledged records with err, and takes the file
// back to its last acknowledged byte so no partial record stays. It returns
// err.
func (s *Sink) fail(o *output, err error) error {
	s.log.Error("write failed; records not acknowledged", "path", o.path, "records", len(o.pending), "err", err)
	for i, d := range o.pending {
		finish(d, err)
		o.pending[i] = nil
	}
	s.failed.Add(int64(len(o.pending)))
	s.unsynced -= len(o.pending)
	o.pending = o.pending[:0]
	if o.dst != nil { // a writer sink: nothing to take back
		o.w.Reset(o.dst)
		return err
	}
	o.w.Reset(o.f)
	if terr := o.f.Truncate(o.synced); terr != nil {
		// Cannot take it back: reopen later (open ends a torn line).
		o.f.Close()
		o.f = nil
		return err
	}
	o.size = o.synced
	return err
}

// rotate closes o (footer, fsync), shifts the rotated files and opens a
// new o.path. On failure the records stay in the current file, which is
// reopened for appending.
func (s *Sink) rotate(o *output) {
	if f := s.enc.Footer(); len(f) > 0 {
		o.w.Write(f)
		o.size += int64(len(f))
		s.bytes.Add(int64(len(f)))
	}
	if err := s.sync(o, s.cfg.FsyncInterval >= 0); err != nil || o.f == nil {
		return // the sync failed: no rotation now
	}
	if err := o.f.Close(); err != nil {
		s.log.Error("closing file for rotation", "path", o.path, "err", err)
	}
	o.f = nil
	if err := s.shift(o.path); err != nil {
		s.log.Error("rotation failed; appending to the current file", "path", o.path, "err", err)
	} else {
		s.rotations.Add(1)
		s.log.Info("rotated", "path", o.path, "kept", s.cfg.MaxFiles)
	}
	if err := s.open(o); err != nil {
		s.log.Error("reopening after rotation", "path", o.path, "err", err)
	}
}

// shift renames path.i to path.i+1 (from MaxFiles-1 down), path to path.1,
// and deletes rotated files beyond MaxFiles, then fsyncs the directory.
func (s *Sink) shift(path string) error {
	n := s.cfg.MaxFiles
	rotated := func(i int) string { return path + "." + strconv.Itoa(i) }
	if n == 0 {
		if err := os.Remove(path); err != nil {
			return err
		}
	} else {
		for i := n - 1; i >= 1; i-- {
			if err := os.Rename(rotated(i), rotated(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if err := os.Rename(path, rotated(1)); err != nil {
			return err
		}
	}
	// Files beyond MaxFiles (MaxFiles was lowered): delete them.
	for i := n + 1; ; i++ {
		if err := os.Remove(rotated(i)); err != nil {
			break
		}
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		s.fsync(d)
		d.Close()
	}
	return nil
}

// shutdown acknowledges everything, writes the footers and closes the
// files.
func (s *Sink) shutdown() {
	var errs []error
	fsync := s.cfg.FsyncInterval >= 0
	for _, o := range s.outs {
		if o.w == nil || (o.f == nil && o.dst == nil) {
			continue
		}
		if f := s.enc.Footer(); len(f) > 0 {
			o.w.Write(f)
			o.size += int64(len(f))
			s.bytes.Add(int64(len(f)))
		}
		if err := s.sync(o, fsync); err != nil {
			errs = append(errs, err)
		}
	}
	s.closeOutputs()
	for _, o := range s.outs {
		if o.closeErr != nil {
			errs = append(errs, o.closeErr)
		}
	}
	s.closeErr = errors.Join(errs...)
}

// closeOutputs closes every open file.
func (s *Sink) closeOutputs() {
	for _, o := range s.outs {
		if o.f != nil {
			if err := o.f.Close(); err != nil {
				o.closeErr = fmt.Errorf("%s: close %s: %w", s.name, o.path, err)
			}
			o.f = nil
		}
	}
}
