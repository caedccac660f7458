package capture

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/communityid"
)

// corpusDir is the shared corpus of real captures (see its MANIFEST.md),
// reached from this package's directory.
const corpusDir = "../../../shared/corpus"

// corpusFiles lists the capture files of the corpus, or nil if it is
// absent.
func corpusFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if !d.IsDir() && (strings.HasSuffix(name, ".pcap") || strings.HasSuffix(name, ".pcapng") || strings.HasSuffix(name, ".pcap.gz")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	return files
}

func requireCorpus(t testing.TB) []string {
	t.Helper()
	files := corpusFiles(t)
	if files == nil {
		t.Skipf("corpus %s absent: real-capture checks skipped", corpusDir)
	}
	return files
}

// corpusCounts are the packet counts capinfos reports (MANIFEST.md), and
// the records this package skips and why: non-IP frames (ARP, STP, LLDP,
// PPPoE discovery and PPP control) and, in telnet-01, five TCP packets
// whose IPv4 total length runs past the end of the frame although the
// frame was captured whole (Zeek drops those as truncated_IP_len).
var corpusCounts = map[string]struct{ records, notIP, badHeader uint64 }{
	"communityid/community-id-spec/pcaps/arp.pcap":                 {6, 6, 0},
	"communityid/community-id-spec/pcaps/combined.pcap.gz":         {68, 6, 0},
	"communityid/community-id-spec/pcaps/icmp.pcap":                {4, 0, 0},
	"communityid/community-id-spec/pcaps/icmp6.pcap":               {20, 0, 0},
	"communityid/community-id-spec/pcaps/ipv6.pcap":                {17, 0, 0},
	"communityid/community-id-spec/pcaps/rsvp.pcap":                {2, 0, 0},
	"communityid/community-id-spec/pcaps/sctp.pcap":                {5, 0, 0},
	"communityid/community-id-spec/pcaps/tcp.pcap":                 {12, 0, 0},
	"communityid/community-id-spec/pcaps/udp.pcap":                 {2, 0, 0},
	"communityid/zeek-bifs/pcaps/arp.pcap":                         {6, 6, 0},
	"communityid/zeek-bifs/pcaps/icmp.pcap":                        {12, 0, 0},
	"communityid/zeek-bifs/pcaps/icmp6.pcap":                       {49, 0, 0},
	"communityid/zeek-bifs/pcaps/ipv6.pcap":                        {17, 0, 0},
	"communityid/zeek-bifs/pcaps/sctp.pcap":                        {74, 0, 0},
	"communityid/zeek-bifs/pcaps/tcp.pcap":                         {12, 0, 0},
	"communityid/zeek-bifs/pcaps/udp.pcap":                         {2, 0, 0},
	"interactive/ssh-sshniff/four_offers.pcapng":                   {124, 0, 0},
	"interactive/ssh-sshniff/known_pass_lsal_id_exit.pcapng":       {137, 0, 0},
	"interactive/ssh-sshniff/lstlpn_to_ss_tlpn_nopass_exit.pcapng": {132, 0, 0},
	"suricata/bug-2646-01/input.pcap":                              {29, 0, 0},
	"suricata/bug-6733-syn-packet-flow-output/input.pcap":          {1, 0, 0},
	"suricata/community-id-ipv6/input.pcap":                        {70, 0, 0},
	"suricata/decode-teredo-01/input.pcap":                         {78, 0, 0},
	"suricata/dns-udp-eve-txt/input.pcap":                          {4, 0, 0},
	"suricata/ethernet-eve/test.pcap":                              {132, 2, 0},
	"suricata/eve-flow-esp/input.pcap":                             {8, 0, 0},
	"suricata/nfs3-01/input.pcap":                                  {128, 0, 0},
	"suricata/output-eve-fileinfo/input.pcap":                      {10, 0, 0},
	"suricata/pgsql-upgrade-tls/input.pcap":                        {22, 0, 0},
	"suricata/rfb-protocol-3.3/06-vnc-Password-3.3.pcap":           {4763, 0, 0},
	"suricata/ssh-hassh/input.pcap":                                {35, 6, 0},
	"suricata/telnet-01/telnet.pcap":                               {92, 0, 5},
	"suricata/vxlan-decoder-03/vxlan.pcap":                         {100, 0, 0},
	"zeek/dhcp-all-msg-types/trace.pcap":                           {9, 0, 0},
	"zeek/ftp-cwd-navigation/trace.pcap":                           {8317, 0, 0},
	"zeek/ftp-ipv6/trace.pcap":                                     {136, 0, 0},
	"zeek/https-to-http/trace.pcap":                                {9, 0, 0},
	"zeek/imap-starttls/trace.pcap":                                {32, 0, 0},
	"zeek/irc-dcc-send/trace.pcapng":                               {1184, 0, 0},
	"zeek/mysql-tls12-aws-rds/trace.pcap":                          {25, 0, 0},
	"zeek/pppoe/trace.pcap":                                        {65, 40, 0},
	"zeek/quic-over-ppp/trace.pcap":                                {26, 0, 0},
	"zeek/redis-50-pings/trace.pcap":                               {116, 0, 0},
	"zeek/sctp-unknown-proto/trace.pcap":                           {74, 0, 0},
	"zeek/ssh-basic/trace.pcap":                                    {1797, 0, 0},
	"zeek/ssh-pre-banner/trace.pcap":                               {36, 0, 0},
	"zeek/tcp-retransmit-fast009/trace.pcap":                       {39, 0, 0},
	"zeek/teredo/trace.pcap":                                       {78, 0, 0},
	"zeek/vlan-mpls/trace.pcap":                                    {47, 0, 0},
	"zeek/wikipedia/trace.pcap":                                    {136, 10, 0},
}

// tsharkFields are the per-packet fields compared with tshark. With
// occurrence=f tshark reports the outermost instance, as Decode does.
var tsharkFields = []string{
	"frame.number", "frame.len", "frame.protocols",
	"ip.src", "ip.dst", "ip.len", "ip.proto", "ip.frag_offset",
	"ipv6.src", "ipv6.dst", "ipv6.plen",
	"tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.flags", "tcp.len",
	"udp.srcport", "udp.dstport",
	"icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
}

// tsharkFiles are the corpus files compared with tshark by default, one
// per link type and encapsulation the corpus has (tshark's start-up makes
// all files take a minute; set AEGIS_TSHARK_ALL=1 to compare them all).
var tsharkFiles = map[string]bool{
	"communityid/community-id-spec/pcaps/combined.pcap.gz": true, // gzip, ARP, RSVP, SCTP
	"communityid/zeek-bifs/pcaps/icmp.pcap":                true,
	"communityid/zeek-bifs/pcaps/icmp6.pcap":               true,
	"suricata/community-id-ipv6/input.pcap":                true,
	"suricata/eve-flow-esp/input.pcap":                     true,
	"suricata/nfs3-01/input.pcap":                          true, // pcap version 2.1
	"suricata/telnet-01/telnet.pcap":                       true, // IP lengths beyond the frame
	"suricata/vxlan-decoder-03/vxlan.pcap":                 true,
	"zeek/irc-dcc-send/trace.pcapng":                       true,
	"zeek/pppoe/trace.pcap":                                true,
	"zeek/quic-over-ppp/trace.pcap":                        true, // DLT_PPP
	"zeek/tcp-retransmit-fast009/trace.pcap":               true, // snap length cuts
	"zeek/teredo/trace.pcap":                               true,
	"zeek/vlan-mpls/trace.pcap":                            true,
	"zeek/wikipedia/trace.pcap":                            true,
}

// TestCorpusAgainstTshark compares every packet of corpus files with
// Wireshark's dissection: frame length, outer addresses, IP length, ports
// (ICMP type/code mapped the Zeek way), TCP sequence, flags and payload.
func TestCorpusAgainstTshark(t *testing.T) {
	files := requireCorpus(t)
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: per-packet comparison with Wireshark skipped")
	}
	if testing.Short() {
		t.Skip("-short: tshark comparison skipped")
	}
	all := os.Getenv("AEGIS_TSHARK_ALL") != ""
	for _, path := range files {
		rel, _ := filepath.Rel(corpusDir, path)
		if !all && !tsharkFiles[rel] {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			// Dissection above the transport layer is not compared; the
			// VNC dissector alone takes minutes on rfb-protocol-3.3.
			args := []string{"-n", "-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f",
				"-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE",
				"--disable-protocol", "vnc"}
			for _, f := range tsharkFields {
				args = append(args, "-e", f)
			}
			out, err := exec.Command(tshark, args...).Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			var lines []map[string]string
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				f := map[string]string{}
				for i, v := range strings.Split(sc.Text(), "\t") {
					if i < len(tsharkFields) {
						f[tsharkFields[i]] = v
					}
				}
				lines = append(lines, f)
			}
			n := 0
			eachRecord(t, path, func(p schemas.Packet, derr error) {
				n++
				if n > len(lines) {
					return
				}
				f := lines[n-1]
				var msg string
				switch derr {
				case nil:
					msg = compareTshark(p, f)
				case ErrNotIP:
					if f["ip.src"] != "" || f["ipv6.src"] != "" {
						msg = "not IP, but tshark sees IP"
					}
				case ErrBadHeader:
					// Only IP lengths beyond the frame are expected.
					if ipLen, _ := strconv.Atoi(f["ip.len"]); f["ip.src"] == "" || ipLen <= int(p.WireLen)-14 {
						msg = "bad header, but tshark sees nothing wrong"
					}
				default:
					msg = derr.Error()
				}
				if msg != "" {
					t.Errorf("packet %d (%s): %s\n  got %+v", n, f["frame.protocols"], msg, p)
				}
			})
			if n != len(lines) {
				t.Errorf("tshark saw %d packets, reader %d records", len(lines), n)
			}
		})
	}
}

// eachRecord decodes every record of a file, whether it decodes or not,
// and hands fn the packet (WireLen set even on error) and the Decode error.
func eachRecord(t *testing.T, path string, fn func(p schemas.Packet, err error)) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		var (
			frame []byte
			ci    CaptureInfo
			link  LinkType
			err   error
		)
		if r.pcap != nil {
			frame, ci, err = r.pcap.next()
			link = r.pcap.link
		} else {
			frame, ci, link, _, err = r.ng.next()
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		var p schemas.Packet
		err = decodeFrame(link, &p, frame, ci)
		fn(p, err)
	}
}

// compareTshark returns what differs between p and tshark's fields, or "".
func compareTshark(p schemas.Packet, f map[string]string) string {
	var diffs []string
	diff := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			diffs = append(diffs, fmt.Sprintf("%s: got %v, tshark %v", what, got, want))
		}
	}
	num := func(k string) uint64 {
		s := f[k]
		base := 10
		if strings.HasPrefix(s, "0x") {
			s, base = s[2:], 16
		}
		v, _ := strconv.ParseUint(s, base, 64)
		return v
	}
	diff("frame.len", p.WireLen, f["frame.len"])
	protos := strings.Split(f["frame.protocols"], ":")
	v4, v6 := slices.Index(protos, "ip"), slices.Index(protos, "ipv6")
	switch {
	case v4 >= 0 && (v6 < 0 || v4 < v6):
		diff("ip.src", p.Tuple.SrcIP, f["ip.src"])
		diff("ip.dst", p.Tuple.DstIP, f["ip.dst"])
		diff("ip.len", p.IPLen, f["ip.len"])
		diff("ip.proto", p.Tuple.Proto, f["ip.proto"])
		diff("fragment", p.Fragment, num("ip.frag_offset") != 0)
	case v6 >= 0:
		diff("ipv6.src", p.Tuple.SrcIP, f["ipv6.src"])
		diff("ipv6.dst", p.Tuple.DstIP, f["ipv6.dst"])
		diff("ipv6 length", p.IPLen, 40+num("ipv6.plen"))
	default:
		return "tshark sees no IP"
	}
	if p.Fragment {
		return strings.Join(diffs, "; ")
	}
	switch p.Tuple.Proto {
	case schemas.ProtoTCP:
		diff("tcp.srcport", p.Tuple.SrcPort, f["tcp.srcport"])
		diff("tcp.dstport", p.Tuple.DstPort, f["tcp.dstport"])
		diff("tcp.seq_raw", p.Seq, f["tcp.seq_raw"])
		diff("tcp.flags", p.TCPFlags, num("tcp.flags")&0xff)
		diff("tcp.len", p.Payload, f["tcp.len"])
	case schemas.ProtoUDP:
		diff("udp.srcport", p.Tuple.SrcPort, f["udp.srcport"])
		diff("udp.dstport", p.Tuple.DstPort, f["udp.dstport"])
	case schemas.ProtoICMP:
		typ, code := uint8(num("icmp.type")), uint8(num("icmp.code"))
		diff("icmp type", p.Tuple.SrcPort, typ)
		_, want := communityid.ICMPPorts(schemas.ProtoICMP, typ, code)
		diff("icmp counterpart", p.Tuple.DstPort, want)
	case schemas.ProtoICMPv6:
		typ, code := uint8(num("icmpv6.type")), uint8(num("icmpv6.code"))
		diff("icmpv6 type", p.Tuple.SrcPort, typ)
		_, want := communityid.ICMPPorts(schemas.ProtoICMPv6, typ, code)
		diff("icmpv6 counterpart", p.Tuple.DstPort, want)
	default:
		diff("ports", [2]uint16{p.Tuple.SrcPort, p.Tuple.DstPort}, [2]uint16{})
	}
	return strings.Join(diffs, "; ")
}
