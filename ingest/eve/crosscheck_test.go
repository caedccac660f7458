package eve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
)

// pcapTimes returns the first and last packet time (ns) and the sum of the
// frame lengths of a classic little-endian microsecond pcap file.
func pcapTimes(t *testing.T, path string) (first, last, frameBytes int64, packets int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 24 || binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 {
		t.Fatalf("%s: not a little-endian microsecond pcap", path)
	}
	for off := 24; off+16 <= len(data); {
		sec := int64(binary.LittleEndian.Uint32(data[off:]))
		usec := int64(binary.LittleEndian.Uint32(data[off+4:]))
		incl := int(binary.LittleEndian.Uint32(data[off+8:]))
		orig := int64(binary.LittleEndian.Uint32(data[off+12:]))
		ns := sec*1e9 + usec*1e3
		if packets == 0 {
			first = ns
		}
		last = ns
		frameBytes += orig
		packets++
		off += 16 + incl
	}
	return first, last, frameBytes, packets
}

// suricataTime formats ns the way Suricata's EVE output does, in the zone
// of the given offset: "2006-01-02T15:04:05.000000-0700".
func suricataTime(ns int64, offsetSeconds int) string {
	zone := time.FixedZone("", offsetSeconds)
	return time.Unix(0, ns).In(zone).Format("2006-01-02T15:04:05.000000-0700")
}

// TestBug2646 rebuilds the flow and tls events of suricata-verify's
// bug-2646-01 from its test.yaml, with flow.start and flow.end taken from
// the pcap (all 29 packets are this one flow: 10 + 19), written as a sensor
// in UTC and one at -0500 would write them, and checks the decoded flow
// against the expectations: pkts 10/19, bytes 1584/6151, age 57.
func TestBug2646(t *testing.T) {
	first, last, frameBytes, packets := pcapTimes(t, logscantest.Corpus(t, "suricata/bug-2646-01/input.pcap"))
	if packets != 29 || frameBytes != 1584+6151 {
		t.Fatalf("pcap: %d packets, %d frame bytes; want 29 and 7735", packets, frameBytes)
	}
	filters := readTestYAML(t, logscantest.Corpus(t, "suricata/bug-2646-01/test.yaml"))
	if len(filters) != 2 {
		t.Fatalf("%d filters", len(filters))
	}
	const flowID = 1<<51 - 12345 // a full-width 51-bit id
	for _, offset := range []int{0, -5 * 3600} {
		t.Run(strconv.Itoa(offset), func(t *testing.T) {
			var input bytes.Buffer
			tlsLine := filters[0].eveLine(t, map[string]any{
				"timestamp": suricataTime(first+300e6, offset),
				"flow_id":   json.Number(strconv.FormatUint(flowID, 10)),
			})
			flowLine := filters[1].eveLine(t, map[string]any{
				"timestamp":  suricataTime(last, offset),
				"flow_id":    json.Number(strconv.FormatUint(flowID, 10)),
				"flow.start": suricataTime(first, offset),
				"flow.end":   suricataTime(last, offset),
			})
			if offset != 0 && !bytes.Contains(flowLine, []byte("-0500")) {
				t.Fatalf("no -0500 offset in %s", flowLine)
			}
			fmt.Fprintf(&input, "%s\n%s\n", tlsLine, flowLine)
			flows, st, err := Read(&input, "eve.json", Config{})
			if err != nil {
				t.Fatal(err)
			}
			if len(flows) != 1 || st.Bad != 0 || st.SNIAttached != 1 || st.ContextMatched != 1 {
				t.Fatalf("flows %+v, stats %+v", flows, st)
			}
			f := flows[0]
			if f.OrigPkts != 10 || f.RespPkts != 19 || f.OrigBytes != 1584 || f.RespBytes != 6151 {
				t.Errorf("counters %d/%d pkts, %d/%d bytes", f.OrigPkts, f.RespPkts, f.OrigBytes, f.RespBytes)
			}
			if f.Start != first || f.End != last || (f.End-f.Start)/int64(time.Second) != 57 {
				t.Errorf("Start %d End %d (age %ds); pcap says %d to %d, test.yaml age 57", f.Start, f.End, (f.End-f.Start)/1e9, first, last)
			}
			want := netip.MustParseAddrPort("192.168.0.253:49584")
			if f.Orig != want || f.Resp != netip.MustParseAddrPort("151.101.36.133:443") || f.Proto != 6 ||
				f.Service != "tls" || f.ConnState != "closed" || f.FlowID != flowID || f.SNI != "raw.githubusercontent.com" || f.Line != 2 {
				t.Errorf("flow %+v", f)
			}
		})
	}
}

// TestCommunityIDIPv6 rebuilds suricata-verify's community-id-ipv6: two
// TLS 1.3 flows over IPv6 with community_id, SNI joined by flow_id.
func TestCommunityIDIPv6(t *testing.T) {
	filters := readTestYAML(t, logscantest.Corpus(t, "suricata/community-id-ipv6/test.yaml"))
	if len(filters) != 4 {
		t.Fatalf("%d filters", len(filters))
	}
	var input bytes.Buffer
	for _, f := range filters {
		// Events of one flow share flow_id: key it by the source port.
		port, _ := f.get("src_port")
		input.Write(f.eveLine(t, map[string]any{
			"timestamp":  "2023-06-21T10:00:00.000000+0000",
			"flow_id":    json.Number("9" + port),
			"flow.start": "2023-06-21T10:00:00.000000+0000",
			"flow.end":   "2023-06-21T10:00:00.150000+0000",
		}))
		input.WriteByte('\n')
	}
	flows, st, err := Read(&input, "eve.json", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 2 || st.Context != 2 || st.SNIAttached != 2 || st.Bad != 0 {
		t.Fatalf("flows %+v, stats %+v", flows, st)
	}
	want := map[uint16]struct {
		resp        string
		cid, sni    string
		pkts, bytes [2]int64
		state       string
	}{
		33892: {"[2001:4860:4860::8888]:443", "1:PGf+a0eBbs1OhuPtJmsF0Sm51v4=", "dns.google", [2]int64{17, 17}, [2]int64{2303, 7122}, "established"},
		60202: {"[2607:f8b0:400a:800::200e]:443", "1:ptJhMvufAbB5nLDNW77cB800wFM=", "ipv6.google.com", [2]int64{18, 18}, [2]int64{2439, 28862}, "closed"},
	}
	for _, f := range flows {
		w, ok := want[f.Orig.Port()]
		if !ok {
			t.Errorf("unexpected flow %+v", f)
			continue
		}
		if f.Orig.Addr() != netip.MustParseAddr("2600:1f13:f8:d400:3a6:303c:e011:18eb") || f.Resp != netip.MustParseAddrPort(w.resp) ||
			f.CommunityID != w.cid || f.SNI != w.sni || f.OrigPkts != w.pkts[0] || f.RespPkts != w.pkts[1] ||
			f.OrigBytes != w.bytes[0] || f.RespBytes != w.bytes[1] || f.ConnState != w.state || f.Proto != 6 || f.End-f.Start != 150e6 {
			t.Errorf("flow %+v, want %+v", f, w)
		}
	}
}
