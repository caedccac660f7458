// Package rules is Aegis's rule engine: rules in YAML, strictly validated
// and precompiled, evaluated on every published record, with per-source
// state for reconnaissance and for sequences of flows.
//
// # Rule files
//
// Load reads the built-in rules (embedded from builtin/, documented in
// the README) and every *.yaml and *.yml file of Config.Dir. A file is
//
//	version: 1
//	rules:
//	  - id: corp-llm-from-db            # unique; letters, digits, . _ : -
//	    name: LLM stream from a database server
//	    description: free text for analysts
//	    severity: high                  # low, medium, high, critical
//	    tags: [llm, policy]
//	    techniques: [T1071.001]         # ATT&CK ids, T1234 or T1234.001
//	    message: "${source.ip} streamed from ${tls.client.server_name:-no SNI}"
//	    when:                           # all conditions must hold
//	      class: llm_stream             # one class or a list
//	      confidence: {min: 0.7}
//	      source: {lists: [db_servers]}
//	    tests: [...]                    # see below
//
// A user rule with the id of a built-in one replaces it; Config.Disable
// removes rules by id. Decoding is strict: unknown keys, wrong types, bad
// CIDRs, patterns, classes, severities, technique ids and unknown record
// fields are errors naming the file, the line and the rule id, and every
// problem of a directory is reported at once (Check).
//
// # Conditions
//
// Under when: (all must hold; a list means "any of"):
//
//   - class, confidence {min, max}, duration_s {min, max}, handoff
//     (human_to_agent or agent_to_human).
//   - transport, service (network.protocol, else the IDS service; each of
//     Zeek's comma-separated services is tried), source_port and
//     destination_port (numbers or "lo-hi" ranges).
//   - source and destination: cidr, lists (named lists of Config.Lists),
//     not_cidr, not_lists. A negated list that is undefined or empty makes
//     the condition false: "not an expected host" means nothing until the
//     expected hosts are listed.
//   - sni and not_sni: globs over tls.client.server_name ("*" any run, "?"
//     one character, case-insensitive; "*.openai.com" does not match
//     "openai.com").
//   - route: name and not_name (globs), provider, score {min, max}, sni
//     (listed, unlisted, none).
//   - client and server: ranges over the cadence features of a direction,
//     keyed by their JSON names, nested or dotted: {bytes: {min: 1e7}},
//     {iat: {median_ms: {max: 300}}}, {iat.cv: {max: 0.5}}, {regularity:
//     {min: 0.6}}, {packets: ...}.
//   - fields: ranges over any numeric record field by its full JSON path,
//     e.g. aegis.cadence.session.commands or aegis.ids.resp_bytes.
//   - preceded_by: a list of earlier events of the same source address, each
//     one of {recon: true}, {class: CLASS} or {rule: ID}, with an optional
//     within (default Config.SequenceWindow). An event counts when it
//     happened no more than within before the flow started, or while the
//     flow ran. All steps must hold; their order among themselves is not
//     checked.
//
// A condition on a block the record lacks (no tls, no handoff) does not
// hold.
//
// # Messages
//
// message is text with ${path} substitutions of record fields by JSON path,
// ${path:-default} for absent or empty values, $$ for a dollar sign, and
// rule.id, rule.name, rule.severity, recon.targets and recon.probes. It is
// parsed at load; rendering copies precompiled pieces and quotes values
// with control characters replaced and each value cut at 256 bytes (wire
// data such as an SNI is attacker-controlled).
//
// # Reconnaissance
//
// Engine.ObserveIDS reads every IDS record. Short connection attempts that
// went unanswered or were refused (Zeek conn_state S0, REJ, RSTOS0, SH;
// RSTO and RSTR without payload; OTH without reply; Suricata flows whose
// server sent nothing, or one packet to at most two) count as probes of
// their destination address and port, never to multicast or broadcast
// addresses. A source that probes Recon.MinTargets distinct targets within
// one to two Recon.Window, or that an IDS alert matching
// Recon.AlertPatterns names, is scanning; preceded_by {recon: true} and
// recon.targets read that state.
//
// For cross-sensor correlation ('aegis correlate'), TakeReconFindings
// hands out each source that crossed the threshold (and again for each
// further window it goes on scanning), for the sensor to publish as a
// recon record; MarkRecon feeds recon seen elsewhere back into an engine,
// Forget drops a source's state (to re-feed it in record-time order), and
// Set.StateClasses and RuleInfo.SequenceWindow describe which records the
// sequence rules read.
//
// # Test cases
//
// Each rule may carry test cases (see testcase.go for the shape): a record
// fragment, optional prior IDS records and records, optional named lists,
// the expected hit or miss and optionally the exact message. Set.RunTests
// runs them (aegis rules test); the built-in rules' cases run in go test.
//
// # State and time
//
// The engine keeps, per source address, the recon counters and, for
// sequence rules, the last time the source showed each class a step names
// and hit each rule a step names: a fixed-size value, at most
// Config.MaxSources of them, least recently seen evicted first and
// counted. Windows use record time (IDSFlow Start/End, the record's
// event.end and event.duration), never the wall clock, so a replay gives
// the same hits.
package rules
