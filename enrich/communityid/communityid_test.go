package communityid

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
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
