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
	verdictOnce     sync.Once
	verdictCompiled *jsonschema.Schema
	errVerdictBuild error
)

// verdictSchema returns the compiled Verdict schema, built once.
func verdictSchema() (*jsonschema.Schema, error) {
	verdictOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.VerdictSchemaJSON))
		if err != nil {
			errVerdictBuild = fmt.Errorf("schemacheck: parse verdict schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		const url = "verdict.schema.json"
		if err := c.AddResource(url, doc); err != nil {
			errVerdictBuild = fmt.Errorf("schemacheck: add verdict schema: %w", err)
			return
		}
		verdictCompiled, errVerdictBuild = c.Compile(url)
	})
	return verdictCompiled, errVerdictBuild
}

// ValidateVerdictJSON checks one JSON document (one verdict record) against
// the embedded Verdict schema. It is safe for concurrent use.
func ValidateVerdictJSON(doc []byte) error {
	s, err := verdictSchema()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("schemacheck: not JSON: %w", err)
	}
	return s.Validate(v)
}

// ValidateVerdict marshals v and validates it.
func ValidateVerdict(v *schemas.Verdict) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return ValidateVerdictJSON(b)
}
