// Package candidate decides which flows are worth a cadence analysis: the
// IDS records (and packet flows) that pass the configured protocol,
// duration, size, service, port, address and SNI filters. A flow that is
// not selected is acknowledged at once and costs a few comparisons.
//
// A Selector is read-only after New and safe for concurrent use.
package candidate

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// Config is the candidates section of aegis.yaml. Empty lists select
// everything.
type Config struct {
	// Protocols are transport names: tcp, udp (QUIC), icmp, sctp.
	Protocols []string `yaml:"protocols"`
	// MinDuration, MinPackets and MinBytes are lower bounds on the IDS
	// record's duration, packets (both directions) and payload bytes (both
	// directions). A streamed answer or a shell session is not one packet.
	MinDuration time.Duration `yaml:"min_duration"`
	MinPackets  int64         `yaml:"min_packets"`
	MinBytes    int64         `yaml:"min_bytes"`
	// Services are IDS service names (Zeek service / Suricata app_proto);
	// a record matches when any of its comma-separated services is listed.
	Services []string `yaml:"services"`
	// Ports are responder ports.
	Ports []uint16 `yaml:"ports"`
	// Include and Exclude are CIDRs; a flow is selected when either
	// endpoint is in Include (or Include is empty) and neither is in
	// Exclude.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// SNIAllow and SNIDeny are glob patterns (path.Match, case-insensitive:
	// "*.openai.com"). A flow with an SNI matching SNIDeny is dropped; when
	// SNIAllow is set, a flow with an SNI must match it (flows without SNI
	// pass: shells and plain TCP carry none).
	SNIAllow []string `yaml:"sni_allow"`
	SNIDeny  []string `yaml:"sni_deny"`
}

// DefaultConfig selects TCP and UDP flows of at least 1 s and 10 packets:
// shorter ones carry too few gaps for a cadence verdict.
func DefaultConfig() Config {
	return Config{Protocols: []string{"tcp", "udp"}, MinDuration: time.Second, MinPackets: 10}
}

var protoNumbers = map[string]uint8{"tcp": schemas.ProtoTCP, "udp": schemas.ProtoUDP, "icmp": schemas.ProtoICMP,
	"icmpv6": schemas.ProtoICMPv6, "sctp": schemas.ProtoSCTP}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	_, err := New(c)
	return err
}

// Selector applies a Config.
type Selector struct {
	protos   [256]bool
	anyProto bool
	cfg      Config
	ports    map[uint16]bool
	include  []netip.Prefix
	exclude  []netip.Prefix
	allow    []string
	deny     []string
}

// New compiles cfg.
func New(cfg Config) (*Selector, error) {
	s := &Selector{cfg: cfg, anyProto: len(cfg.Protocols) == 0}
	for _, p := range cfg.Protocols {
		n, ok := protoNumbers[strings.ToLower(p)]
		if !ok {
			return nil, fmt.Errorf("candidates: protocol %q is not one of tcp, udp, icmp, icmpv6, sctp", p)
		}
		s.protos[n] = true
	}
	if cfg.MinDuration < 0 || cfg.MinPackets < 0 || cfg.MinBytes < 0 {
		return nil, fmt.Errorf("candidates: min_duration, min_packets and min_bytes must not be negative")
	}
	if len(cfg.Ports) > 0 {
		s.ports = map[uint16]bool{}
		for _, p := range cfg.Ports {
			s.ports[p] = true
		}
	}
	var err error
	if s.include, err = prefixes("include", cfg.Include); err != nil {
		return nil, err
	}
	if s.exclude, err = prefixes("exclude", cfg.Exclude); err != nil {
		return nil, err
	}
	if s.allow, err = patterns("sni_allow", cfg.SNIAllow); err != nil {
		return nil, err
	}
	if s.deny, err = patterns("sni_deny", cfg.SNIDeny); err != nil {
		return nil, err
	}
	return s, nil
}

func prefixes(what string, cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("candidates: %s: %q is not a CIDR or address", what, c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func patterns(what string, globs []string) ([]string, error) {
	out := make([]string, 0, len(globs))
	for _, g := range globs {
		g = strings.ToLower(g)
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("candidates: %s: bad pattern %q: %v", what, g, err)
		}
		out = append(out, g)
	}
	return out, nil
}

// Reason says why a flow was not selected ("" when it was).
type Reason string

// Reasons a flow is not a candidate.
const (
	Selected     Reason = ""
	NotProtocol  Reason = "protocol"
	TooShort     Reason = "duration"
	TooFewPkts   Reason = "packets"
	TooFewBytes  Reason = "bytes"
	NotService   Reason = "service"
	NotPort      Reason = "port"
	NotIncluded  Reason = "not_included"
	Excluded     Reason = "excluded"
	SNIDenied    Reason = "sni_denied"
	SNINotListed Reason = "sni_not_allowed"
)

// IDS decides for an IDS record.
func (s *Selector) IDS(f *schemas.IDSFlow) Reason {
	if r := s.endpoints(f.Proto, f.Orig.Addr(), f.Resp.Addr(), f.Resp.Port()); r != Selected {
		return r
	}
	if s.cfg.MinDuration > 0 && f.End-f.Start < int64(s.cfg.MinDuration) {
		return TooShort
	}
	if s.cfg.MinPackets > 0 && f.OrigPkts+f.RespPkts < s.cfg.MinPackets {
		return TooFewPkts
	}
	if s.cfg.MinBytes > 0 && f.OrigBytes+f.RespBytes < s.cfg.MinBytes {
		return TooFewBytes
	}
	if len(s.cfg.Services) > 0 && !s.service(f.Service) {
		return NotService
	}
	if f.SNI != "" {
		sni := strings.ToLower(f.SNI)
		if matchAny(s.deny, sni) {
			return SNIDenied
		}
		if len(s.allow) > 0 && !matchAny(s.allow, sni) {
			return SNINotListed
		}
	}
	return Selected
}

// Tuple decides for a packet flow on what packets tell for sure (protocol,
// port, addresses), before its IDS record is known: flows no IDS record
// could select are not kept for the join. t's sender is the originator.
func (s *Selector) Tuple(t schemas.Tuple) Reason {
	return s.endpoints(t.Proto, t.SrcIP.Addr(), t.DstIP.Addr(), t.DstPort)
}

func (s *Selector) endpoints(proto uint8, orig, resp netip.Addr, respPort uint16) Reason {
	if !s.anyProto && !s.protos[proto] {
		return NotProtocol
	}
	if s.ports != nil && !s.ports[respPort] {
		return NotPort
	}
	orig, resp = orig.Unmap(), resp.Unmap()
	if len(s.include) > 0 && !contains(s.include, orig) && !contains(s.include, resp) {
		return NotIncluded
	}
	if contains(s.exclude, orig) || contains(s.exclude, resp) {
		return Excluded
	}
	return Selected
}

func (s *Selector) service(svc string) bool {
	for part := range strings.SplitSeq(svc, ",") {
		if slices.Contains(s.cfg.Services, part) {
			return true
		}
	}
	return false
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}
