package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/aegis-nsm/aegis/schemas"
)

// readAll reads every packet with Next and checks the Stats invariant.
func readAll(t *testing.T, r *FileReader) []schemas.Packet {
	t.Helper()
	var out []schemas.Packet
	for {
		var p schemas.Packet
		err := r.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, p)
	}
	checkInvariant(t, r.Stats())
	return out
}

func checkInvariant(t *testing.T, s Stats) {
	t.Helper()
	if s.Records != s.Decoded+s.Skipped() {
		t.Errorf("stats %v: records %d != decoded %d + skipped %d", s, s.Records, s.Decoded, s.Skipped())
	}
}

// sampleRecs is a small mixed Ethernet capture: TCP, UDP over VLAN, ARP.
func sampleRecs() []rec {
	return []rec{
		{ts: 1_700_000_000_123_456_000, frame: eth(etIPv4, ipv4(6, v4a, v4b, tcp(40000, 443, 1, tcpSynAck, 0, 0), 0))},
		{ts: 1_700_000_000_223_456_789, frame: eth(etVLAN, tag(etIPv6, ipv6(17, v6a, v6b, udp(1, 2, 30))))},
		{ts: 1_700_000_001_000_000_001, frame: eth(0x0806, make([]byte, 28))},
		{ts: 1_700_000_002_000_000_000, frame: eth(etIPv4, ipv4(6, v4b, v4a, tcp(443, 40000, 9, tcpPshAck, 0, 1000), 0))[:54], wire: 14 + 40 + 1000},
	}
}

func TestReadPcapFormats(t *testing.T) {
	recs := sampleRecs()
	for _, tc := range []struct {
		name       string
		nanos, big bool
		gz         bool
	}{
		{name: "micro little endian"},
		{name: "micro big endian", big: true},
		{name: "nano little endian", nanos: true},
		{name: "nano big endian", nanos: true, big: true},
		{name: "gzip nano", nanos: true, gz: true},
		{name: "gzip micro big endian", big: true, gz: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := pcapBytes(LinkEthernet, tc.nanos, tc.big, 65535, recs)
			if tc.gz {
				b = gzipBytes(t, b)
			}
			r, err := Open(writeTemp(t, "x.pcap", b))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if lt, ok := r.LinkType(); !ok || lt != LinkEthernet {
				t.Errorf("LinkType = %v, %v", lt, ok)
			}
			got := readAll(t, r)
			if len(got) != 3 {
				t.Fatalf("got %d packets, want 3", len(got))
			}
			wantTS := []int64{recs[0].ts, recs[1].ts, recs[3].ts}
			for i, p := range got {
				want := wantTS[i]
				if !tc.nanos {
					want -= want % 1000
				}
				if p.TS != want {
					t.Errorf("packet %d TS = %d, want %d", i, p.TS, want)
				}
			}
			if got[2].Payload != 1000 || got[2].WireLen != 1054 || got[2].IPLen != 1040 {
				t.Errorf("snaplen-cut packet = %+v, want payload 1000, wire 1054, ip 1040", got[2])
			}
			want := Stats{Records: 4, Decoded: 3, NotIP: 1, Files: 1}
			if s := r.Stats(); s != want {
				t.Errorf("Stats = %v, want %v", s, want)
			}
			if r.Err() != nil {
				t.Errorf("Err = %v", r.Err())
			}
			errs := r.SkipErrors()
			if len(errs) != 1 || !errors.Is(errs[0], ErrNotIP) || !strings.Contains(errs[0].Error(), "record 3") {
				t.Errorf("SkipErrors = %v, want one ErrNotIP naming record 3", errs)
			}
		})
	}
}

func TestReadBatchMatchesNext(t *testing.T) {
	var recs []rec
	for i := range 1000 {
		f := eth(etIPv4, ipv4(17, v4a, v4b, udp(uint16(i), 53, i%50), 0))
		if i%7 == 0 {
			f = eth(0x88cc, make([]byte, 40)) // LLDP
		}
		recs = append(recs, rec{ts: int64(i) * 1000, frame: f})
	}
	path := writeTemp(t, "b.pcap", pcapBytes(LinkEthernet, false, false, 65535, recs))
	r1, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	want := readAll(t, r1)

	for _, size := range []int{1, 7, 64, 5000} {
		r2, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []schemas.Packet
		buf := make([]schemas.Packet, size)
		for {
			n, err := r2.ReadBatch(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				if n != 0 {
					t.Fatal("io.EOF with packets")
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("batch %d: %d packets, want %d", size, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("batch %d: packet %d = %+v, want %+v", size, i, got[i], want[i])
			}
		}
		if r1.Stats() != r2.Stats() {
			t.Errorf("batch %d: stats %v, want %v", size, r2.Stats(), r1.Stats())
		}
		r2.Close()
	}
	if n, err := r1.ReadBatch(nil); n != 0 || err != nil {
		t.Errorf("ReadBatch(nil) = %d, %v", n, err)
	}
}

func TestReadPcapng(t *testing.T) {
	ifaces := []ngIface{
		{link: LinkEthernet},              // microseconds
		{link: LinkRaw, tsresol: 9},       // nanoseconds
		{link: 147},                       // LINKTYPE_USER0: unsupported
		{link: LinkLinuxSLL2, tsresol: 3}, // milliseconds
	}
	sll2 := func(et uint16, payload []byte) []byte {
		h := make([]byte, 20)
		h[0], h[1] = byte(et>>8), byte(et)
		return cat(h, payload)
	}
	recs := []ngRec{
		{0, rec{ts: 1_600_000_000_000_001_000, frame: eth(etIPv4, ipv4(6, v4a, v4b, tcp(1, 2, 3, schemas.TCPSyn, 0, 0), 0))}},
		{1, rec{ts: 1_600_000_000_000_001_234, frame: ipv6(17, v6a, v6b, udp(3, 4, 5))}},
		{2, rec{ts: 1_600_000_000_000_002_000, frame: make([]byte, 40)}},
		{0, rec{ts: 1_600_000_000_000_003_000, frame: eth(0x0806, make([]byte, 28))}},
		{2, rec{ts: 1_600_000_000_000_004_000, frame: make([]byte, 40)}},
		{3, rec{ts: 1_600_000_000_005_000_000, frame: sll2(etIPv4, ipv4(1, v4a, v4b, icmp(8, 0, 4), 0))}},
	}
	for _, big := range []bool{false, true} {
		t.Run(fmt.Sprintf("big endian %v", big), func(t *testing.T) {
			for _, gz := range []bool{false, true} {
				b := pcapngBytes(big, ifaces, recs)
				if gz {
					b = gzipBytes(t, b)
				}
				r, err := Open(writeTemp(t, "x.pcapng", b))
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := r.LinkType(); ok {
					t.Error("LinkType ok for pcapng")
				}
				got := readAll(t, r)
				want := []schemas.Packet{
					{TS: recs[0].ts, Tuple: tuple4(6, 1, 2), WireLen: 54, IPLen: 40, Seq: 3, TCPFlags: schemas.TCPSyn},
					{TS: recs[1].ts, Tuple: tuple6(17, 3, 4), WireLen: 53, IPLen: 53, Payload: 5},
					{TS: recs[5].ts, Tuple: tuple4(1, 8, 0), WireLen: 52, IPLen: 32, Payload: 4},
				}
				if len(got) != len(want) {
					t.Fatalf("got %d packets %+v, want %d", len(got), got, len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("packet %d = %+v, want %+v", i, got[i], want[i])
					}
				}
				wantStats := Stats{Records: 6, Decoded: 3, NotIP: 1, UnknownLinkType: 2, Files: 1}
				if s := r.Stats(); s != wantStats {
					t.Errorf("Stats = %v, want %v", s, wantStats)
				}
				var unk error
				for _, e := range r.SkipErrors() {
					if errors.Is(e, ErrUnknownLinkType) {
						unk = e
					}
				}
				if unk == nil || !strings.Contains(unk.Error(), "record 3: interface 2: link type 147") {
					t.Errorf("unknown link type error = %v", unk)
				}
				r.Close()
			}
		})
	}
}

func TestTruncatedFile(t *testing.T) {
	recs := sampleRecs()[:2]
	full := pcapBytes(LinkEthernet, false, false, 65535, recs)
	lastLen := 16 + len(recs[1].frame)
	ng := pcapngBytes(false, []ngIface{{link: LinkEthernet}}, []ngRec{{0, recs[0]}, {0, recs[1]}})
	gz := gzipBytes(t, full)
	for _, tc := range []struct {
		name    string
		b       []byte
		packets int // whole packets before the cut
	}{
		{"cut in the last record's data", full[:len(full)-lastLen/2], 1},
		{"cut in the last record's header", full[:len(full)-lastLen+7], 1},
		{"gzip of a file cut in the last record", gzipBytes(t, full[:len(full)-lastLen/2]), 1},
		{"gzip stream cut in its trailer", gz[:len(gz)-4], 2},
		{"gzip stream cut in the last record", gz[:len(gz)-30], 1},
		{"pcapng cut in the last block", ng[:len(ng)-20], 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "cut.pcap", tc.b)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := readAll(t, r)
			if len(got) != tc.packets {
				t.Fatalf("got %d packets, want %d", len(got), tc.packets)
			}
			// Reading again past the end stays at io.EOF.
			var p schemas.Packet
			if err := r.Next(&p); err != io.EOF {
				t.Errorf("Next after end = %v", err)
			}
			want := Stats{Records: uint64(tc.packets) + 1, Decoded: uint64(tc.packets), TruncatedRecord: 1, Files: 1}
			if s := r.Stats(); s != want {
				t.Errorf("Stats = %v, want %v", s, want)
			}
			err = r.Err()
			if !errors.Is(err, ErrTruncatedRecord) {
				t.Fatalf("Err = %v, want ErrTruncatedRecord", err)
			}
			if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("file %s: record %d:", path, tc.packets+1)) {
				t.Errorf("Err %q does not name file and record", msg)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	recs := sampleRecs()
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"unknown link type", pcapBytes(147, false, false, 65535, recs), ErrUnknownLinkType},
		{"not a capture", []byte("#separator \\x09\n#fields\tts\tuid\n"), ErrNotCapture},
		{"pcap version 3", func() []byte { b := pcapBytes(LinkEthernet, false, false, 65535, nil); b[4] = 3; return b }(), ErrNotCapture},
		{"empty file", nil, ErrTruncatedRecord},
		{"file header cut", pcapBytes(LinkEthernet, false, false, 65535, nil)[:10], ErrTruncatedRecord},
		{"pcapng header cut", pcapngBytes(false, nil, nil)[:10], ErrTruncatedRecord},
		{"gzip garbage", []byte{0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, ErrNotCapture},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "bad.pcap", tc.b)
			r, err := Open(path)
			if err == nil {
				r.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Open error = %v, want %v", err, tc.want)
			}
			var re *RecordError
			if !errors.As(err, &re) || re.File != path || !strings.HasPrefix(err.Error(), "file "+path+": ") {
				t.Errorf("Open error %q does not name the file", err)
			}
		})
	}
	if _, err := Open("/nonexistent/x.pcap"); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "file /nonexistent/x.pcap") {
		t.Errorf("Open missing file: %v", err)
	}
	dir := t.TempDir()
	if _, err := Open(dir); err == nil || errors.Is(err, ErrTruncatedRecord) || !strings.Contains(err.Error(), "file "+dir+": read:") {
		t.Errorf("Open directory: %v", err)
	}
	if _, err := (Config{ReadBufferSize: 10}).Open("x"); err == nil {
		t.Error("Open with an invalid Config succeeded")
	}
}

func TestBadRecord(t *testing.T) {
	b := pcapBytes(LinkEthernet, false, false, 1500, sampleRecs())
	// Make the second record's captured length absurd.
	off := 24 + 16 + len(sampleRecs()[0].frame)
	copy(b[off+8:], []byte{0xff, 0xff, 0xff, 0x7f})
	r, err := NewReader(bytes.NewReader(b), "bad.pcap")
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	if len(got) != 1 {
		t.Fatalf("got %d packets, want 1", len(got))
	}
	want := Stats{Records: 2, Decoded: 1, BadRecord: 1, Files: 1}
	if s := r.Stats(); s != want {
		t.Errorf("Stats = %v, want %v", s, want)
	}
	if err := r.Err(); !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), "file bad.pcap: record 2:") {
		t.Errorf("Err = %v", err)
	}
}

func TestSnaplenCutHeaders(t *testing.T) {
	full := eth(etIPv4, ipv4(6, v4a, v4b, tcp(1, 2, 3, schemas.TCPAck, 0, 1400), 0))
	recs := []rec{
		{ts: 1, frame: full[:54], wire: uint32(len(full))},
		{ts: 2, frame: full[:40], wire: uint32(len(full))},
		{ts: 3, frame: full[:30], wire: uint32(len(full))},
	}
	r, err := NewReader(bytes.NewReader(pcapBytes(LinkEthernet, false, false, 54, recs)), "cut.pcap")
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	if len(got) != 1 || got[0].Payload != 1400 || got[0].IPLen != 1440 {
		t.Fatalf("got %+v, want one packet with payload 1400", got)
	}
	want := Stats{Records: 3, Decoded: 1, TruncatedHeader: 2, Files: 1}
	if s := r.Stats(); s != want {
		t.Errorf("Stats = %v, want %v", s, want)
	}
	errs := r.SkipErrors()
	if len(errs) != 1 || !errors.Is(errs[0], ErrTruncatedHeader) ||
		errs[0].Error() != "file cut.pcap: record 2: capture: headers cut by the snap length (40 of 1454 bytes captured)" {
		t.Errorf("SkipErrors = %v", errs)
	}
}

// TestFastReaderMatchesPcapgo checks the hand-written classic pcap reader
// against pcapgo, the reference, record for record.
func TestFastReaderMatchesPcapgo(t *testing.T) {
	files := map[string][]byte{}
	files["generated"] = pcapBytes(LinkEthernet, false, false, 65535, genRecs(5000, 3))
	files["generated nanos big endian"] = pcapBytes(LinkEthernet, true, true, 65535, genRecs(777, 4))
	files["generated gzip"] = gzipBytes(t, pcapBytes(LinkEthernet, false, false, 65535, genRecs(3000, 5)))
	for _, path := range corpusFiles(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
			files[path] = b
		}
	}
	for name, b := range files {
		ref, err := pcapgo.NewReader(bytes.NewReader(b))
		if err != nil {
			// nfs3-01 is pcap version 2.1, which libpcap, Wireshark and
			// this package read and pcapgo refuses.
			t.Logf("%s: pcapgo cannot read it: %v", name, err)
			continue
		}
		fr, err := NewReader(bytes.NewReader(b), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if lt, _ := fr.LinkType(); lt != LinkType(ref.LinkType()) {
			t.Errorf("%s: link type %v, pcapgo %v", name, lt, ref.LinkType())
		}
		n := 0
		for ; ; n++ {
			want, wci, werr := ref.ZeroCopyReadPacketData()
			got, ci, err := fr.pcap.next()
			if werr == io.EOF || err == io.EOF {
				if werr != err {
					t.Errorf("%s: record %d: end: pcapgo %v, fast %v", name, n+1, werr, err)
				}
				break
			}
			if werr != nil || err != nil {
				t.Fatalf("%s: record %d: pcapgo %v, fast %v", name, n+1, werr, err)
			}
			if !bytes.Equal(got, want) || ci.TS != wci.Timestamp.UnixNano() || int(ci.WireLen) != wci.Length {
				t.Fatalf("%s: record %d differs: fast ts %d wire %d len %d, pcapgo ts %d wire %d len %d",
					name, n+1, ci.TS, ci.WireLen, len(got), wci.Timestamp.UnixNano(), wci.Length, len(want))
			}
		}
		if n == 0 {
			t.Errorf("%s: no records", name)
		}
	}
}
