package pcapdir

import (
	"io"
	"math"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// restReader reads a pcapng or gzip-compressed capture file through
// capture's FileReader once the file is complete: those formats are not
// followed while they grow. Its position is a record count.
type restReader struct {
	f    io.ReaderAt
	name string
	skip uint64 // records to pass over (a saved position)
	r    *capture.FileReader
	done bool
}

// ready reports whether reading has started.
func (r *restReader) ready() bool { return r.r != nil || r.done }

// start opens the capture.
func (r *restReader) start(bufSize int) error {
	cfg := capture.Config{ReadBufferSize: bufSize}
	fr, err := cfg.NewReader(io.NewSectionReader(r.f, 0, math.MaxInt64>>1), r.name)
	if err != nil {
		r.done = true
		return err
	}
	r.r = fr
	return nil
}

// records returns the number of records read.
func (r *restReader) records() uint64 {
	if r.r == nil {
		return r.skip
	}
	return max(r.r.Stats().Records, r.skip)
}

// pull decodes up to len(ps) packets; offs[i] is the record count after
// packet i.
func (r *restReader) pull(ps []schemas.Packet, offs []int64) int {
	n := 0
	for n < len(ps) && !r.done && r.r != nil {
		if r.r.Next(&ps[n]) != nil {
			r.done = true
			break
		}
		rec := r.r.Stats().Records
		if rec <= r.skip {
			continue
		}
		offs[n] = int64(rec)
		n++
	}
	return n
}
