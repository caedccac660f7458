package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/communityid"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

// TestAnalyzeJoinsSuricataEVE writes the EVE flow and tls events Suricata
// logs for suricata/bug-2646-01 (values from its test.yaml, Community ID
// computed as Suricata does) and checks that analyze joins the pcap's flow
// to them by Community ID and carries flow_id and SNI into the record.
func TestAnalyzeJoinsSuricataEVE(t *testing.T) {
	needCorpus(t)
	pcap := filepath.Join(corpusDir, "suricata", "bug-2646-01", "input.pcap")
	flows := readFlowsWith(t, suricataTable(), pcap)
	var first, last int64
	for _, f := range flows {
		if f.OrigTuple.DstPort == 443 {
			first, last = f.First, f.Last
		}
	}
	if first == 0 {
		t.Fatal("no TLS flow in the capture")
	}
	ts := func(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000+0000") }
	cid := communityid.Hasher{}.ID(schemas.Tuple{SrcIP: schemas.IPv4(192, 168, 0, 253), DstIP: schemas.IPv4(151, 101, 36, 133), SrcPort: 49584, DstPort: 443, Proto: 6})
	const flowID = 1835403337263742 // above 2^50: must survive as an integer
	lines := []string{
		fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"tls","src_ip":"192.168.0.253","src_port":49584,"dest_ip":"151.101.36.133","dest_port":443,"proto":"TCP","tls":{"sni":"raw.githubusercontent.com","version":"TLS 1.2"}}`, ts(first), flowID),
		`{"event_type":"flow", "this line is": "broken"`,
		fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"flow","src_ip":"192.168.0.253","src_port":49584,"dest_ip":"151.101.36.133","dest_port":443,"proto":"TCP","app_proto":"tls","community_id":%q,"flow":{"pkts_toserver":10,"pkts_toclient":19,"bytes_toserver":1584,"bytes_toclient":6151,"start":%q,"end":%q,"age":57,"state":"closed","reason":"shutdown","alerted":false}}`,
			ts(last), flowID, cid, ts(first), ts(last)),
	}
	eve := filepath.Join(t.TempDir(), "eve.json")
	if err := os.WriteFile(eve, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd(t, "analyze", "--all", "--pcap", pcap, "--eve", eve)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := schemacheck.ValidateLines([]byte(out)); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r schemas.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Destination.Port != 443 {
			continue
		}
		found = true
		ids := r.Aegis.IDS
		if ids == nil || ids.Sensor != schemas.SensorSuricata || ids.JoinedBy != "community_id" || ids.FlowID != flowID {
			t.Fatalf("TLS flow not joined to the EVE flow event by community id: %+v", ids)
		}
		if r.TLS == nil || r.TLS.Client.ServerName != "raw.githubusercontent.com" {
			t.Fatalf("SNI from the tls event missing: %+v", r.TLS)
		}
		if r.Network.CommunityID != cid || r.Source.Packets != 10 || r.Destination.Packets != 19 {
			t.Fatalf("flow identity or counts differ: %s %d/%d", r.Network.CommunityID, r.Source.Packets, r.Destination.Packets)
		}
	}
	if !found {
		t.Fatal("no record for the TLS flow")
	}
	if !strings.Contains(errs, "eve:") || !strings.Contains(errs, "bad") {
		t.Fatalf("summary does not report the EVE input and its bad line:\n%s", errs)
	}
}
