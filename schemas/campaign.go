package schemas

import (
	_ "embed"
)

// CampaignSchemaVersion is the version of the published Campaign record. A
// change of a JSON name or of its meaning bumps the major number.
const CampaignSchemaVersion = "1.0"

// CampaignSchemaJSON is the JSON Schema (draft 2020-12) of Campaign.
//
//go:embed campaign.schema.json
var CampaignSchemaJSON []byte

// CampaignDataset is the ECS event.dataset of a Campaign record.
const CampaignDataset = "aegis.campaign"

// The step kinds of a campaign.
const (
	StepRecon     = "recon"     // a Recon record
	StepDetection = "detection" // a detection Record
)

// Campaign is the record 'aegis correlate' publishes (record kind
// "campaign", keyed by the host) when a multi-flow (sequence) rule fires on
// one source host's records gathered from every sensor: reconnaissance seen
// at one sensor followed by agent activity seen at another, say. A campaign
// is updated as evidence arrives: each update is a new record with the same
// aegis.campaign_id and a higher aegis.version, listing all the evidence so
// far, so the latest version is the whole picture. Replaying the same
// detections yields the same ids, versions and bytes: consumers drop
// duplicates by (campaign_id, version), which event.id also encodes.
//
// ECS names where ECS has them; Aegis's own fields live under "aegis". A
// Campaign is a plain value: encoding/json marshals it to the shape
// CampaignSchemaJSON describes.
type Campaign struct {
	// Timestamp is the record time of the latest evidence (last_seen), RFC
	// 3339 with nanoseconds, UTC.
	Timestamp string  `json:"@timestamp"`
	Event     Event   `json:"event"` // dataset "aegis.campaign", kind "alert"; start/end are first/last seen
	Source    HostRef `json:"source"`
	// Threat lists the vetted ATT&CK techniques of the campaign rules and
	// of the evidence; nil when there are none.
	Threat *Threat         `json:"threat,omitempty"`
	Aegis  CampaignSection `json:"aegis"`
}

// CampaignSection holds the campaign itself.
type CampaignSection struct {
	SchemaVersion string `json:"schema_version"`
	// CampaignID identifies the campaign across its versions: a hash of
	// the host and the span the campaign started in (32 hex digits).
	CampaignID string `json:"campaign_id"`
	// Version is 1 for the first record of the campaign and grows by one
	// with every update.
	Version int `json:"version"`
	// Severity is the highest severity of the campaign rules that fired
	// and of the evidence records.
	Severity string `json:"severity"`
	// Rules are the ids of the campaign (sequence) rules that fired, sorted.
	Rules []string `json:"rules"`
	// Message says in one line what happened, for the analyst.
	Message string `json:"message"`
	// Sensors are the sensors whose records are evidence, sorted.
	Sensors []string `json:"sensors"`
	// RecordIDs are the event.id of every evidence record (detections and
	// recon), in step order.
	RecordIDs []string `json:"record_ids"`
	// Steps are the evidence, oldest first (by record end time, then id).
	Steps []CampaignStep `json:"steps"`
	// FirstSeen and LastSeen bound the evidence in record time (the
	// earliest start, the latest end).
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
	// Span is the fixed record-time span (aligned to the epoch) the
	// campaign's first rule hit fell in; a campaign gathers evidence from
	// one sequence window before its first hit to one window past the
	// span's end.
	Span CampaignSpan `json:"span"`
	// EvidenceCapped is true when more evidence arrived than the
	// correlator lists in one campaign (max_evidence); the rest is left out.
	EvidenceCapped bool `json:"evidence_capped"`
}

// CampaignSpan is the span of record time a campaign is anchored to.
type CampaignSpan struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// CampaignStep is one piece of evidence of a campaign.
type CampaignStep struct {
	// Kind is StepRecon or StepDetection.
	Kind string `json:"kind"`
	// Sensor names the sensor that published the record (its aegis-sensor
	// Kafka header, or the recon record's aegis.sensor).
	Sensor string `json:"sensor"`
	// RecordID is the record's event.id.
	RecordID string `json:"record_id"`
	// Start and Time are the record's start and end (record time).
	Start string `json:"start"`
	Time  string `json:"time"`
	// Class is the detection's class (detections only).
	Class Class `json:"class,omitempty"`
	// Severity is the record's own severity.
	Severity string `json:"severity"`
	// Rules are the campaign rules that fired on this step (the steps that
	// made it a campaign).
	Rules []string `json:"rules,omitempty"`
	// Destination is "ip:port" of the detection's responder.
	Destination string `json:"destination,omitempty"`
	// Targets and Probes are the recon record's counts (recon only).
	Targets int `json:"targets,omitempty"`
	Probes  int `json:"probes,omitempty"`
}
