package zeek

import (
	"errors"
	"strings"
	"testing"
)

// testdata/malformed-conn.log: a conn.log with a bad line of every kind, a
// #close and a second header block (Zeek restarted, the new block adds a
// community_id column), and a partial last line with no newline.
func TestMalformedConnLog(t *testing.T) {
	const path = "testdata/malformed-conn.log"
	flows, st, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// The good records around the bad ones are all there, with their lines.
	var got []string
	for _, f := range flows {
		got = append(got, f.UID)
	}
	if strings.Join(got, " ") != "CGoodA CGoodB CGoodC CGoodD CGoodE" {
		t.Errorf("flows %v, want CGoodA CGoodB CGoodC CGoodD CGoodE", got)
	}
	wantLines := []int64{9, 11, 18, 28, 30}
	for i, f := range flows {
		if i < len(wantLines) && f.Line != wantLines[i] {
			t.Errorf("%s: Line %d, want %d", f.UID, f.Line, wantLines[i])
		}
	}

	// Every bad line is counted by reason and named by line and field.
	want := []struct {
		line   int64
		field  string
		reason Reason
	}{
		{10, "", ReasonFieldCount},
		{12, "orig_bytes", ReasonBadNumber},
		{13, "id.orig_h", ReasonBadAddress},
		{14, "id.resp_p", ReasonBadPort},
		{15, "ts", ReasonBadTimestamp},
		{16, "", ReasonFieldCount},
		{17, "", ReasonBadJSON},
		{29, "", ReasonFieldCount}, // a row in the old layout after the new header
		{31, "", ReasonFieldCount}, // partial write at the end of the file
	}
	if len(st.Errors) != len(want) {
		t.Fatalf("%d errors, want %d: %v", len(st.Errors), len(want), st.Errors)
	}
	for i, w := range want {
		e := st.Errors[i]
		if e.File != path || e.Line != w.line || e.Field != w.field || e.Reason != w.reason {
			t.Errorf("error %d = %+v, want line %d field %q reason %s", i, e, w.line, w.field, w.reason)
		}
	}
	wantCounts := map[Reason]int64{ReasonFieldCount: 4, ReasonBadNumber: 1, ReasonBadAddress: 1, ReasonBadPort: 1, ReasonBadTimestamp: 1, ReasonBadJSON: 1}
	for r, n := range wantCounts {
		if st.BadByReason[r] != n {
			t.Errorf("BadByReason[%s] = %d, want %d", r, st.BadByReason[r], n)
		}
	}
	if st.Bad != 9 || st.Lines != 31 || st.HeaderBlocks != 2 || st.Conn != 5 || st.Lines != st.Meta+st.Conn+st.Bad {
		t.Errorf("stats %+v", st)
	}

	// The second block's community_id column is read; the first block had
	// none (and computing is off by default).
	if flows[3].CommunityID != "1:wCb3OG7yAFWelaUydu0D+125CLM=" || flows[0].CommunityID != "" || flows[4].CommunityID != "" || st.CommunityIDComputed != 0 {
		t.Errorf("community ids %q %q %q", flows[0].CommunityID, flows[3].CommunityID, flows[4].CommunityID)
	}
	if !flows[4].Tunnelled || flows[4].Service != "" {
		t.Errorf("CGoodE: %+v", flows[4])
	}

	// Error text names file, line, field and value.
	if s := st.Errors[1].Error(); s != `testdata/malformed-conn.log:12: field orig_bytes: bad_number "12a"` {
		t.Errorf("error text %q", s)
	}
	if s := st.Errors[0].Error(); s != `testdata/malformed-conn.log:10: field_count: 7 fields, header has 22` {
		t.Errorf("error text %q", s)
	}
}

func TestDecoderErrorsAreLineErrors(t *testing.T) {
	d := newTestDecoder(t, Config{})
	feed(t, d, connHeader)
	_, err := d.Decode([]byte("garbage without tabs"))
	var le *LineError
	if !errors.As(err, &le) || le.Line != int64(len(connHeader)+1) || le.Reason != ReasonFieldCount {
		t.Fatalf("err = %#v", err)
	}
	// The decoder is still usable.
	res, err := d.Decode([]byte(connRow))
	if err != nil || res.Kind != KindConn {
		t.Fatalf("after a bad line: %v, %v", res.Kind, err)
	}
}

func TestDataBeforeHeader(t *testing.T) {
	d := newTestDecoder(t, Config{})
	_, err := d.Decode([]byte(connRow))
	var le *LineError
	if !errors.As(err, &le) || le.Reason != ReasonNoHeader || le.Line != 1 {
		t.Fatalf("err = %v", err)
	}
}

func TestStatsString(t *testing.T) {
	_, st, err := ReadFile("testdata/malformed-conn.log")
	if err != nil {
		t.Fatal(err)
	}
	want := "31 lines: 5 conn, 0 ssl, 0 skipped, 9 bad (bad_address 1, bad_json 1, bad_number 1, bad_port 1, bad_timestamp 1, field_count 4); 2 header blocks"
	if got := st.String(); got != want {
		t.Errorf("String() = %q\nwant        %q", got, want)
	}
}

func TestWrongFormatAndUTF8(t *testing.T) {
	d := newTestDecoder(t, Config{})
	_, err := d.Decode([]byte(`{"timestamp":"2026-11-25T10:00:00.000000+0000","flow_id":1,"event_type":"flow","src_ip":"10.0.0.1","dest_ip":"10.0.0.2"}`))
	if le, ok := err.(*LineError); !ok || le.Reason != ReasonWrongFormat {
		t.Errorf("EVE line: %v", err)
	}
	feed(t, d, connHeader)
	// \xff is how Zeek escapes a raw byte; decoded it is not UTF-8.
	res := feed(t, d, []string{row(1, `C\xffbad`)})[0]
	if res.Flow.UID != "C\uFFFDbad" || d.Stats().InvalidUTF8 != 1 || d.Stats().Bad != 1 {
		t.Errorf("%q %+v", res.Flow.UID, d.Stats())
	}
}

func TestCommunityIDComputedByConfig(t *testing.T) {
	flows, st, err := ReadFilesConfig(Config{ComputeCommunityID: true}, "testdata/malformed-conn.log")
	if err != nil {
		t.Fatal(err)
	}
	// The logged value wins, even when it is not what the tuple hashes to;
	// the others are computed.
	if flows[3].CommunityID != "1:wCb3OG7yAFWelaUydu0D+125CLM=" || flows[0].CommunityID != "1:bIk6GTTC3mdl15sLPVaBNBxpGF8=" || st.CommunityIDComputed != 4 {
		t.Errorf("community ids %q %q, computed %d", flows[0].CommunityID, flows[3].CommunityID, st.CommunityIDComputed)
	}
}
