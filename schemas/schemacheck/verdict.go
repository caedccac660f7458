package schemacheck

import "github.com/aegis-nsm/aegis/schemas"

// ValidateVerdictJSON checks one JSON document (one verdict record) against
// the embedded Verdict schema. It is safe for concurrent use.
func ValidateVerdictJSON(doc []byte) error { return Verdict.ValidateJSON(doc) }

// ValidateVerdict marshals v and validates it.
func ValidateVerdict(v *schemas.Verdict) error { return Verdict.Validate(v) }
