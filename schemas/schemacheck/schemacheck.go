// Package schemacheck validates JSON documents against the embedded Record
// JSON Schema. Tests across Aegis use it to check every record they produce;
// it is safe for concurrent use once built.
package schemacheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	once     sync.Once
	compiled *jsonschema.Schema
	errBuild error
)

// record returns the compiled Record schema, built once.
func record() (*jsonschema.Schema, error) {
	once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.RecordSchemaJSON))
		if err != nil {
			errBuild = fmt.Errorf("schemacheck: parse record schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		const url = "record.schema.json"
		if err := c.AddResource(url, doc); err != nil {
			errBuild = fmt.Errorf("schemacheck: add record schema: %w", err)
			return
		}
		compiled, errBuild = c.Compile(url)
	})
	return compiled, errBuild
}

// ValidateJSON checks one JSON document (one record) against the schema.
func ValidateJSON(doc []byte) error {
	s, err := record()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("schemacheck: not JSON: %w", err)
	}
	return s.Validate(v)
}

// ValidateRecord marshals r and validates it.
func ValidateRecord(r *schemas.Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return ValidateJSON(b)
}

// ValidateLines validates every non-empty line of a JSON-lines document and
// returns the number of records checked.
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
