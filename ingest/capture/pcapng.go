package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ngSource reads pcapng through pcapgo.NgReader. Each packet carries its
// interface's link type, and pcapgo scales each interface's timestamps
// (if_tsresol, if_tsoffset) to nanoseconds.
type ngSource struct {
	r  *pcapgo.NgReader
	in *readBuf // the stream under pcapgo, to tell I/O errors from bad blocks
}

func newNgSource(b *readBuf, bufSize int) (*ngSource, error) {
	// A bufio.Reader at least 4096 bytes large is used by pcapgo as is;
	// reading through it costs pcapgo no extra copy.
	r, err := pcapgo.NewNgReader(bufio.NewReaderSize(b, bufSize), pcapgo.NgReaderOptions{
		WantMixedLinkType: true,
	})
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &recordErr{kind: ErrTruncatedRecord, detail: "pcapng section header truncated"}
		}
		return nil, fmt.Errorf("%w: pcapng: %v", ErrNotCapture, err)
	}
	return &ngSource{r: r, in: b}, nil
}

// next returns the next packet. frame is owned by pcapgo and valid until
// the next call. err is io.EOF at a clean end, a *recordErr when the file
// ends inside a block or a block does not parse.
func (s *ngSource) next() (frame []byte, ci CaptureInfo, link LinkType, iface int, err error) {
	data, gci, err := s.read()
	if err != nil {
		if rerr := s.in.err; rerr != nil && rerr != io.EOF && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			return nil, ci, 0, 0, fmt.Errorf("read: %w", rerr)
		}
		switch {
		case err == io.EOF:
			return nil, ci, 0, 0, io.EOF
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, ci, 0, 0, &recordErr{kind: ErrTruncatedRecord, detail: "pcapng block cut by the end of the file"}
		}
		return nil, ci, 0, 0, &recordErr{kind: ErrBadRecord, detail: "pcapng: " + err.Error()}
	}
	if len(gci.AncillaryData) > 0 {
		if lt, ok := gci.AncillaryData[0].(layers.LinkType); ok {
			link = LinkType(lt)
		}
	}
	// Simple packet blocks carry no time: TS 0.
	return data, CaptureInfoOf(gci), link, gci.InterfaceIndex, nil
}

// read calls pcapgo, turning a panic on a malformed block (pcapgo has had
// missing length checks before) into an error: one bad file must not stop
// the sidecar.
func (s *ngSource) read() (data []byte, ci gopacket.CaptureInfo, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("pcapgo panicked on a malformed block: %v", v)
		}
	}()
	return s.r.ZeroCopyReadPacketData()
}
