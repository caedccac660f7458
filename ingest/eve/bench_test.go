package eve

import (
	"bufio"
	"fmt"
	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
	"testing"
	"time"
)

func benchLine(b *testing.B, line []byte, kind Kind) {
	d, err := NewDecoder("bench.json", Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line) + 1))
	b.ReportAllocs()
	cpu := logscantest.StartCPU()
	for b.Loop() {
		res, err := d.Decode(line)
		if err != nil || res.Kind != kind {
			b.Fatal(res.Kind, err)
		}
	}
	cpu.Report(b, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkDecodeEVEFlow measures the flow event of Suricata's
// documentation (580 bytes, with ether and tcp objects).
func BenchmarkDecodeEVEFlow(b *testing.B) {
	benchLine(b, []byte(docFlow), KindFlow)
}

// BenchmarkDecodeEVEFlowCommunityID adds community_id, the one string a
// flow event allocates.
func BenchmarkDecodeEVEFlowCommunityID(b *testing.B) {
	benchLine(b, []byte(docFlow[:len(docFlow)-1]+`,"community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg="}`), KindFlow)
}

// BenchmarkDecodeEVEAlert measures an alert event (a context record: the
// alert and its flow_id).
func BenchmarkDecodeEVEAlert(b *testing.B) {
	benchLine(b, []byte(`{"timestamp":"2023-09-18T06:13:41.532140+0000","flow_id":1676750115612680,"pcap_cnt":130,"event_type":"alert","src_ip":"142.11.240.191","src_port":35361,"dest_ip":"192.168.100.237","dest_port":49175,"proto":"TCP","pkt_src":"wire/pcap","ether":{"src_mac":"52:54:00:36:3e:ff","dest_mac":"12:a9:86:6c:77:de"},"tx_id":1,"alert":{"action":"allowed","gid":1,"signature_id":2045001,"rev":1,"signature":"ET ATTACK_RESPONSE Win32/LeftHook Stealer Browser Extension Config Inbound","category":"A Network Trojan was detected","severity":1,"metadata":{"affected_product":["Windows_XP_Vista_7_8_10_Server_32_64_Bit"],"attack_target":["Client_Endpoint"],"created_at":["2023_04_20"],"deployment":["Perimeter"],"malware_family":["LeftHook"],"performance_impact":["Low"],"signature_severity":["Major"],"updated_at":["2023_04_20"]}},"app_proto":"http","direction":"to_client","flow":{"pkts_toserver":15,"pkts_toclient":14,"bytes_toserver":3070,"bytes_toclient":2167,"start":"2023-09-18T06:13:33.324862+0000","src_ip":"192.168.100.237","dest_ip":"142.11.240.191","src_port":49175,"dest_port":35361}}`), KindContext)
}

// BenchmarkDecodeEVETLS measures a tls event (SNI kept).
func BenchmarkDecodeEVETLS(b *testing.B) {
	benchLine(b, []byte(`{"timestamp":"2019-05-13T12:05:32.372543+0000","flow_id":1454127794305760,"pcap_cnt":12,"event_type":"tls","src_ip":"192.168.0.253","src_port":49584,"dest_ip":"151.101.36.133","dest_port":443,"proto":"TCP","tls":{"subject":"C=US, ST=California, L=San Francisco, O=GitHub, Inc., CN=www.github.com","issuerdn":"C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert SHA2 High Assurance Server CA","serial":"08:3A:84:59:2F:77:F2:E7:95:1B:F8:87:CE:DE:C9:66","fingerprint":"cc:aa:48:48:66:46:0e:91:53:2c:9c:7c:23:2a:b1:74:4d:29:9d:33","sni":"raw.githubusercontent.com","version":"TLS 1.2","notbefore":"2017-03-23T00:00:00","notafter":"2020-05-13T12:00:00"}}`), KindContext)
}

// genEVE writes logscantest.BenchLines varied flow events shaped like
// Suricata 7's (with the tcp object), about 500 bytes a line.
func genEVE(w *bufio.Writer) {
	states := []string{"closed", "established", "new"}
	apps := []string{"tls", "dns", "http", "failed", "ssh"}
	for i := range logscantest.BenchLines {
		sec := 1_700_000_000 + i/100
		st := time.Unix(int64(sec), int64(i%1_000_000)*1000).UTC()
		en := st.Add(time.Duration(i%90_000) * time.Millisecond)
		fmt.Fprintf(w, `{"timestamp":"%s","flow_id":%d,"in_iface":"eth0","event_type":"flow","src_ip":"10.%d.%d.%d","src_port":%d,"dest_ip":"%d.%d.%d.%d","dest_port":%d,"proto":"TCP","app_proto":"%s","flow":{"pkts_toserver":%d,"pkts_toclient":%d,"bytes_toserver":%d,"bytes_toclient":%d,"start":"%s","end":"%s","age":%d,"state":"%s","reason":"timeout","alerted":false},"tcp":{"tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"1b","syn":true,"fin":true,"psh":true,"ack":true,"state":"closed"}}`+"\n",
			en.Format("2006-01-02T15:04:05.000000-0700"), uint64(i)*0x9e3779b97f4a7c15&0x7ffffffffffff,
			i>>16&255, i>>8&255, i&255, 1024+i%60000, 1+i%223, i>>8&255, i>>3&255, i&255, []int{443, 53, 80, 22}[i%4],
			apps[i%len(apps)], 1+i%300, i%500, 60+i%3_000_000, i%4_000_000,
			st.Format("2006-01-02T15:04:05.000000-0700"), en.Format("2006-01-02T15:04:05.000000-0700"),
			i%90, states[i%len(states)])
	}
}

// BenchmarkReadFileEVEFlow reads a generated 1-million-line eve.json of
// flow events through ReadFile: lines/s and allocs/line.
func BenchmarkReadFileEVEFlow(b *testing.B) {
	path := logscantest.BenchFile(b, "eve-flow-v1.json", genEVE)
	logscantest.BenchReadFile(b, path, logscantest.BenchLines, func(p string) (int, error) {
		flows, st, err := ReadFile(p)
		if st.Bad != 0 {
			b.Fatal(st)
		}
		return len(flows), err
	})
}

// BenchmarkWcEVE is `wc -l` on the same file, the yardstick.
func BenchmarkWcEVE(b *testing.B) {
	path := logscantest.BenchFile(b, "eve-flow-v1.json", genEVE)
	logscantest.BenchWc(b, path, logscantest.BenchLines)
}
