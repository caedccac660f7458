// Package flowtable keeps the per-flow timing table: every packet the
// capture readers decode lands in one bidirectional Flow, keyed by the
// canonical 5-tuple, which records per direction the totals Zeek and
// Suricata count, the TCP flags seen, and the timestamps and payload sizes
// of payload-bearing packets that the cadence analysis needs.
//
// Time is the packet clock: flows end when they have been idle longer than
// their protocol's timeout as measured by packet timestamps, never the wall
// clock, so replaying a capture always yields the same flows. The table has
// a memory budget; when it is exceeded the least recently active flows are
// ended early, marked Evicted and counted.
//
// A Table is not safe for concurrent use: one goroutine (one capture shard)
// owns it. Flows it hands to the emit callback belong to the callback.
package flowtable
