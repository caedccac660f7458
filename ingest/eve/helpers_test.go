package eve

import "testing"

func newTestDecoder(t testing.TB) *Decoder {
	t.Helper()
	d, err := NewDecoder("eve.json", Config{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// docFlow is the flow event of Suricata's EVE documentation
// (eve-doc-examples.jsonl line 6).
const docFlow = `{"timestamp":"2023-09-18T06:13:21.216460+0000","flow_id":1676750115612680,"event_type":"flow","src_ip":"192.168.100.237","src_port":49175,"dest_ip":"142.11.240.191","dest_port":35361,"proto":"TCP","app_proto":"http","flow":{"pkts_toserver":3869,"pkts_toclient":1523,"bytes_toserver":3536402,"bytes_toclient":94102,"start":"2023-09-18T06:13:33.324862+0000","end":"2023-09-18T06:14:13.752399+0000","age":40,"state":"closed","reason":"shutdown","alerted":true,"exception_policy":[{"target":"stream_midstream","policy":"ignore"}]},"ether":{"dest_macs":["52:54:00:36:3e:ff"],"src_macs":["12:a9:86:6c:77:de"]},"tcp":{"tcp_flags":"1e","tcp_flags_ts":"1e","tcp_flags_tc":"1a","syn":true,"rst":true,"psh":true,"ack":true,"state":"closed","ts_max_regions":1,"tc_max_regions":1}}`
