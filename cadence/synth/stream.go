package synth

import "sort"

// A stream describes the bytes one side sends, as a function of the relative
// sequence number, without storing them: literal spans (protocol headers,
// plaintext requests) live in a small arena, text spans are filled with
// printable filler, and everything else is zero (ciphertext stands in as
// zeros). Because content depends only on the offset, a retransmission
// carries exactly the bytes of the original.
type stream struct {
	spans []span
	arena []byte
	bad   bool // a span was added out of order (an internal error)
}

func (s *stream) add(sp span) {
	if k := len(s.spans); k > 0 && sp.off < s.spans[k-1].off+s.spans[k-1].n {
		s.bad = true
	}
	s.spans = append(s.spans, sp)
}

type spanKind uint8

const (
	spanLit spanKind = iota + 1
	spanText
)

type span struct {
	off, n, a uint32 // relative offset, length, arena offset (literals)
	kind      spanKind
}

// lit places b at relative offset off.
func (s *stream) lit(off uint32, b []byte) {
	if len(b) == 0 {
		return
	}
	s.add(span{off: off, n: uint32(len(b)), a: uint32(len(s.arena)), kind: spanLit})
	s.arena = append(s.arena, b...)
}

// text marks n bytes at off as printable filler text.
func (s *stream) text(off uint32, n int) {
	if n <= 0 {
		return
	}
	s.add(span{off: off, n: uint32(n), kind: spanText})
}

// fill writes the content of [off, off+len(dst)) into dst.
func (s *stream) fill(dst []byte, off uint32) {
	clear(dst)
	end := off + uint32(len(dst))
	// Spans are appended in increasing offset order and do not overlap.
	i := sort.Search(len(s.spans), func(i int) bool { return s.spans[i].off+s.spans[i].n > off })
	for ; i < len(s.spans); i++ {
		sp := s.spans[i]
		if sp.off >= end {
			break
		}
		lo := max(sp.off, off)
		hi := min(sp.off+sp.n, end)
		d := dst[lo-off : hi-off]
		switch sp.kind {
		case spanLit:
			a := sp.a + (lo - sp.off)
			copy(d, s.arena[a:a+(hi-lo)])
		case spanText:
			fillText(d, lo)
		}
	}
}

// fillerText is the printable filler for plaintext payloads (shell output,
// FTP listings, model text). It is indexed by stream offset.
const fillerText = "total 48\r\ndrwxr-xr-x  6 deploy deploy 4096 Mar  2 09:14 .\r\n" +
	"drwxr-xr-x 18 root   root   4096 Feb 11 17:02 ..\r\n-rw-r--r--  1 deploy deploy  220 Jan  6  2025 .bash_logout\r\n" +
	"-rw-r--r--  1 deploy deploy 3771 Jan  6  2025 .bashrc\r\ndrwx------  3 deploy deploy 4096 Mar  1 22:40 .cache\r\n" +
	"-rw-r--r--  1 deploy deploy  807 Jan  6  2025 .profile\r\ndrwxr-xr-x  4 deploy deploy 4096 Mar  2 08:57 app\r\n" +
	"Mar  2 09:12:01 web-03 systemd[1]: Started Session 4182 of user deploy.\r\n" +
	"Mar  2 09:12:07 web-03 nginx[912]: 10.20.0.77 - - \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.29\"\r\n" +
	"  PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND\r\n" +
	" 1123 postgres  20   0  215448  27804  25164 S   1.3   0.7  12:04.55 postgres\r\n" +
	"The quick answer is that the configuration file is read once at start-up, so a change needs a reload. " +
	"To check which values are active, print the effective settings and compare them with the file. " +
	"If the service runs in a container, the file may be mounted read-only from the host.\r\n"

func fillText(d []byte, off uint32) {
	n := uint32(len(fillerText))
	p := off % n
	for len(d) > 0 {
		c := copy(d, fillerText[p:])
		d = d[c:]
		p = 0
	}
}
