// Package logscantest holds the test helpers shared by the tests of the
// log decoders built on logscan (ingest/zeek, ingest/eve): the way to the
// shared corpus of real sensor output, and checks of the contracts the
// decoders have in common. It is for _test.go files only.
package logscantest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/logscan"
)

// CorpusRoot is the shared corpus of real Zeek and Suricata output (see its
// MANIFEST.md), as reached from the directory of a package two levels
// below the module root (ingest/zeek, ingest/eve), where go test runs that
// package's tests.
const CorpusRoot = "../../../shared/corpus"

// Corpus returns the path of a corpus file (rel is relative to
// CorpusRoot), skipping the test when the corpus is not there.
func Corpus(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(CorpusRoot, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus file %s not available (%v): the shared corpus is not checked out next to this repository", p, err)
	}
	return p
}

// CheckLineError stops the test unless err, returned by a decoder for the
// line numbered line of file, is a *logscan.LineError for that line with a
// Reason. It also formats the error, which must not panic.
func CheckLineError(t testing.TB, err error, file string, line int64) {
	t.Helper()
	var le *logscan.LineError
	if !errors.As(err, &le) || le.Line != line || le.Reason == "" || le.File != file {
		t.Fatalf("error %#v is not a LineError for line %d", err, line)
	}
	_ = le.Error()
}

// CheckConcurrentReads calls read once, then n times at once, and fails
// the test unless every call succeeds with the result of the first: the
// check of a reader documented as safe for concurrent use (run it with
// -race).
func CheckConcurrentReads[T any](t testing.TB, n int, read func() ([]T, error)) {
	t.Helper()
	want, err := read()
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, n)
	for range n {
		go func() {
			got, err := read()
			if err == nil && !reflect.DeepEqual(got, want) {
				err = errors.New("different result")
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
