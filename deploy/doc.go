// Package deploy holds what running Aegis takes besides the binary: the
// example configurations (aegis.yaml and configs/), the systemd unit, the
// container image, the compose lab, the Kubernetes DaemonSet, the sensor
// settings for Zeek and Suricata, example rules and profiles, the Kafka
// topic script, and the SIEM artefacts that ingest Aegis records from Kafka
// (Elasticsearch templates and ingest pipeline, the Splunk add-on).
//
// It has no code. Its tests check every file with the tool that reads it
// (check-config, systemd-analyze, kubeconform, compose-go, shellcheck, the
// rules tests, the Suricata pcap-log check), and check that every record
// field the SIEM files name exists in the record's JSON Schema and that the
// Elasticsearch templates map every field of the schema.
package deploy
