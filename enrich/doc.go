// Package enrich joins what the IDS logged with what the packets showed and
// assembles the published record: Index finds the Zeek or Suricata record of
// a packet flow (by Community ID, else by 5-tuple and time overlap), and
// Assemble turns a flow's summary, its cadence verdict and its IDS record
// into one schemas.Record with a deterministic id.
//
// enrich depends on schemas only; cmd/aegis converts the flow table's and
// the cadence analysis's types into the inputs declared here.
package enrich
