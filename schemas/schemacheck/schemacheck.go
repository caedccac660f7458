// Package schemacheck validates JSON documents against the JSON Schemas of
// the records Aegis publishes (detection records, verdicts, and the other
// kinds). Tests across Aegis use it to check every record they produce; it
// is safe for concurrent use.
package schemacheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schema is one compiled record schema, built on first use.
type Schema struct {
	name string // "record", "verdict", ...: names the schema in errors
	raw  []byte // the embedded JSON Schema document

	once     sync.Once
	compiled *jsonschema.Schema
	err      error
}

// newSchema returns the validator of the JSON Schema raw, named name.
func newSchema(name string, raw []byte) *Schema { return &Schema{name: name, raw: raw} }

func (s *Schema) build() (*jsonschema.Schema, error) {
	s.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(s.raw))
		if err != nil {
			s.err = fmt.Errorf("schemacheck: parse %s schema: %w", s.name, err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		url := s.name + ".schema.json"
		if err := c.AddResource(url, doc); err != nil {
			s.err = fmt.Errorf("schemacheck: add %s schema: %w", s.name, err)
			return
		}
		s.compiled, s.err = c.Compile(url)
	})
	return s.compiled, s.err
}

// ValidateJSON checks one JSON document against the schema.
func (s *Schema) ValidateJSON(doc []byte) error {
	c, err := s.build()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("schemacheck: not JSON: %w", err)
	}
	return c.Validate(v)
}

// Validate marshals v and validates it.
func (s *Schema) Validate(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.ValidateJSON(b)
}

// The schemas of the published record kinds.
var (
	Record  = newSchema("record", schemas.RecordSchemaJSON)
	Verdict = newSchema("verdict", schemas.VerdictSchemaJSON)
)

// ValidateJSON checks one JSON document (one detection record) against the
// Record schema.
func ValidateJSON(doc []byte) error { return Record.ValidateJSON(doc) }

// ValidateRecord marshals r and validates it.
func ValidateRecord(r *schemas.Record) error { return Record.Validate(r) }

// ValidateLines validates every non-empty line of a JSON-lines document of
// detection records and returns the number of records checked.
func ValidateLines(doc []byte) (int, error) {
	n := 0
	for i, line := range bytes.Split(doc, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := ValidateJSON(line); err != nil {
			return n, fmt.Errorf("line %d: %w", i+1, err)
		}
		n++
	}
	return n, nil
}
