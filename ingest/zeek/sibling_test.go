package zeek

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSiblingCopies checks that the files shared with ingest/eve (the JSON
// scanner, the scalar parsers, the interner, the line reader and their
// tests) are identical apart from the package clause. The packages may not
// import each other, so the code is copied; this keeps the copies honest.
func TestSiblingCopies(t *testing.T) {
	sibling := filepath.Join("..", "eve")
	if _, err := os.Stat(sibling); err != nil {
		t.Skipf("sibling package not found at %s: %v", sibling, err)
	}
	for _, name := range []string{"lex.go", "jsonscan.go", "intern.go", "linereader.go", "lex_test.go", "jsonscan_test.go"} {
		mine, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := os.ReadFile(filepath.Join(sibling, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(dropPackageClause(mine), dropPackageClause(theirs)) {
			t.Errorf("%s differs from %s apart from the package clause; copy the changed one over", name, filepath.Join(sibling, name))
		}
	}
}

func dropPackageClause(b []byte) []byte {
	_, rest, _ := bytes.Cut(b, []byte("\n"))
	return rest
}
