package zeek

import (
	"strings"
	"testing"
)

// connHeader is a current (Zeek 7.1+) conn.log header.
var connHeader = []string{
	`#separator \x09`,
	"#set_separator\t,",
	"#empty_field\t(empty)",
	"#unset_field\t-",
	"#path\tconn",
	"#open\t2026-08-21-10-00-00",
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tip_proto",
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tcount",
}

// connRow is one conn record for connHeader.
const connRow = "1300475167.096535\tCHhAvVGS1DHFjwGM9\t141.142.220.202\t5353\t224.0.0.251\t5353\tudp\tdns\t0.000435\t38\t89\tSF\tF\tT\t0\tDd\t1\t66\t1\t117\t-\t17"

func newTestDecoder(t testing.TB, cfg Config) *Decoder {
	t.Helper()
	d, err := NewDecoder("test.log", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// feed decodes lines that must not fail.
func feed(t testing.TB, d *Decoder, lines []string) []Result {
	t.Helper()
	var out []Result
	for _, l := range lines {
		res, err := d.Decode([]byte(l))
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, res)
	}
	return out
}

// row returns connRow with column i replaced.
func row(i int, v string) string {
	cols := strings.Split(connRow, "\t")
	cols[i] = v
	return strings.Join(cols, "\t")
}
