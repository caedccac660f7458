// Package afpacket captures live traffic from a network interface with
// Linux AF_PACKET sockets (TPACKET_V3 memory-mapped rings) and hands it on
// as decoded schemas.Packet batches: the live counterpart of the pcap
// readers in ingest/capture.
//
// A Source opens one packet socket per worker. The sockets join one
// PACKET_FANOUT group, so the kernel spreads the interface's packets over
// the workers; in the default "hash" mode it hashes the flow symmetrically,
// so both directions of a flow always reach the same worker and each worker
// sees whole flows. Each worker walks its ring block by block, decodes each
// frame with capture.Decoder (no allocation per packet) and calls the
// Run callback with batches of packets.
//
// # Living next to Zeek and Suricata
//
// Fanout groups are shared by every process in a network namespace: a
// socket that joins an existing group with the same id takes a share of
// that group's packets away from its owner. Aegis must never do that to
// the IDS it runs beside, so:
//
//   - FanoutID 0 (the default) asks the kernel for an id no group in use
//     has (PACKET_FANOUT_FLAG_UNIQUEID); Source.FanoutID reports it.
//   - Validate refuses 23 (Zeek's af_packet plugin default) and 99
//     (Suricata's default cluster-id).
//   - New refuses an explicit id that any packet socket in the namespace
//     already uses (checked with sock_diag when the kernel offers it).
//
// # Filter
//
// Config.Filter is a classic BPF program attached to every socket, so the
// kernel drops unwanted packets before they reach the ring. It is given
// either as a tcpdump expression ("tcp port 443 or udp port 443"),
// compiled when the Source is made by running `tcpdump -ddd` (no libpcap,
// no cgo in Aegis), or as the compiled program itself in `tcpdump -ddd`
// form (a count line, then one "code jt jf k" line per instruction; commas
// may replace the newlines), for hosts without tcpdump. Every accept of
// the program is capped at Config.SnapLen: Aegis needs the headers only.
//
// # Clock
//
// Packet timestamps are the kernel's receive (or transmit) time
// (CLOCK_REALTIME, nanoseconds), taken when the packet passes the capture
// point: the packet clock the cadence stages work with. A worker delivers
// packets in ring order, and its clock never goes back: the kernel stamps
// a packet just after giving it its ring slot, so packets handled at the
// same moment on different CPUs can come out with their timestamps
// swapped by nanoseconds to microseconds (hundreds of them on a loaded
// host); such a timestamp is raised to the previous packet's and counted
// (WorkerStats.Reordered). A timestamp more than 10 ms back is a step of
// the system clock: it is kept, and counted (WorkerStats.ClockSteps).
// Workers' clocks are independent of each other.
//
// # Buffers and concurrency
//
// A batch handed to the Run callback is owned by the worker that calls it
// and is overwritten as soon as the callback returns: copy what must be
// kept (schemas.Packet is a plain value; copying it is enough). The
// callback is called concurrently from different workers, never
// concurrently for one worker. Stats, FanoutID and Close are safe for
// concurrent use with Run and with each other.
//
// # Operating notes
//
// The capture sees what the kernel sees: with GRO or LRO on the capture
// interface, back-to-back segments arrive merged and their individual
// timing is lost, as it is for Zeek and Suricata; turn them off on a
// dedicated tap (ethtool -K eth0 gro off lro off). VLAN tags are removed by
// the kernel before the capture point, so flows are keyed without them
// (and a filter should not test "vlan"). Opening a packet socket needs
// CAP_NET_RAW.
package afpacket
