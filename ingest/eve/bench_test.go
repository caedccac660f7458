package eve

import (
	"testing"
)

func benchLine(b *testing.B, line []byte, kind Kind) {
	d, err := NewDecoder("bench.json", Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line) + 1))
	b.ReportAllocs()
	for b.Loop() {
		res, err := d.Decode(line)
		if err != nil || res.Kind != kind {
			b.Fatal(res.Kind, err)
		}
	}
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

// BenchmarkDecodeEVEAlert measures an event that is validated, counted and
// skipped.
func BenchmarkDecodeEVEAlert(b *testing.B) {
	benchLine(b, []byte(`{"timestamp":"2023-09-18T06:13:41.532140+0000","flow_id":1676750115612680,"pcap_cnt":130,"event_type":"alert","src_ip":"142.11.240.191","src_port":35361,"dest_ip":"192.168.100.237","dest_port":49175,"proto":"TCP","pkt_src":"wire/pcap","ether":{"src_mac":"52:54:00:36:3e:ff","dest_mac":"12:a9:86:6c:77:de"},"tx_id":1,"alert":{"action":"allowed","gid":1,"signature_id":2045001,"rev":1,"signature":"ET ATTACK_RESPONSE Win32/LeftHook Stealer Browser Extension Config Inbound","category":"A Network Trojan was detected","severity":1,"metadata":{"affected_product":["Windows_XP_Vista_7_8_10_Server_32_64_Bit"],"attack_target":["Client_Endpoint"],"created_at":["2023_04_20"],"deployment":["Perimeter"],"malware_family":["LeftHook"],"performance_impact":["Low"],"signature_severity":["Major"],"updated_at":["2023_04_20"]}},"app_proto":"http","direction":"to_client","flow":{"pkts_toserver":15,"pkts_toclient":14,"bytes_toserver":3070,"bytes_toclient":2167,"start":"2023-09-18T06:13:33.324862+0000","src_ip":"192.168.100.237","dest_ip":"142.11.240.191","src_port":49175,"dest_port":35361}}`), KindSkipped)
}

// BenchmarkDecodeEVETLS measures a tls event (SNI kept).
func BenchmarkDecodeEVETLS(b *testing.B) {
	benchLine(b, []byte(`{"timestamp":"2019-05-13T12:05:32.372543+0000","flow_id":1454127794305760,"pcap_cnt":12,"event_type":"tls","src_ip":"192.168.0.253","src_port":49584,"dest_ip":"151.101.36.133","dest_port":443,"proto":"TCP","tls":{"subject":"C=US, ST=California, L=San Francisco, O=GitHub, Inc., CN=www.github.com","issuerdn":"C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert SHA2 High Assurance Server CA","serial":"08:3A:84:59:2F:77:F2:E7:95:1B:F8:87:CE:DE:C9:66","fingerprint":"cc:aa:48:48:66:46:0e:91:53:2c:9c:7c:23:2a:b1:74:4d:29:9d:33","sni":"raw.githubusercontent.com","version":"TLS 1.2","notbefore":"2017-03-23T00:00:00","notafter":"2020-05-13T12:00:00"}}`), KindSNI)
}
