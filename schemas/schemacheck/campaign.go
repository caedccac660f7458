package schemacheck

import "github.com/aegis-nsm/aegis/schemas"

// The schemas of the records aegis correlate reads and writes.
var (
	Campaign = newSchema("campaign", schemas.CampaignSchemaJSON)
	Recon    = newSchema("recon", schemas.ReconSchemaJSON)
)

// ValidateCampaignJSON checks one JSON document (one campaign record)
// against the embedded Campaign schema. It is safe for concurrent use.
func ValidateCampaignJSON(doc []byte) error { return Campaign.ValidateJSON(doc) }

// ValidateCampaign marshals c and validates it.
func ValidateCampaign(c *schemas.Campaign) error { return Campaign.Validate(c) }

// ValidateReconJSON checks one JSON document (one recon record) against the
// embedded Recon schema. It is safe for concurrent use.
func ValidateReconJSON(doc []byte) error { return Recon.ValidateJSON(doc) }

// ValidateRecon marshals r and validates it.
func ValidateRecon(r *schemas.Recon) error { return Recon.Validate(r) }
