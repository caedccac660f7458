// Package schemas defines the types that cross Aegis's package boundaries: the
// packet summary the packet readers hand to the flow table, the IDS flow record
// the Zeek and Suricata decoders produce, and the published detection Record
// with its JSON Schema (record.schema.json, embedded as RecordSchemaJSON).
//
// Every other Aegis package imports schemas; schemas imports nothing from
// Aegis. Changing a JSON name or its meaning requires a new SchemaVersion.
package schemas
