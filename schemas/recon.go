package schemas

import (
	_ "embed"
)

// ReconSchemaVersion is the version of the published Recon record. A change
// of a JSON name or of its meaning bumps the major number.
const ReconSchemaVersion = "1.0"

// ReconSchemaJSON is the JSON Schema (draft 2020-12) of Recon.
//
//go:embed recon.schema.json
var ReconSchemaJSON []byte

// ReconDataset is the ECS event.dataset of a Recon record. Recon records
// travel on the detection topic next to detection Records (dataset
// "aegis.detection"); consumers tell them apart by event.dataset.
const ReconDataset = "aegis.recon"

// Recon is the record a sensor ('aegis run') publishes when its rules
// engine sees a source scanning: many short connection attempts that
// nobody answered or that were refused, or an IDS scan alert. It is what
// lets 'aegis correlate' join reconnaissance seen at one sensor with agent
// activity seen at another. ECS names where ECS has them; Aegis's own
// fields live under "aegis". A Recon is a plain value: encoding/json
// marshals it to the shape ReconSchemaJSON describes.
type Recon struct {
	// Timestamp is the end of the counting window (event.end), RFC 3339
	// with nanoseconds, UTC.
	Timestamp string     `json:"@timestamp"`
	Event     Event      `json:"event"` // dataset "aegis.recon", kind "alert"
	Source    HostRef    `json:"source"`
	Threat    Threat     `json:"threat"`
	Aegis     ReconAegis `json:"aegis"`
}

// ReconAegis holds what Aegis says about the scan.
type ReconAegis struct {
	SchemaVersion string `json:"schema_version"`
	// Sensor names the Aegis instance whose IDS records showed the scan.
	Sensor string `json:"sensor"`
	// Severity is "low": a scan alone is worth knowing, not an incident.
	Severity string `json:"severity"`
	// Trigger is "probes" (the distinct-target threshold was reached) or
	// "alert" (an IDS alert named the scan).
	Trigger string `json:"trigger"`
	// Targets is the estimated number of distinct targets (address and
	// port) probed in the window; Probes the number of probes counted.
	Targets int `json:"targets"`
	Probes  int `json:"probes"`
	// Window is the record-time span the counts cover.
	Window ReconWindow `json:"window"`
	// Reasons explain the finding in words, for the analyst.
	Reasons []string `json:"reasons"`
}

// ReconWindow is the span of record time a Recon covers.
type ReconWindow struct {
	Start string `json:"start"`
	End   string `json:"end"`
}
