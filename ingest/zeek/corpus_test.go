package zeek

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
	"github.com/aegis-nsm/aegis/schemas"
)

// dataRows counts the lines not starting with '#' (grep -vc '^#').
func dataRows(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte("#")) {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCorpusConnLogs(t *testing.T) {
	logscantest.Corpus(t, "zeek")
	files, err := filepath.Glob(filepath.Join(logscantest.CorpusRoot, "zeek", "*", "conn.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 17 {
		t.Fatalf("found %d conn.logs under %s/zeek, want 17", len(files), logscantest.CorpusRoot)
	}
	for _, path := range files {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			flows, st, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Bad != 0 {
				t.Errorf("%d bad lines: %v", st.Bad, st.Errors)
			}
			rows := dataRows(t, path)
			if int64(len(flows)) != rows || st.Conn != rows {
				t.Errorf("decoded %d flows (Stats.Conn %d), file has %d data rows", len(flows), st.Conn, rows)
			}
			if st.Lines != st.Meta+st.Conn+st.SSL+st.Skipped+st.Bad {
				t.Errorf("stats do not add up: %+v", st)
			}
			if st.HeaderBlocks != 1 {
				t.Errorf("HeaderBlocks = %d, want 1", st.HeaderBlocks)
			}
			for i, f := range flows {
				if f.Sensor != schemas.SensorZeek || f.File != path || f.Line < 10 || f.UID == "" ||
					!f.Orig.Addr().IsValid() || !f.Resp.Addr().IsValid() || f.Proto == 0 || f.End < f.Start {
					t.Errorf("flow %d implausible: %+v", i, f)
				}
			}
		})
	}
}

// flowByUID returns the flow with the given uid.
func flowByUID(t *testing.T, flows []schemas.IDSFlow, uid string) schemas.IDSFlow {
	t.Helper()
	for _, f := range flows {
		if f.UID == uid {
			return f
		}
	}
	t.Fatalf("no flow with uid %s", uid)
	return schemas.IDSFlow{}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestCorpusSpotValues(t *testing.T) {
	tests := []struct {
		log  string
		uid  string
		want schemas.IDSFlow // Sensor, File and UID are filled in
	}{
		{ // ssh-basic, first row: a complete SSH session
			"zeek/ssh-basic/conn.log", "CHhAvVGS1DHFjwGM9",
			schemas.IDSFlow{Line: 10, Start: 0, End: 6_159326000, Orig: ap("192.168.1.79:51880"), Resp: ap("131.159.21.1:22"),
				Proto: 6, Service: "ssh", ConnState: "SF", History: "ShAdDaFf", OrigPkts: 25, RespPkts: 20,
				OrigBytes: 2669, RespBytes: 2501, OrigIPBytes: 3981, RespIPBytes: 3549},
		},
		{ // ssh-basic: one of the ~535 KB transfers
			"zeek/ssh-basic/conn.log", "CBA8792iHmnhPLksKa",
			schemas.IDSFlow{Line: 33, Start: 0, End: 2_236727000, Orig: ap("192.168.1.32:58646"), Resp: ap("131.103.20.168:22"),
				Proto: 6, Service: "ssh", ConnState: "SF", History: "ShADadFf", OrigPkts: 179, RespPkts: 226,
				OrigBytes: 4477, RespBytes: 535101, OrigIPBytes: 13793, RespIPBytes: 546861},
		},
		{ // ssh-basic: udp with unset duration and byte counts ("-")
			"zeek/ssh-basic/conn.log", "CykQaM33ztNt0csB9a",
			schemas.IDSFlow{Line: 28, Start: 0, End: 0, Orig: ap("192.168.1.31:57621"), Resp: ap("192.168.1.255:57621"),
				Proto: 17, Service: "", ConnState: "S0", History: "D", OrigPkts: 1, RespPkts: 0,
				OrigBytes: 0, RespBytes: 0, OrigIPBytes: 72, RespIPBytes: 0},
		},
		{ // wikipedia: IPv6 mDNS, unset duration
			"zeek/wikipedia/conn.log", "ClEkJM2Vm5giqnMf4h",
			schemas.IDSFlow{Line: 11, Orig: ap("[fe80::217:f2ff:fed7:cf65]:5353"), Resp: ap("[ff02::fb]:5353"),
				Proto: 17, Service: "dns", ConnState: "S0", History: "D", OrigPkts: 1, OrigIPBytes: 199, RespIPBytes: 0},
		},
		{ // wikipedia: IPv6 LLMNR with a duration
			"zeek/wikipedia/conn.log", "CPhDKt12KQPUVbQz06",
			schemas.IDSFlow{Line: 29, End: 100096000, Orig: ap("[fe80::3074:17d5:2052:c324]:65373"), Resp: ap("[ff02::1:3]:5355"),
				Proto: 17, Service: "dns", ConnState: "S0", History: "D", OrigPkts: 2, OrigBytes: 66, OrigIPBytes: 162, RespIPBytes: 0},
		},
		{ // sctp: unknown_transport, numbered from ip_proto
			"zeek/sctp-unknown-proto/conn.log", "CHhAvVGS1DHFjwGM9",
			schemas.IDSFlow{Line: 10, End: 85447000, Orig: ap("192.168.170.8:0"), Resp: ap("192.168.170.56:0"),
				Proto: 132, ConnState: "OTH", OrigPkts: 37, RespPkts: 37, OrigIPBytes: 33256, RespIPBytes: 33524},
		},
		{ // teredo: ICMPv6 echo inside two tunnels
			"zeek/teredo/conn.log", "C9mvWx3ezztgzcexV7",
			schemas.IDSFlow{Line: 27, End: 463615000, Orig: ap("[2001:0:4137:9e50:8000:f12a:b9c8:2815]:128"), Resp: ap("[2001:4860:0:2001::68]:129"),
				Proto: 58, ConnState: "OTH", OrigPkts: 1, RespPkts: 1, OrigBytes: 4, RespBytes: 4, OrigIPBytes: 52, RespIPBytes: 52, Tunnelled: true},
		},
		{ // teredo: HTTP over IPv6 inside the tunnel
			"zeek/teredo/conn.log", "CNnMIj2QSd84NKf7U3",
			schemas.IDSFlow{Line: 28, End: 12_810848000, Orig: ap("[2001:0:4137:9e50:8000:f12a:b9c8:2815]:1286"), Resp: ap("[2001:4860:0:2001::68]:80"),
				Proto: 6, Service: "http", ConnState: "S1", History: "ShADad", OrigPkts: 10, RespPkts: 12, OrigBytes: 1675, RespBytes: 10467,
				OrigIPBytes: 2279, RespIPBytes: 11191, Tunnelled: true},
		},
		{ // teredo: the outer Teredo flow itself is not tunnelled
			"zeek/teredo/conn.log", "Ck51lg1bScffFj34Ri",
			schemas.IDSFlow{Line: 25, End: 13_293994000, Orig: ap("192.168.2.16:3797"), Resp: ap("83.170.1.38:32900"),
				Proto: 17, Service: "teredo", ConnState: "SF", History: "Dd", OrigPkts: 12, RespPkts: 13, OrigBytes: 2359, RespBytes: 11243,
				OrigIPBytes: 2695, RespIPBytes: 11607},
		},
		{ // pppoe: ICMPv6 logged as "icmp"
			"zeek/pppoe/conn.log", "CP5puj4I8PtEU4qzYg",
			schemas.IDSFlow{Line: 10, End: 156000000, Orig: ap("[fc00:0:2:100::1:1]:128"), Resp: ap("[fc00::1]:129"),
				Proto: 58, ConnState: "OTH", OrigPkts: 5, RespPkts: 5, OrigBytes: 260, RespBytes: 260, OrigIPBytes: 500, RespIPBytes: 500},
		},
		{ // quic-over-ppp: a real (unmasked) ts near the epoch
			"zeek/quic-over-ppp/conn.log", "C4J4Th3PJpwUYZZ6gc",
			schemas.IDSFlow{Line: 12, Start: 669020000, End: 669020000 + 112400000, Orig: ap("193.167.0.100:42834"), Resp: ap("193.167.100.100:443"),
				Proto: 17, ConnState: "SF", History: "Dd", OrigPkts: 10, RespPkts: 12, OrigBytes: 4039, RespBytes: 11996, OrigIPBytes: 4319, RespIPBytes: 12332},
		},
		{ // tcp-retransmit-fast009: gaps and retransmissions in history
			"zeek/tcp-retransmit-fast009/conn.log", "CHhAvVGS1DHFjwGM9",
			schemas.IDSFlow{Line: 10, End: 60_991770000, Orig: ap("10.0.88.85:50368"), Resp: ap("192.168.0.27:80"),
				Proto: 6, ConnState: "RSTO", History: "ShADaGdgtR", OrigPkts: 17, RespPkts: 22, OrigBytes: 474, RespBytes: 23783, OrigIPBytes: 1250, RespIPBytes: 28961},
		},
	}
	cache := map[string][]schemas.IDSFlow{}
	for _, tt := range tests {
		t.Run(tt.log+"/"+tt.uid, func(t *testing.T) {
			path := logscantest.Corpus(t, tt.log)
			flows, ok := cache[path]
			if !ok {
				var err error
				if flows, _, err = ReadFile(path); err != nil {
					t.Fatal(err)
				}
				cache[path] = flows
			}
			got := flowByUID(t, flows, tt.uid)
			want := tt.want
			want.Sensor, want.File, want.UID = schemas.SensorZeek, path, tt.uid
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestCorpusTunnelParents(t *testing.T) {
	flows, _, err := ReadFile(logscantest.Corpus(t, "zeek/teredo/conn.log"))
	if err != nil {
		t.Fatal(err)
	}
	var tunnelled []string
	for _, f := range flows {
		if f.Tunnelled {
			tunnelled = append(tunnelled, f.UID)
		}
	}
	want := "C9mvWx3ezztgzcexV7 CNnMIj2QSd84NKf7U3 CP5puj4I8PtEU4qzYg CUM0KZ3MLUfNB0cl11"
	if got := strings.Join(tunnelled, " "); got != want {
		t.Errorf("tunnelled flows %s, want %s", got, want)
	}
}

func TestCorpusMaskedTimestamps(t *testing.T) {
	// btest masks the first ts on each line; quic-over-ppp's start at the
	// epoch were left alone by the mask's pattern.
	_, st, err := ReadFile(logscantest.Corpus(t, "zeek/ssh-basic/conn.log"))
	if err != nil {
		t.Fatal(err)
	}
	if st.UnknownTime != 25 {
		t.Errorf("ssh-basic UnknownTime = %d, want 25", st.UnknownTime)
	}
	_, st, err = ReadFile(logscantest.Corpus(t, "zeek/quic-over-ppp/conn.log"))
	if err != nil {
		t.Fatal(err)
	}
	if st.UnknownTime != 0 {
		t.Errorf("quic-over-ppp UnknownTime = %d, want 0", st.UnknownTime)
	}
}

func TestCorpusSSLJoin(t *testing.T) {
	for _, dir := range []string{"zeek/imap-starttls", "zeek/mysql-tls12-aws-rds"} {
		t.Run(dir, func(t *testing.T) {
			conn, ssl := logscantest.Corpus(t, dir+"/conn.log"), logscantest.Corpus(t, dir+"/ssl.log")
			flows, st, err := ReadFiles(conn, ssl)
			if err != nil {
				t.Fatal(err)
			}
			if len(flows) != 1 || st.SSL != 1 || st.SSLMatched != 1 || st.SSLUnmatched != 0 || st.Bad != 0 {
				t.Fatalf("flows %d, stats %+v", len(flows), st)
			}
			// Both baselines log server_name as unset ("-"): the client sent
			// no SNI, and none may be invented.
			if flows[0].SNI != "" || st.SNIAttached != 0 {
				t.Errorf("SNI = %q, SNIAttached = %d; the ssl.log has server_name unset", flows[0].SNI, st.SNIAttached)
			}

			// The same ssl.log with a server_name filled in (column found by
			// the header, as Zeek would write it) attaches to the conn row.
			withSNI := setColumn(t, ssl, "server_name", "imap.example.net")
			flows, st, err = ReadFiles(conn, withSNI)
			if err != nil {
				t.Fatal(err)
			}
			if flows[0].SNI != "imap.example.net" || st.SNIAttached != 1 || flows[0].File != conn {
				t.Errorf("SNI = %q, SNIAttached %d, File %s", flows[0].SNI, st.SNIAttached, flows[0].File)
			}
			// Order does not matter: ssl.log first works too.
			flows, _, err = ReadFiles(withSNI, conn)
			if err != nil || len(flows) != 1 || flows[0].SNI != "imap.example.net" {
				t.Errorf("ssl.log first: %v, %+v", err, flows)
			}
		})
	}
}

// setColumn copies a Zeek TSV log to a temporary file with the named
// column of every data row set to value.
func setColumn(t *testing.T, path, column, value string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	idx := -1
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "#fields\t"); ok {
			for i, f := range strings.Split(rest, "\t") {
				if f == column {
					idx = i
				}
			}
		} else if idx >= 0 && line != "" && !strings.HasPrefix(line, "#") {
			cols := strings.Split(line, "\t")
			cols[idx] = value
			line = strings.Join(cols, "\t")
		}
		out = append(out, line)
	}
	if idx < 0 {
		t.Fatalf("%s has no %s column", path, column)
	}
	p := filepath.Join(t.TempDir(), "ssl.log")
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCorpusOtherLogsSkipped(t *testing.T) {
	// Every other log in the corpus is recognised by its #path and
	// skipped without an error.
	files, err := filepath.Glob(filepath.Join(logscantest.Corpus(t, "zeek"), "*", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		base := filepath.Base(path)
		if base == "conn.log" || base == "ssl.log" {
			continue
		}
		flows, st, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(base, ".log")
		if len(flows) != 0 || st.Bad != 0 || st.Skipped != dataRows(t, path) || st.SkippedByPath[want] != st.Skipped {
			t.Errorf("%s: %d flows, stats %+v", path, len(flows), st)
		}
	}
}
