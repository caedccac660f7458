package zeek

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestGoldenCorpus decodes every conn.log of the corpus (with its ssl.log
// when there is one) and compares all fields of all records with
// testdata/golden/<name>.json. Run with -update after a deliberate change
// and review the diff.
func TestGoldenCorpus(t *testing.T) {
	root := logscantest.Corpus(t, "zeek")
	dirs, err := filepath.Glob(filepath.Join(root, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		conn := filepath.Join(dir, "conn.log")
		if _, err := os.Stat(conn); err != nil {
			continue
		}
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			paths := []string{conn}
			if ssl := filepath.Join(dir, "ssl.log"); fileExists(ssl) {
				paths = append(paths, ssl)
			}
			flows, _, err := ReadFiles(paths...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range flows {
				rel, _ := filepath.Rel(logscantest.CorpusRoot, flows[i].File)
				flows[i].File = filepath.ToSlash(rel)
			}
			got, err := json.MarshalIndent(flows, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenCorpus -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decoded records differ from %s; run with -update and review the diff", golden)
			}
		})
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
