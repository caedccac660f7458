package candidate

import (
	"net/netip"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

func ids(orig, resp string, proto uint8, dur time.Duration, pkts int64, svc, sni string) *schemas.IDSFlow {
	return &schemas.IDSFlow{
		Orig: netip.MustParseAddrPort(orig), Resp: netip.MustParseAddrPort(resp), Proto: proto,
		Start: 1e18, End: 1e18 + int64(dur), OrigPkts: pkts / 2, RespPkts: pkts - pkts/2,
		OrigBytes: pkts * 100, RespBytes: pkts * 200, Service: svc, SNI: sni,
	}
}

func TestSelector(t *testing.T) {
	cfg := Config{
		Protocols: []string{"tcp"}, MinDuration: time.Second, MinPackets: 10,
		Services: []string{"ssl", "ssh"}, Include: []string{"10.0.0.0/8", "2001:db8::/32"},
		Exclude: []string{"10.66.0.0/16", "10.9.9.9"}, SNIAllow: []string{"*.openai.com", "api.anthropic.com"},
		SNIDeny: []string{"*.internal.example"},
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    *schemas.IDSFlow
		want Reason
	}{
		{"llm stream", ids("10.0.0.5:50000", "104.18.1.1:443", 6, 30*time.Second, 400, "ssl", "api.openai.com"), Selected},
		{"ssh session without sni", ids("10.0.0.5:50000", "10.0.1.1:22", 6, time.Minute, 300, "ssh", ""), Selected},
		{"several services", ids("10.0.0.5:50000", "10.0.1.1:443", 6, time.Minute, 300, "http,ssl", ""), Selected},
		{"ipv6", ids("[2001:db8::5]:50000", "[2606:4700::1]:443", 6, time.Minute, 300, "ssl", "chat.openai.com"), Selected},
		{"udp", ids("10.0.0.5:50000", "8.8.8.8:443", 17, time.Minute, 300, "ssl", ""), NotProtocol},
		{"short", ids("10.0.0.5:50000", "10.0.1.1:22", 6, 500*time.Millisecond, 300, "ssh", ""), TooShort},
		{"few packets", ids("10.0.0.5:50000", "10.0.1.1:22", 6, time.Minute, 4, "ssh", ""), TooFewPkts},
		{"service", ids("10.0.0.5:50000", "10.0.1.1:53", 6, time.Minute, 300, "dns", ""), NotService},
		{"outside include", ids("192.168.1.5:50000", "8.8.8.8:443", 6, time.Minute, 300, "ssl", ""), NotIncluded},
		{"excluded net", ids("10.66.1.5:50000", "8.8.8.8:443", 6, time.Minute, 300, "ssl", ""), Excluded},
		{"excluded host as responder", ids("10.0.0.5:50000", "10.9.9.9:22", 6, time.Minute, 300, "ssh", ""), Excluded},
		{"sni denied", ids("10.0.0.5:50000", "10.0.1.1:443", 6, time.Minute, 300, "ssl", "VAULT.internal.example"), SNIDenied},
		{"sni not allowed", ids("10.0.0.5:50000", "1.1.1.1:443", 6, time.Minute, 300, "ssl", "www.example.com"), SNINotListed},
	}
	for _, c := range cases {
		if got := s.IDS(c.f); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	tup := schemas.Tuple{SrcIP: schemas.IPv4(10, 0, 0, 5), DstIP: schemas.IPv4(10, 66, 0, 1), SrcPort: 5, DstPort: 443, Proto: 6}
	if got := s.Tuple(tup); got != Excluded {
		t.Errorf("Tuple: %q, want excluded", got)
	}
	tup.DstIP = schemas.IPv4(10, 1, 0, 1)
	if got := s.Tuple(tup); got != Selected {
		t.Errorf("Tuple: %q, want selected", got)
	}
}

func TestEmptyConfigSelectsAll(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.IDS(ids("1.2.3.4:1", "5.6.7.8:2", 1, 0, 1, "", "x")); got != Selected {
		t.Errorf("%q", got)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Protocols: []string{"tcpp"}},
		{Include: []string{"10.0.0.0/33"}},
		{Exclude: []string{"not-an-ip"}},
		{SNIAllow: []string{"[*.openai.com"}},
		{MinPackets: -1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}
