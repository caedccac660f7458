package communityid

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

const corpus = "../../../shared/corpus/communityid/community-id-spec/baseline"

type vector struct {
	Proto       uint8  `json:"proto"`
	Saddr       string `json:"saddr"`
	Daddr       string `json:"daddr"`
	Sport       uint16 `json:"sport"`
	Dport       uint16 `json:"dport"`
	CommunityID string `json:"communityid"`
}

func tuple(t *testing.T, v vector) schemas.Tuple {
	t.Helper()
	s, err := netip.ParseAddr(v.Saddr)
	if err != nil {
		t.Fatal(err)
	}
	d, err := netip.ParseAddr(v.Daddr)
	if err != nil {
		t.Fatal(err)
	}
	return schemas.Tuple{SrcIP: schemas.IPFromAddr(s), DstIP: schemas.IPFromAddr(d), SrcPort: v.Sport, DstPort: v.Dport, Proto: v.Proto}
}

// TestSpecBaselines checks every vector of the spec's baseline files.
func TestSpecBaselines(t *testing.T) {
	files := []struct {
		name string
		seed uint16
		hex  bool
	}{{"baseline_deflt.json", 0, false}, {"baseline_seed1.json", 1, false}, {"baseline_nob64.json", 0, true}}
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(corpus, f.name))
		if os.IsNotExist(err) {
			t.Skipf("corpus absent (%v): the shared corpus is not beside the repository", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		var vs []vector
		if err := json.Unmarshal(raw, &vs); err != nil {
			t.Fatal(err)
		}
		if len(vs) == 0 {
			t.Fatalf("%s: no vectors", f.name)
		}
		h := Hasher{Seed: f.seed}
		for i, v := range vs {
			got := h.ID(tuple(t, v))
			if f.hex {
				got = h.HexID(tuple(t, v))
			}
			if got != v.CommunityID {
				t.Errorf("%s #%d %+v: got %s want %s", f.name, i, v, got, v.CommunityID)
			}
		}
	}
}

// TestReadmeVectors are the hand-checked vectors of the spec README; they
// need no corpus.
func TestReadmeVectors(t *testing.T) {
	cases := []struct {
		v    vector
		seed uint16
	}{
		{vector{6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM="}, 0},
		{vector{6, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:wCb3OG7yAFWelaUydu0D+125CLM="}, 0},
		{vector{17, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="}, 0},
		{vector{132, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="}, 0},
		{vector{1, "1.2.3.4", "5.6.7.8", 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="}, 0},
		{vector{1, "5.6.7.8", "1.2.3.4", 0, 8, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="}, 0},
		{vector{1, "1.2.3.4", "5.6.7.8", 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="}, 0},
		{vector{58, "fe80:1:203:405:607:809:a0b:c0d", "fe80:1011:1213:1415:1617:1819:1a1b:1c1d", 128, 129, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="}, 0},
		{vector{58, "fe80:1:203:405:607:809:a0b:c0d", "fe80:1011:1213:1415:1617:1819:1a1b:1c1d", 146, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10="}, 0},
		{vector{46, "1.2.3.4", "5.6.7.8", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768="}, 0},
		{vector{6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="}, 1},
		{vector{6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="}, 0},
		{vector{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="}, 0},
	}
	for _, c := range cases {
		if got := (Hasher{Seed: c.seed}).ID(tuple(t, c.v)); got != c.v.CommunityID {
			t.Errorf("%+v seed %d: got %s", c.v, c.seed, got)
		}
	}
}

func TestICMPPorts(t *testing.T) {
	if s, d := ICMPPorts(schemas.ProtoICMP, 0, 0); s != 0 || d != 8 {
		t.Fatalf("echo reply ports %d %d", s, d)
	}
	if s, d := ICMPPorts(schemas.ProtoICMP, 3, 1); s != 3 || d != 1 {
		t.Fatalf("unreachable ports %d %d", s, d)
	}
	if s, d := ICMPPorts(schemas.ProtoICMPv6, 128, 0); s != 128 || d != 129 {
		t.Fatalf("echo6 ports %d %d", s, d)
	}
}

func BenchmarkID(b *testing.B) {
	tp := schemas.Tuple{SrcIP: schemas.IPv4(10, 0, 0, 1), DstIP: schemas.IPv4(10, 0, 0, 2), SrcPort: 1, DstPort: 443, Proto: 6}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = Hasher{}.ID(tp)
	}
}

// ZeekBaseline is one line of a zeek-bifs baseline: the conn_id Zeek printed
// and the community_id_v1 it computed for it.
type ZeekBaseline struct {
	File        string
	Orig, Resp  netip.AddrPort
	Proto       uint8
	CommunityID string
}

// readZeekBaselines parses corpus/communityid/zeek-bifs/baseline/*.out:
// lines such as "[orig_h=192.168.0.89, orig_p=8/icmp, resp_h=192.168.0.1,
// resp_p=0/icmp, proto=1, ctx=[]], 1:X0snYXpgwiv9TZtqg64sgzUn6Dk=".
func readZeekBaselines(t *testing.T) []ZeekBaseline {
	t.Helper()
	dir := "../../../shared/corpus/communityid/zeek-bifs/baseline"
	files, _ := filepath.Glob(filepath.Join(dir, "*.out"))
	if len(files) == 0 {
		t.Skipf("corpus absent: no %s/*.out", dir)
	}
	var out []ZeekBaseline
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for ln, line := range strings.Split(string(raw), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			idPart, cid, ok := strings.Cut(line, "], ")
			if !ok || !strings.HasPrefix(idPart, "[") {
				t.Fatalf("%s:%d: unparsed %q", f, ln+1, line)
			}
			kv := map[string]string{}
			for p := range strings.SplitSeq(strings.TrimPrefix(idPart, "["), ", ") {
				k, v, _ := strings.Cut(p, "=")
				kv[k] = v
			}
			port := func(s string) uint16 {
				n, _, _ := strings.Cut(s, "/")
				p, err := strconv.ParseUint(n, 10, 16)
				if err != nil {
					t.Fatalf("%s:%d: port %q", f, ln+1, s)
				}
				return uint16(p)
			}
			proto, err := strconv.ParseUint(kv["proto"], 10, 8)
			if err != nil {
				t.Fatalf("%s:%d: proto %q", f, ln+1, kv["proto"])
			}
			out = append(out, ZeekBaseline{
				File:        filepath.Base(f),
				Orig:        netip.AddrPortFrom(netip.MustParseAddr(kv["orig_h"]), port(kv["orig_p"])),
				Resp:        netip.AddrPortFrom(netip.MustParseAddr(kv["resp_h"]), port(kv["resp_p"])),
				Proto:       uint8(proto),
				CommunityID: strings.TrimSpace(cid),
			})
		}
	}
	return out
}

// TestZeekBifsBaselines checks every connection of Zeek's own
// community_id_v1 test baselines (pcaps of TCP, UDP, SCTP, ICMP, ICMPv6 and
// IPv6; arp.pcap has none), with the ports as Zeek's conn_id holds them.
func TestZeekBifsBaselines(t *testing.T) {
	vs := readZeekBaselines(t)
	if len(vs) != 19 {
		t.Fatalf("parsed %d baseline connections, want 19 (arp.pcap.out has none)", len(vs))
	}
	for _, v := range vs {
		if got := (Hasher{}).ID(TupleOf(v.Orig, v.Resp, v.Proto)); got != v.CommunityID {
			t.Errorf("%s %v -> %v proto %d: got %s want %s", v.File, v.Orig, v.Resp, v.Proto, got, v.CommunityID)
		}
	}
}

func TestAppendIDMatchesID(t *testing.T) {
	tp := TupleOf(netip.MustParseAddrPort("1.2.3.4:1122"), netip.MustParseAddrPort("5.6.7.8:3344"), 6)
	buf := make([]byte, 0, 64)
	if got := string((Hasher{}).AppendID(buf[:0], tp)); got != "1:wCb3OG7yAFWelaUydu0D+125CLM=" {
		t.Fatalf("AppendID = %s", got)
	}
	if n := testing.AllocsPerRun(100, func() { buf = (Hasher{}).AppendID(buf[:0], tp) }); n != 0 {
		t.Fatalf("AppendID allocates %v times", n)
	}
}
