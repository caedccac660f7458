package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/enrich/livejoin"
	"github.com/aegis-nsm/aegis/ingest/afpacket"
	"github.com/aegis-nsm/aegis/ingest/pcapdir"
	"github.com/aegis-nsm/aegis/schemas"
)

// packetsConfig chooses where the packets come from.
type packetsConfig struct {
	// Source is "pcapdir" (the rolling capture directory the sensor
	// already writes), "afpacket" (a tap of Aegis's own) or "none" (IDS
	// records only: nothing is analysed, every candidate is a miss).
	Source   string          `yaml:"source"`
	PcapDir  pcapdir.Config  `yaml:"pcapdir"`
	AFPacket afpacket.Config `yaml:"afpacket"`
	// BackfillDir is a capture directory searched for the packets of IDS
	// records whose timing is gone (evicted, or from before a restart):
	// the pcapdir source's own directory by default; set it to use a ring
	// beside an AF_PACKET tap. Empty with afpacket: no backfill.
	BackfillDir     string `yaml:"backfill_dir"`
	BackfillPattern string `yaml:"backfill_pattern"`
	// SuricataConfig is the sensor's suricata.yaml: at start-up Aegis warns
	// when its pcap-log settings would drop the encrypted packets Aegis
	// needs (use-stream-depth, bypass, a ring too short for the join).
	SuricataConfig string `yaml:"suricata_config"`
}

func defaultPacketsConfig() packetsConfig {
	return packetsConfig{Source: "pcapdir", PcapDir: pcapdir.DefaultConfig(), AFPacket: afpacket.DefaultConfig()}
}

func (p *packetsConfig) validate() error {
	switch p.Source {
	case "pcapdir":
		if err := p.PcapDir.Validate(); err != nil {
			return fmt.Errorf("packets: %w", err)
		}
	case "afpacket":
		if err := p.AFPacket.Validate(); err != nil {
			return fmt.Errorf("packets: %w", err)
		}
	case "none":
	default:
		return fmt.Errorf("packets: source %q is not pcapdir, afpacket or none", p.Source)
	}
	return nil
}

// afpacketRunner adapts the AF_PACKET source (one callback per worker) to
// the pipeline's packetRunner.
type afpacketRunner struct{ s *afpacket.Source }

func (a afpacketRunner) Run(ctx context.Context, fn func([]schemas.Packet) error) error {
	return a.s.Run(ctx, func(_ int, batch []schemas.Packet) error { return fn(batch) })
}

// packetSources are the opened packet source (one of pcap, afp, or
// neither) and its backfill.
type packetSources struct {
	run      packetRunner
	pcap     *pcapdir.Source
	afp      *afpacket.Source
	backfill livejoin.Backfiller
	close    func() error
}

// buildPackets opens the packet source and the backfill index.
func buildPackets(cfg *runConfig, log *slog.Logger) (packetSources, error) {
	p := &cfg.Packets
	out := packetSources{close: func() error { return nil }}
	dir, pattern := p.BackfillDir, p.BackfillPattern
	switch p.Source {
	case "none":
		return out, nil
	case "pcapdir":
		s, err := pcapdir.New(p.PcapDir, log)
		if err != nil {
			return out, fmt.Errorf("packets: %w", err)
		}
		out.run, out.pcap = s, s
		if dir == "" {
			dir, pattern = p.PcapDir.Dir, p.PcapDir.Pattern
		}
	case "afpacket":
		s, err := afpacket.New(p.AFPacket, log)
		if err != nil {
			return out, fmt.Errorf("packets: %w", err)
		}
		out.run, out.afp, out.close = afpacketRunner{s}, s, s.Close
	}
	if p.SuricataConfig != "" {
		warnings, err := pcapdir.CheckOptions{JoinDelay: cfg.Join.Grace}.Check(p.SuricataConfig)
		if err != nil {
			out.close()
			return out, fmt.Errorf("packets: suricata_config: %w", err)
		}
		for _, w := range warnings {
			log.Warn("suricata.yaml would cost Aegis packets", "file", w.File, "line", w.Line,
				"setting", w.Setting, "value", w.Value, "why", w.Message)
		}
	}
	if dir != "" {
		out.backfill = &ringBackfill{index: pcapdir.NewIndex(dir, pattern), table: cfg.FlowTable, slack: int64(cfg.Join.Slack), log: log}
	}
	return out, nil
}

// ringBackfill rebuilds a flow from the capture files whose time range
// covers its IDS record.
type ringBackfill struct {
	index *pcapdir.Index
	table flowtable.Config
	slack int64
	log   *slog.Logger
}

func (b *ringBackfill) Backfill(ctx context.Context, ids *schemas.IDSFlow) (*flowtable.Flow, error) {
	key, _ := flowtable.CanonicalKey(enrich.IDSTuple(ids)) // the bool is the direction
	files, err := b.index.Covering(ctx, ids.Start-b.slack, ids.End+b.slack)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	var flows []*flowtable.Flow
	t, err := flowtable.New(b.table, func(f *flowtable.Flow) {
		if f.Key == key {
			flows = append(flows, f)
		}
	})
	if err != nil {
		return nil, err
	}
	_, err = pcapdir.Backfill(ctx, files, func(p *schemas.Packet) bool {
		k, _ := flowtable.CanonicalKey(p.Tuple)
		return k == key
	}, func(p *schemas.Packet) { t.Add(p) })
	t.Flush()
	if err != nil {
		b.log.Warn("backfill: some capture files could not be read", "err", err)
	}
	// The flow that overlaps the IDS record most.
	var best *flowtable.Flow
	bestOv := int64(-1)
	for _, f := range flows {
		if ov := min(ids.End+b.slack, f.Last) - max(ids.Start-b.slack, f.First); ov > bestOv {
			best, bestOv = f, ov
		}
	}
	return best, nil
}
