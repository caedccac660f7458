package attack

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// officialTSV is MITRE's list, beside the repository.
const officialTSV = "../../../shared/attack/enterprise-techniques.tsv"

// TestTableMatchesMITRE checks every entry of the table against the
// official ATT&CK list: the id exists, is active, and name and tactics
// match.
func TestTableMatchesMITRE(t *testing.T) {
	f, err := os.Open(officialTSV)
	if os.IsNotExist(err) {
		t.Skipf("official ATT&CK list not present at %s", officialTSV)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type row struct{ name, tactics, status string }
	official := map[string]row{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 4 || c[0] == "id" {
			continue
		}
		official[c[0]] = row{c[1], c[2], c[3]}
	}
	if len(official) < 500 {
		t.Fatalf("official list has only %d techniques: wrong file?", len(official))
	}
	if len(All()) < 30 {
		t.Fatalf("table has %d techniques, want the full mapping table", len(All()))
	}
	for _, tc := range All() {
		o, ok := official[tc.ID]
		switch {
		case !ok:
			t.Errorf("%s is not an ATT&CK Enterprise technique", tc.ID)
		case o.status != "active":
			t.Errorf("%s is %s, not active", tc.ID, o.status)
		case o.name != tc.Name:
			t.Errorf("%s: name %q, MITRE says %q", tc.ID, tc.Name, o.name)
		case o.tactics != strings.Join(tc.Tactics, ","):
			t.Errorf("%s: tactics %v, MITRE says %q", tc.ID, tc.Tactics, o.tactics)
		}
	}
}

func TestLookupAndNames(t *testing.T) {
	if tc, ok := Lookup("T1059.004"); !ok || tc.Name != "Unix Shell" || tc.Tactics[0] != "execution" {
		t.Errorf("Lookup(T1059.004) = %+v, %v", tc, ok)
	}
	if _, ok := Lookup("T9999"); ok {
		t.Error("Lookup(T9999) found a technique that does not exist")
	}
	got := Names([]string{"T1046", "T9999.001"})
	if got[0] != "Network Service Discovery" || got[1] != "T9999.001" {
		t.Errorf("Names = %q", got)
	}
	for _, id := range []string{"T1", "T12345", "T1234.01", "t1234", "T1234.0011"} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
}
