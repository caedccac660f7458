// Package report renders Aegis detections as one self-contained HTML file
// for an analyst: a summary table of the detections, and for each one a
// timeline of its packets (payload size over time, client above the axis,
// server below), the histogram of its flush gaps against the expected gap
// density of the matched model route, the features and reasons that decided
// its class, its route candidates, rule hits, IDS context and capture notes.
//
// The page needs nothing from the network and runs no script: charts are
// inline SVG, the style sheet is inline, and a Content-Security-Policy meta
// tag (default-src 'none', the style sheet allowed by its hash) forbids
// scripts, fetches and any other inline style. Every value from a record is
// escaped by html/template; server names, host names and rule messages are
// attacker-influenced text and are shown as text only.
//
// A Report is built with New, filled with Add (safe for concurrent use, as
// the analysis shards call it) and written with WriteHTML. Output is
// deterministic: detections are ordered by flow start, then record id, and
// nothing depends on the wall clock or on the order of Add calls. Size is
// bounded: at most Options.MaxDetections detections are kept (the earliest
// by flow start; the page notes how many more there were), each timeline is
// decimated to Options.TimelinePoints columns, and long texts and lists are
// cut with a note.
//
// Add keeps a compact, pre-rendered view of each detection, not the record
// or the packet detail, so memory is bounded by the options too.
//
// The histogram shows flush gaps: packets of one direction closer than
// Options.FlushGap are one write, as in the cadence analysis. It bins gaps
// like the route matcher (under 1 ms, then doubling bins from 1 ms, the
// last open-ended). For streams, server gaps count only inside server runs
// (no client write larger than a control record in between), the gaps a
// route profile describes; for interactive classes (agent_shell, handoff,
// agent_exfil, human_interactive) every gap of each direction counts, and
// two reference ranges are shaded (typing 80-400 ms, agent pause 0.5-10 s,
// from DESIGN.md; context, not a fitted profile).
//
// Profiles carry no histogram, so the expected density is derived from
// what a cadence.Profile holds: a log-normal of in-stream flush gaps in
// ln(ms) (LogMu, LogSigma). The expected count of a bin is its probability
// under that log-normal times the number of observed server gaps; the
// shaded band is the central 90%, exp(mu ± 1.645 sigma); a quantisation
// step (QuantumMs) is marked on the axis. When the route is unknown, the
// best-scoring candidate's curve is drawn dashed and labelled as not
// matched.
package report
