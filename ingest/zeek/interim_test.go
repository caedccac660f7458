package zeek

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
)

// connLongFrom writes a conn_long.log as corelight/zeek-long-connections
// would for the flows of a conn.log: the same columns under #path
// conn_long, and for each record with a duration two interim snapshots
// (at a third and two thirds of its duration, counters scaled, conn_state
// S1, duration as of the snapshot). It returns the path and the number of
// snapshots.
func connLongFrom(t *testing.T, conn string) (string, int) {
	t.Helper()
	raw, err := os.ReadFile(conn)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	var out strings.Builder
	n := 0
	for line := range strings.SplitSeq(strings.TrimSuffix(string(raw), "\n"), "\n") {
		if v, ok := strings.CutPrefix(line, "#path\t"); ok && v == "conn" {
			out.WriteString("#path\tconn_long\n")
			continue
		}
		if v, ok := strings.CutPrefix(line, "#fields\t"); ok {
			fields = strings.Split(v, "\t")
		}
		if strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		cols := strings.Split(line, "\t")
		col := map[string]int{}
		for i, f := range fields {
			col[f] = i
		}
		dur, err := strconv.ParseFloat(cols[col["duration"]], 64)
		if err != nil || dur == 0 {
			continue
		}
		for _, frac := range []float64{1.0 / 3, 2.0 / 3} {
			snap := append([]string(nil), cols...)
			snap[col["duration"]] = fmt.Sprintf("%.6f", dur*frac)
			snap[col["conn_state"]] = "S1"
			for _, c := range []string{"orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes"} {
				if i, ok := col[c]; ok {
					if v, err := strconv.ParseInt(cols[i], 10, 64); err == nil {
						snap[i] = strconv.FormatInt(int64(float64(v)*frac), 10)
					}
				}
			}
			out.WriteString(strings.Join(snap, "\t") + "\n")
			n++
		}
	}
	p := filepath.Join(t.TempDir(), "conn_long.log")
	if err := os.WriteFile(p, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, n
}

// TestCorpusConnLong decodes a conn_long.log generated from each corpus
// conn.log: every snapshot decodes, marked Interim; read with its conn.log,
// the final rows win; read alone, the latest snapshot of each uid is kept.
func TestCorpusConnLong(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(logscantest.Corpus(t, "zeek"), "*", "conn.log"))
	total := 0
	for _, conn := range files {
		t.Run(filepath.Base(filepath.Dir(conn)), func(t *testing.T) {
			long, snaps := connLongFrom(t, conn)
			total += snaps
			final, fst, err := ReadFile(conn)
			if err != nil {
				t.Fatal(err)
			}

			all, st, err := ReadFilesConfig(Config{KeepInterim: true}, long)
			if err != nil || st.Bad != 0 || len(all) != snaps || st.Interim != int64(snaps) {
				t.Fatalf("conn_long alone, all kept: %d flows of %d, %v %v", len(all), snaps, st, err)
			}
			for _, f := range all {
				if !f.Interim || f.ConnState != "S1" {
					t.Fatalf("snapshot not interim: %+v", f)
				}
			}

			latest, st, err := ReadFile(long)
			if err != nil || st.Bad != 0 || int64(len(latest)) != int64(snaps/2) || st.InterimSuperseded != int64(snaps/2) {
				t.Fatalf("conn_long alone: %d flows from %d snapshots, %v", len(latest), snaps, st)
			}
			for _, f := range latest {
				w := flowByUID(t, final, f.UID)
				// The later snapshot (two thirds of the duration) wins.
				if !f.Interim || f.End <= f.Start || f.End >= w.End+1000 || f.End-f.Start < (w.End-w.Start)/2 {
					t.Fatalf("kept snapshot %+v, final %+v", f, w)
				}
			}

			both, st, err := ReadFiles(long, conn)
			if err != nil || st.Bad != 0 || len(both) != len(final) || st.InterimSuperseded != int64(snaps) || st.Conn != fst.Conn+int64(snaps) {
				t.Fatalf("conn_long + conn: %d flows, conn.log has %d; %v", len(both), len(final), st)
			}
			for i, f := range both {
				if f.Interim || !strings.HasSuffix(f.File, "conn.log") || f.UID != final[i].UID {
					t.Fatalf("flow %d is not the final record: %+v", i, f)
				}
			}
		})
	}
	if total == 0 {
		t.Fatal("no snapshots generated")
	}
}

// TestSSLFingerprints reads the optional ssl.log columns the ja3 and ja4
// packages add, by name, wherever they are, and joins them by uid.
func TestSSLFingerprints(t *testing.T) {
	dir := t.TempDir()
	conn := filepath.Join(dir, "conn.log")
	ssl := filepath.Join(dir, "ssl.log")
	lines := append([]string(nil), connHeader...)
	lines = append(lines, connRow, row(1, "Cother"))
	os.WriteFile(conn, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	os.WriteFile(ssl, []byte(strings.Join([]string{
		`#separator \x09`, "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tssl",
		"#fields\tts\tja4\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\tcipher\tserver_name\tja3\tja3s\tsite_extra",
		"#types\ttime\tstring\tstring\taddr\tport\taddr\tport\tstring\tstring\tstring\tstring\tstring\tstring",
		"1.0\tt13d1516h2_8daaf6152771_02713d6af862\tCHhAvVGS1DHFjwGM9\t10.0.0.1\t1\t10.0.0.2\t443\tTLSv13\tTLS_AES_128_GCM_SHA256\tapi.openai.com\t773906b0efdefa24a7f2b8eb6985bf37\tf4febc55ea12b31ae17cfb7e614afda8\tx",
		"1.0\t-\tCother\t10.0.0.1\t1\t10.0.0.2\t443\t-\t-\t-\t-\t-\t-",
	}, "\n")+"\n"), 0o644)
	flows, st, err := ReadFiles(conn, ssl)
	if err != nil || st.Bad != 0 || len(flows) != 2 {
		t.Fatalf("%v %v %d", err, st, len(flows))
	}
	f := flows[0]
	fc := f.Ctx()
	if f.SNI != "api.openai.com" || fc.TLSVersion != "TLSv13" || fc.JA3 != "773906b0efdefa24a7f2b8eb6985bf37" ||
		fc.JA3S != "f4febc55ea12b31ae17cfb7e614afda8" || fc.JA4 != "t13d1516h2_8daaf6152771_02713d6af862" {
		t.Errorf("flow %+v", f)
	}
	if g := flows[1]; g.SNI != "" || g.Ctx().JA3 != "" || g.Ctx().TLSVersion != "" {
		t.Errorf("unset ssl fields attached: %+v", g)
	}
	if st.SSLMatched != 2 || st.SNIAttached != 1 {
		t.Errorf("stats %v", st)
	}
}

// TestCommunityIDZeekBaselines decodes a conn record for every connection
// of Zeek's community_id_v1 baselines (corpus/communityid/zeek-bifs) and
// checks the ID the decoder computes.
func TestCommunityIDZeekBaselines(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(logscantest.CorpusRoot, "communityid", "zeek-bifs", "baseline", "*.out"))
	if len(files) == 0 {
		t.Skip("corpus absent")
	}
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(raw), "\n") {
			id, cid, ok := strings.Cut(line, "], ")
			if !ok {
				continue
			}
			kv := map[string]string{}
			for p := range strings.SplitSeq(strings.TrimPrefix(id, "["), ", ") {
				k, v, _ := strings.Cut(p, "=")
				kv[k] = v
			}
			op, oproto, _ := strings.Cut(kv["orig_p"], "/")
			rp, _, _ := strings.Cut(kv["resp_p"], "/")
			proto := map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "58": "icmp"}[kv["proto"]]
			if proto == "" || oproto == "unknown" {
				proto = "unknown_transport"
			}
			js := fmt.Sprintf(`{"ts":1.0,"uid":"C1","id.orig_h":%q,"id.orig_p":%s,"id.resp_h":%q,"id.resp_p":%s,"proto":%q,"ip_proto":%s,"conn_state":"SF"}`,
				kv["orig_h"], op, kv["resp_h"], rp, proto, kv["proto"])
			d := newTestDecoder(t, Config{ComputeCommunityID: true})
			res, err := d.Decode([]byte(js))
			if err != nil || res.Flow.CommunityID != cid {
				t.Errorf("%s: %s: got %q (%v), want %s", filepath.Base(f), js, res.Flow.CommunityID, err, cid)
			}
			n++
		}
	}
	if n != 19 {
		t.Errorf("%d baseline connections, want 19", n)
	}
}
