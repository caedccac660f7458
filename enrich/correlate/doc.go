// Package correlate is 'aegis correlate': many sensors, one picture. It
// reads the detection topics of every sensor as one Kafka consumer group,
// keeps per source host a window of the records every sensor published
// about it (detections, and the recon records sensors publish when their
// rules engine sees a scan: ReconRecord), runs the multi-flow (campaign)
// rules over each host's window with the rules engine, and publishes a
// campaign record (schemas.Campaign, sink kind campaign, keyed by the host)
// when one fires: reconnaissance seen at sensor A followed by an agent
// shell seen at sensor B, say. Campaigns are updated as evidence arrives:
// the same campaign id with a higher version.
//
// # Pieces
//
//   - DecodeInput reads a record from a detection topic without decoding
//     all of it (a small JSON scanner; the full Record is decoded only for
//     the classes the campaign rules evaluate).
//   - Tracker is the correlation core of one partition: host windows in
//     record-time order, a rules.Engine fed in that order per host
//     (MarkRecon for recon, Evaluate for detections; a record that arrives
//     late makes its host be forgotten and re-fed in order), and the
//     campaigns of the open spans. It is deterministic: the same records in
//     the same order give the same campaigns, ids, versions and bytes.
//   - Service runs the consumer group (kafka-go's ConsumerGroup, one
//     generation at a time), one Tracker per assigned partition, rebuilds
//     windows from a look-back when it takes a partition, commits offsets
//     only past records whose campaign records Kafka acknowledged, and
//     exports its progress (Stats) for /metrics.
//
// # Campaigns
//
// W is the longest preceded_by window of the campaign rules. Record time
// is cut into spans (CampaignConfig.Span, aligned to the epoch). A host's
// campaign of span k opens at the first record, ending in span k, on which
// a campaign rule fires; it gathers every detection and recon record of
// the host ending from W before that record's start up to W past the span's
// end (at most MaxEvidence of them). Its id is a hash of the host and the
// span start (CampaignID), so it stays the same while evidence arrives,
// even evidence older than what opened it. Each arrival that changes its
// evidence publishes the next version; event.id hashes the id and the
// version (EventID). Activity that goes on longer than a span shows up as
// one campaign per span. A span closes when the partition clock (the
// latest record time seen on the partition) passes its end + W +
// Lateness; later records of it are counted and dropped.
//
// Because a campaign depends only on records within Span + 2W of record
// time, a member that re-reads a partition from Lookback before its
// committed offset rebuilds exactly the campaigns the previous owner had,
// and publishes the same versions from the committed offset on: see
// Service for rebalances, look-back and commits, and the repository README
// ("Many sensors, one picture") for sizing.
package correlate
