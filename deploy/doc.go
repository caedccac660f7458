// Package deploy holds the SIEM artefacts that ingest Aegis records from
// Kafka: the Elasticsearch component and index templates and ingest pipeline
// (deploy/elastic) and the Splunk add-on configuration (deploy/splunk).
//
// It has no code; its test checks that every record field those files name
// exists in the record's JSON Schema (schemas.RecordSchemaJSON) and that the
// Elasticsearch templates map every field of the schema, so a schema change
// fails the test until the SIEM files follow.
package deploy
