//go:build linux

package afpacket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/aegis-nsm/aegis/ingest/capture"
)

// Source states.
const (
	stateReady   = iota // made by New, Run not called
	stateRunning        // Run called (it may have returned since)
	stateClosed         // closed before Run
)

// Source captures one interface with a group of AF_PACKET workers. Make
// it with New, call Run once, and Close it. Stats, FanoutID and Close are
// safe for concurrent use, with Run and with each other.
type Source struct {
	cfg      Config
	log      *slog.Logger
	link     capture.LinkType
	fanoutID uint16
	workers  []*worker

	stopOnce sync.Once
	stop     chan struct{} // closed by Close
	done     chan struct{} // closed when Run returns
	mu       sync.Mutex    // guards state
	state    int
}

// New validates cfg, opens one packet socket and ring per worker on
// cfg.Interface, joins them into one fanout group and attaches the
// filter. The sockets receive (and the kernel counts) packets from then
// on; Run reads them. The caller must Close the Source.
//
// The errors name the setting or the fix: a *PermissionError when the
// process lacks CAP_NET_RAW, ErrNoInterface when the interface does not
// exist, ErrFanoutInUse when cfg.FanoutID is taken, ErrNoTcpdump when a
// filter expression cannot be compiled. log may be nil.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ifi, err := interfaceByName(cfg.Interface)
	if err != nil {
		return nil, err
	}
	sockType, link, dlt, err := linkOf(ifi.Name)
	if err != nil {
		return nil, err
	}
	dec, err := capture.NewDecoder(link)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %s: %w", cfg.Interface, err)
	}
	prog, err := compileFilter(cfg.Filter, dlt, cfg.SnapLen)
	if err != nil {
		return nil, err
	}
	if cfg.FanoutID != 0 {
		used, err := fanoutIDsInUse()
		switch {
		case err != nil:
			log.Warn("afpacket: cannot tell whether the fanout id is free (no sock_diag for packet sockets); joining it anyway",
				"interface", cfg.Interface, "fanout_id", cfg.FanoutID, "err", err)
		case used[cfg.FanoutID]:
			return nil, fmt.Errorf("afpacket: %s: fanout_id %d: %w by another capture process in this network namespace "+
				"(Zeek, Suricata, tcpdump with fanout, another Aegis); joining it would take packets away from it. "+
				"Pick another id, or 0 to let the kernel choose a free one", cfg.Interface, cfg.FanoutID, ErrFanoutInUse)
		}
	}

	s := &Source{
		cfg:  cfg,
		log:  log,
		link: link,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	ok := false
	defer func() {
		if !ok {
			s.release()
		}
	}()
	autoRetries := 0
	typeFlags := fanoutModes[cfg.FanoutType]
	id := cfg.FanoutID
	for i := 0; i < cfg.Workers; i++ {
		fd, ring, err := openSocket(cfg, sockType, ifi.Index)
		if err != nil {
			return nil, err
		}
		w := &worker{
			reader:    newReader(i, dec, cfg.BatchSize),
			iface:     cfg.Interface,
			ifindex:   ifi.Index,
			fd:        fd,
			ring:      ring,
			blockSize: cfg.BlockSize,
			numBlocks: cfg.NumBlocks,
			pollMS:    int(cfg.PollTimeout.Milliseconds()),
			log:       log,
		}
		s.workers = append(s.workers, w)
		auto := i == 0 && cfg.FanoutID == 0
		got, err := joinFanout(fd, id, typeFlags, auto)
		if err != nil {
			return nil, fanoutError(cfg, id, auto, err)
		}
		if auto && reservedFanoutID(got) {
			// The kernel picked an id Zeek or Suricata would join when
			// they start: leave it (by closing the socket) and ask again;
			// the kernel moves on to the next free id.
			if autoRetries++; autoRetries > maxAutoRetries {
				return nil, fmt.Errorf("afpacket: %s: the kernel keeps choosing reserved fanout ids; set fanout_id", cfg.Interface)
			}
			w.close()
			s.workers = s.workers[:i]
			i--
			continue
		}
		id = got
	}
	s.fanoutID = id
	// Only now, with every worker in the group, let packets in: a flow's
	// packets never move between workers as the group grows.
	for _, w := range s.workers {
		if err := attachFilter(w.fd, prog); err != nil {
			return nil, fmt.Errorf("afpacket: %s: the kernel refused the filter %s (%d instructions): %w",
				cfg.Interface, filterDesc(cfg.Filter), len(prog), err)
		}
	}
	if cfg.Promiscuous {
		if err := setPromiscuous(s.workers[0].fd, ifi.Index); err != nil {
			return nil, fmt.Errorf("afpacket: %s: promiscuous mode: %w", cfg.Interface, err)
		}
	}
	if ifi.Flags&net.FlagUp == 0 {
		log.Warn("afpacket: interface is down; capture starts when it comes up", "interface", cfg.Interface)
	}
	ok = true
	log.Info("afpacket: capturing",
		"interface", cfg.Interface, "link_type", link.String(), "workers", cfg.Workers,
		"fanout_id", id, "fanout_type", cfg.FanoutType, "filter", filterDesc(cfg.Filter), "filter_instructions", len(prog),
		"snap_len", cfg.SnapLen, "ring_bytes_per_worker", cfg.BlockSize*cfg.NumBlocks, "promiscuous", cfg.Promiscuous)
	return s, nil
}

// maxAutoRetries bounds how often New asks the kernel for another fanout
// id after it chose a reserved one.
const maxAutoRetries = 8

// reservedFanoutID reports whether an id the kernel chose must not be
// used: 0 (which reads as "choose for me" in Config) and the ids Zeek and
// Suricata join by default.
func reservedFanoutID(id uint16) bool {
	return id == 0 || id == ZeekFanoutID || id == SuricataFanoutID
}

// fanoutError explains a failed PACKET_FANOUT join.
func fanoutError(cfg Config, id uint16, auto bool, err error) error {
	switch {
	case auto && errors.Is(err, unix.EINVAL):
		return fmt.Errorf("afpacket: %s: this kernel cannot choose a fanout id (PACKET_FANOUT_FLAG_UNIQUEID); set fanout_id: %w",
			cfg.Interface, err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("afpacket: %s: fanout_id %d belongs to a group on another interface or of another fanout_type; "+
			"pick another id, or 0 to let the kernel choose a free one: %w", cfg.Interface, id, err)
	case errors.Is(err, unix.ENOSPC):
		return fmt.Errorf("afpacket: %s: fanout group %d is full: %w", cfg.Interface, id, err)
	}
	return fmt.Errorf("afpacket: %s: joining fanout group %d (%s): %w", cfg.Interface, id, cfg.FanoutType, err)
}

// FanoutID returns the fanout group id the workers share: Config.FanoutID,
// or the id the kernel chose when that was 0.
func (s *Source) FanoutID() uint16 { return s.fanoutID }

// Run reads packets until ctx is done, Close is called, fn returns an
// error or a socket fails, and then releases the sockets. It returns nil
// when stopped by ctx or Close; otherwise the first error (fn's error is
// wrapped, so errors.Is sees it).
//
// fn is called from the worker goroutines, concurrently for different
// workers, with batches of at most Config.BatchSize packets in ring order.
// A partly filled batch is handed over as soon as the ring holds nothing
// more, so packets wait at most about Config.BlockTimeout. fn should
// return promptly: while it runs, its worker's ring fills (and overflows
// into Stats' Drops), and Run does not return before it does. Run may be
// called once.
func (s *Source) Run(ctx context.Context, fn BatchFunc) error {
	if fn == nil {
		return errors.New("afpacket: Run needs a callback")
	}
	s.mu.Lock()
	if s.state != stateReady {
		s.mu.Unlock()
		return errors.New("afpacket: Run called twice or after Close")
	}
	s.state = stateRunning
	s.mu.Unlock()
	defer close(s.done)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for _, w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(ctx, fn); err != nil {
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	s.release()
	s.log.Info("afpacket: capture stopped", "interface", s.cfg.Interface, "stats", s.Stats().Total().String())
	return first
}

// Stats returns the workers' counters, reading the kernel's.
func (s *Source) Stats() Stats {
	out := Stats{Workers: make([]WorkerStats, len(s.workers))}
	for i, w := range s.workers {
		ws := w.stats()
		ws.Packets, ws.Drops, ws.Freezes = w.kernelStats()
		out.Workers[i] = ws
	}
	return out
}

// Close stops Run (waiting for it to return) and releases the sockets and
// rings. It is idempotent and returns nil.
func (s *Source) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.mu.Lock()
	st := s.state
	if st == stateReady {
		s.state = stateClosed
	}
	s.mu.Unlock()
	if st == stateRunning {
		<-s.done
	}
	s.release()
	return nil
}

// release closes every worker's socket (after a last kernel counter read).
func (s *Source) release() {
	for _, w := range s.workers {
		w.close()
	}
}

// worker is one socket and its ring.
type worker struct {
	*reader
	iface     string
	ifindex   int
	fd        int
	ring      []byte
	blockSize int
	numBlocks int
	cur       int // index of the next block to read
	pollMS    int
	log       *slog.Logger
	down      bool // the interface went down and has not delivered since

	kmu  sync.Mutex // guards fd against close, and kern
	kern struct{ packets, drops, freezes uint64 }
}

// run reads the ring until ctx is done or something fails.
func (w *worker) run(ctx context.Context, fn BatchFunc) error {
	done := ctx.Done()
	pfd := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	for {
		blk := w.ring[w.cur*w.blockSize : (w.cur+1)*w.blockSize : (w.cur+1)*w.blockSize]
		status := (*uint32)(unsafe.Pointer(&blk[blkStatus]))
		if atomic.LoadUint32(status)&statusUser != 0 {
			if w.down {
				w.down = false
				w.log.Info("afpacket: interface delivers again", "interface", w.iface, "worker", w.id)
			}
			err := w.readBlock(blk, fn)
			atomic.StoreUint32(status, statusKernel)
			if w.cur++; w.cur == w.numBlocks {
				w.cur = 0
			}
			w.publish()
			if err != nil {
				return fmt.Errorf("afpacket: %s worker %d: %w", w.iface, w.id, err)
			}
			select {
			case <-done:
				return w.finish(fn)
			default:
			}
			continue
		}
		if w.n > 0 {
			err := w.flush(fn)
			w.publish()
			if err != nil {
				return fmt.Errorf("afpacket: %s worker %d: %w", w.iface, w.id, err)
			}
			continue // the callback took time: look at the ring again
		}
		select {
		case <-done:
			return nil
		default:
		}
		n, err := unix.Poll(pfd, w.pollMS)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("afpacket: %s worker %d: poll: %w", w.iface, w.id, err)
		}
		if n == 0 {
			if w.down {
				if err := w.checkInterface(); err != nil {
					return err
				}
			}
			continue
		}
		if pfd[0].Revents&unix.POLLNVAL != 0 {
			return fmt.Errorf("afpacket: %s worker %d: socket closed under the worker", w.iface, w.id)
		}
		if pfd[0].Revents&unix.POLLERR != 0 {
			if err := w.socketError(); err != nil {
				return err
			}
		}
	}
}

// finish hands over the partly filled batch when Run stops.
func (w *worker) finish(fn BatchFunc) error {
	err := w.flush(fn)
	w.publish()
	if err != nil {
		return fmt.Errorf("afpacket: %s worker %d: %w", w.iface, w.id, err)
	}
	return nil
}

// socketError reads and clears the socket's pending error. The interface
// going down is waited out; its removal, or anything else, is returned.
func (w *worker) socketError() error {
	v, err := unix.GetsockoptInt(w.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("afpacket: %s worker %d: reading the socket error: %w", w.iface, w.id, err)
	}
	switch e := syscall.Errno(v); e {
	case 0:
		return nil
	case unix.ENETDOWN:
		if err := w.checkInterface(); err != nil {
			return err
		}
		if !w.down {
			w.down = true
			w.log.Warn("afpacket: interface went down; waiting for it to come back", "interface", w.iface, "worker", w.id)
		}
		return nil
	default:
		return fmt.Errorf("afpacket: %s worker %d: %w", w.iface, w.id, e)
	}
}

// checkInterface returns an error wrapping ErrNoInterface if the
// interface the socket is bound to no longer exists. (Its removal first
// reads as the interface going down, so a worker waiting for a down
// interface asks again at every poll timeout.)
func (w *worker) checkInterface() error {
	if _, err := net.InterfaceByIndex(w.ifindex); err != nil {
		return fmt.Errorf("afpacket: interface %s went away: %w", w.iface, ErrNoInterface)
	}
	return nil
}

// kernelStats returns the kernel's counters for the socket's life so far.
func (w *worker) kernelStats() (packets, drops, freezes uint64) {
	w.kmu.Lock()
	defer w.kmu.Unlock()
	w.readKernelStats()
	return w.kern.packets, w.kern.drops, w.kern.freezes
}

// readKernelStats adds the kernel's counters since the last read (the read
// resets them) to kern. kmu must be held.
func (w *worker) readKernelStats() {
	if w.fd < 0 {
		return
	}
	st, err := unix.GetsockoptTpacketStatsV3(w.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return
	}
	w.kern.packets += uint64(st.Packets)
	w.kern.drops += uint64(st.Drops)
	w.kern.freezes += uint64(st.Freeze_q_cnt)
}

// close takes a last kernel counter reading and releases the ring and the
// socket. The worker goroutine must not be running.
func (w *worker) close() {
	w.kmu.Lock()
	defer w.kmu.Unlock()
	if w.fd < 0 {
		return
	}
	w.readKernelStats()
	if w.ring != nil {
		_ = unix.Munmap(w.ring)
		w.ring = nil
	}
	_ = unix.Close(w.fd)
	w.fd = -1
}
