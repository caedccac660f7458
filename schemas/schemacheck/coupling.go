package schemacheck

import "github.com/aegis-nsm/aegis/schemas"

// Coupling is the schema of the tool-call coupling records
// (schemas.Coupling, published as sink.KindCoupling).
var Coupling = newSchema("coupling", schemas.CouplingSchemaJSON)

// ValidateCouplingJSON checks one JSON document (one coupling record)
// against the embedded Coupling schema (schemas.CouplingSchemaJSON). It is
// safe for concurrent use.
func ValidateCouplingJSON(doc []byte) error { return Coupling.ValidateJSON(doc) }

// ValidateCoupling marshals c and validates it.
func ValidateCoupling(c *schemas.Coupling) error { return Coupling.Validate(c) }
