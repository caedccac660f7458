// Package sinktest holds what the tests of the sinks and output formats
// share: a few real detection records (`aegis analyze` over testdata/synth:
// an llm_stream with SNI, a handoff and an agent_shell), embedded so every
// test package reads the same fixture. Only tests import it.
package sinktest

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

//go:embed testdata/records.jsonl
var recordsJSONL []byte

// Lines returns the fixture records as JSON, byte for byte as analyze
// wrote them. The slices are the caller's.
func Lines() [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(recordsJSONL))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

// Records returns the fixture records decoded.
func Records(t testing.TB) []*schemas.Record {
	t.Helper()
	var recs []*schemas.Record
	for _, line := range Lines() {
		r := new(schemas.Record)
		if err := json.Unmarshal(line, r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}
