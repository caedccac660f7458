package afpacket

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Fanout modes (Config.FanoutType): how the kernel spreads the interface's
// packets over the workers.
const (
	// FanoutHash sends each flow to one worker by a symmetric hash of its
	// addresses and ports, so both directions land together. The default;
	// with FanoutHashDefrag the only modes that keep flows whole on one
	// worker (IP fragments after the first carry no ports, so without
	// defragmentation they may land elsewhere).
	FanoutHash = "hash"
	// FanoutHashDefrag is FanoutHash after the kernel reassembles IPv4
	// fragments, so that fragments follow their flow (a reassembled packet
	// is then captured as one).
	FanoutHashDefrag = "hash_defrag"
	// FanoutLB deals packets to the workers in turn.
	FanoutLB = "lb"
	// FanoutCPU picks the worker by the CPU the packet arrived on.
	FanoutCPU = "cpu"
	// FanoutQM picks the worker by the NIC receive queue.
	FanoutQM = "qm"
	// FanoutRandom picks a worker at random.
	FanoutRandom = "random"
	// FanoutRollover fills one worker's ring before moving on to the next.
	FanoutRollover = "rollover"
)

// Fanout ids other tools use by default, which Validate refuses.
const (
	// ZeekFanoutID is the fanout id of Zeek's af_packet plugin
	// (AF_Packet::fanout_id).
	ZeekFanoutID = 23
	// SuricataFanoutID is the cluster-id of Suricata's default af-packet
	// configuration.
	SuricataFanoutID = 99
)

// Defaults for Config.
const (
	// DefaultWorkers is the number of capture workers.
	DefaultWorkers = 2
	// DefaultFanoutType keeps each flow on one worker.
	DefaultFanoutType = FanoutHash
	// DefaultSnapLen keeps the headers of any Ethernet/VLAN/IP/TCP stack.
	DefaultSnapLen = 256
	// DefaultBlockSize is 1 MiB per ring block.
	DefaultBlockSize = 1 << 20
	// DefaultNumBlocks gives each worker 64 MiB of ring.
	DefaultNumBlocks = 64
	// DefaultFrameSize is tp_frame_size (see Config.FrameSize).
	DefaultFrameSize = 2048
	// DefaultBlockTimeout is the longest a packet waits in a part-full block.
	DefaultBlockTimeout = 10 * time.Millisecond
	// DefaultPollTimeout bounds how long Run takes to stop.
	DefaultPollTimeout = 100 * time.Millisecond
	// DefaultBatchSize is the most packets per callback.
	DefaultBatchSize = 256
)

// Bounds Validate enforces.
const (
	// MaxWorkers bounds Config.Workers.
	MaxWorkers = 128
	// MinSnapLen is the smallest Config.SnapLen: room for the headers.
	MinSnapLen = 96
	// MaxSnapLen is the largest Config.SnapLen (libpcap's maximum).
	MaxSnapLen = 262144
	// MinFrameSize bounds Config.FrameSize (the kernel needs room for a
	// frame header).
	MinFrameSize = 128
	// MaxBlockSize bounds Config.BlockSize.
	MaxBlockSize = 128 << 20
	// MaxRingSize bounds BlockSize × NumBlocks, the ring of one worker.
	MaxRingSize = 4 << 30
	// MaxBatchSize bounds Config.BatchSize.
	MaxBatchSize = 1 << 16
	// MaxPollTime bounds Config.PollTimeout.
	MaxPollTime = 10 * time.Second
	// MaxBlockTime bounds Config.BlockTimeout.
	MaxBlockTime = time.Second

	maxIfaceName = 15 // IFNAMSIZ - 1
	tpacketAlign = 16 // TPACKET_ALIGNMENT
)

// Config configures a Source. The zero value is not valid: start from
// DefaultConfig and set Interface.
type Config struct {
	// Interface is the network interface to capture on (the sensor's tap
	// or SPAN port), in Aegis's network namespace. Required.
	Interface string `yaml:"interface"`
	// Filter is a BPF filter: a tcpdump expression, compiled with
	// `tcpdump -ddd` when the Source is made, or the output of
	// `tcpdump -ddd` itself (see the package documentation). Empty
	// captures everything.
	Filter string `yaml:"filter"`
	// SnapLen is how many bytes of each frame are copied into the ring.
	// Aegis reads headers only, and lengths come from the headers, so a
	// small value costs nothing and lets the ring hold more packets.
	SnapLen int `yaml:"snap_len"`
	// Workers is the number of capture goroutines, each with its own
	// socket and ring, in one fanout group.
	Workers int `yaml:"workers"`
	// FanoutID is the fanout group id. 0 (the default) lets the kernel pick
	// an id no other group uses (never 23 or 99). 23 (Zeek) and 99
	// (Suricata) are refused, and so, by New, is any id a packet socket
	// already uses. A process started later that joins the same id on the
	// same interface with the same type would share Aegis's packets; the
	// kernel cannot prevent that.
	FanoutID uint16 `yaml:"fanout_id"`
	// FanoutType is how packets are spread over the workers: "hash" (the
	// default), "hash_defrag", "lb", "cpu", "qm", "random" or "rollover".
	FanoutType string `yaml:"fanout_type"`
	// BlockSize is the size of one ring block in bytes (tp_block_size), a
	// multiple of the page size. The kernel hands the ring over block by
	// block.
	BlockSize int `yaml:"block_size"`
	// NumBlocks is the number of blocks in each worker's ring
	// (tp_block_nr). Each worker's ring takes BlockSize*NumBlocks bytes of
	// unswappable kernel memory. On a quiet link the kernel hands blocks
	// over after BlockTimeout however little they hold, so the ring then
	// covers only about NumBlocks*BlockTimeout of a stalled worker before
	// it drops.
	NumBlocks int `yaml:"num_blocks"`
	// FrameSize is tp_frame_size: a multiple of 16 that divides BlockSize.
	// TPACKET_V3 packs frames of any length into the blocks, so it limits
	// nothing; the kernel only checks it. Snap length is SnapLen.
	FrameSize int `yaml:"frame_size"`
	// BlockTimeout is how long the kernel fills a block before handing it
	// over part-full (tp_retire_blk_tov, whole milliseconds): the longest a
	// packet waits in the ring on a quiet link.
	BlockTimeout time.Duration `yaml:"block_timeout"`
	// PollTimeout is the longest a worker sleeps waiting for a block before
	// it looks at its context again: it bounds how long Run takes to stop.
	PollTimeout time.Duration `yaml:"poll_timeout"`
	// Promiscuous puts the interface in promiscuous mode while the Source
	// is open, so a tap or SPAN port delivers frames for other hosts.
	Promiscuous bool `yaml:"promiscuous"`
	// BatchSize is the most packets handed to the Run callback at once.
	BatchSize int `yaml:"batch_size"`
}

// DefaultConfig returns the defaults, without an Interface.
func DefaultConfig() Config {
	return Config{
		SnapLen:      DefaultSnapLen,
		Workers:      DefaultWorkers,
		FanoutType:   DefaultFanoutType,
		BlockSize:    DefaultBlockSize,
		NumBlocks:    DefaultNumBlocks,
		FrameSize:    DefaultFrameSize,
		BlockTimeout: DefaultBlockTimeout,
		PollTimeout:  DefaultPollTimeout,
		Promiscuous:  true,
		BatchSize:    DefaultBatchSize,
	}
}

// fanoutModes maps FanoutType to the kernel's type and flag bits.
var fanoutModes = map[string]uint16{
	FanoutHash:       0,      // PACKET_FANOUT_HASH
	FanoutHashDefrag: 0x8000, // PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG
	FanoutLB:         1,      // PACKET_FANOUT_LB
	FanoutCPU:        2,      // PACKET_FANOUT_CPU
	FanoutRollover:   3,      // PACKET_FANOUT_ROLLOVER
	FanoutRandom:     4,      // PACKET_FANOUT_RND
	FanoutQM:         5,      // PACKET_FANOUT_QM
}

// Validate reports the first setting that is missing or out of range, in
// a message that names the setting (by its YAML key) and the fix. It does
// not look at the system: whether the interface exists, and whether a
// tcpdump expression compiles, are checked by New.
func (c Config) Validate() error {
	page := os.Getpagesize()
	switch {
	case c.Interface == "":
		return fmt.Errorf("afpacket: interface is required (the tap or SPAN interface to capture on)")
	case len(c.Interface) > maxIfaceName || strings.ContainsAny(c.Interface, "/ \t\n\x00"):
		return fmt.Errorf("afpacket: interface %q is not a valid interface name", c.Interface)
	case c.FanoutID == ZeekFanoutID:
		return fmt.Errorf("afpacket: fanout_id %d is the fanout group Zeek's af_packet plugin uses by default; "+
			"joining it would take packets away from Zeek. Pick another id, or 0 to let the kernel choose a free one", c.FanoutID)
	case c.FanoutID == SuricataFanoutID:
		return fmt.Errorf("afpacket: fanout_id %d is the cluster-id Suricata's af-packet capture uses by default; "+
			"joining it would take packets away from Suricata. Pick another id, or 0 to let the kernel choose a free one", c.FanoutID)
	case c.Workers < 1 || c.Workers > MaxWorkers:
		return fmt.Errorf("afpacket: workers %d out of range [1, %d]", c.Workers, MaxWorkers)
	case c.SnapLen < MinSnapLen || c.SnapLen > MaxSnapLen:
		return fmt.Errorf("afpacket: snap_len %d out of range [%d, %d]", c.SnapLen, MinSnapLen, MaxSnapLen)
	case c.BlockSize < page || c.BlockSize > MaxBlockSize || c.BlockSize%page != 0:
		return fmt.Errorf("afpacket: block_size %d must be a multiple of the page size (%d) in [%d, %d]",
			c.BlockSize, page, page, MaxBlockSize)
	case c.NumBlocks < 2:
		return fmt.Errorf("afpacket: num_blocks %d must be at least 2 (the kernel fills one block while Aegis reads another)", c.NumBlocks)
	case int64(c.BlockSize)*int64(c.NumBlocks) > MaxRingSize:
		return fmt.Errorf("afpacket: block_size %d × num_blocks %d = %d bytes of ring per worker, more than %d",
			c.BlockSize, c.NumBlocks, int64(c.BlockSize)*int64(c.NumBlocks), int64(MaxRingSize))
	case c.FrameSize < MinFrameSize || c.FrameSize%tpacketAlign != 0 || c.FrameSize > c.BlockSize || c.BlockSize%c.FrameSize != 0:
		return fmt.Errorf("afpacket: frame_size %d must be a multiple of %d, at least %d, that divides block_size %d",
			c.FrameSize, tpacketAlign, MinFrameSize, c.BlockSize)
	case c.BlockTimeout < time.Millisecond || c.BlockTimeout > MaxBlockTime:
		return fmt.Errorf("afpacket: block_timeout %v out of range [1ms, %v]", c.BlockTimeout, MaxBlockTime)
	case c.PollTimeout < time.Millisecond || c.PollTimeout > MaxPollTime:
		return fmt.Errorf("afpacket: poll_timeout %v out of range [1ms, %v]", c.PollTimeout, MaxPollTime)
	case c.BatchSize < 1 || c.BatchSize > MaxBatchSize:
		return fmt.Errorf("afpacket: batch_size %d out of range [1, %d]", c.BatchSize, MaxBatchSize)
	}
	if _, ok := fanoutModes[c.FanoutType]; !ok {
		return fmt.Errorf("afpacket: fanout_type %q unknown (want hash, hash_defrag, lb, cpu, qm, random or rollover)", c.FanoutType)
	}
	if isRawFilter(c.Filter) {
		if _, err := parseRawFilter(c.Filter); err != nil {
			return err
		}
	}
	return nil
}
