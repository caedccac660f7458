package pcapdir

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/aegis-nsm/aegis/ingest/capture"
)

// Start says where a Source begins reading in the files present when Run
// starts. Files that appear later are always read from their beginning.
type Start string

// The starting points.
const (
	// StartOldest reads every file from its first packet, oldest first.
	// It is the default.
	StartOldest Start = "oldest"
	// StartNow skips what is on disk at start-up: every file but the
	// newest of each writer, and the newest up to its last whole record.
	StartNow Start = "now"
	// StartPosition resumes from Config.Resume, a Position saved from an
	// earlier Source over the same directory.
	StartPosition Start = "position"
)

// Defaults for Config; the zero value of a field means its default.
const (
	DefaultPattern        = "*"
	DefaultPollInterval   = 250 * time.Millisecond
	DefaultSettle         = time.Second
	DefaultMergeWait      = 2 * time.Second
	DefaultCloseIdle      = time.Minute
	DefaultBatchSize      = 1024
	DefaultLookAhead      = 4
	DefaultReadBufferSize = capture.DefaultReadBufferSize
	// MaxBatchSize bounds Config.BatchSize.
	MaxBatchSize = 1 << 20
)

// Config configures a Source. The zero value of each field means its
// default (DefaultConfig spells them out), except Dir, which is required.
type Config struct {
	// Dir is the directory the capture writer writes into.
	Dir string `yaml:"dir"`
	// Pattern is a filepath.Match glob, relative to Dir, that names the
	// capture files: "ring-*.pcap" (tcpdump -G with a strftime name),
	// "ring.pcap*" (tcpdump -C/-W), "log.pcap.*" (Suricata pcap-log),
	// "*.pcap" (netsniff-ng), "*/log.*" (Suricata multi mode with
	// "%n/log.%t"). It may cross directory levels with "/". It must not
	// match the compressed copies a post-rotate command (tcpdump -z gzip)
	// makes: their packets would be read twice.
	Pattern string `yaml:"pattern"`
	// Start is where reading begins in the files present at start-up.
	Start Start `yaml:"start"`
	// Resume is the position to resume from with StartPosition (from
	// Source.Position of an earlier run, usually stored as JSON).
	Resume *Position `yaml:"-"`
	// PollInterval is how often the directory is listed and idle files
	// are checked for growth.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Settle is how long a file read to its end must stay unchanged,
	// once a newer file of the same writer exists, before it is taken to
	// be complete and closed. A half-written last record still there
	// then is counted as truncated.
	Settle time.Duration `yaml:"settle"`
	// MergeWait bounds how long packets wait for a writer that has fallen
	// silent while others write (Suricata multi mode: one file per
	// thread). After it, the others' packets are delivered; packets that
	// the silent writer writes later with older timestamps are delivered
	// late and counted in Stats.Late.
	MergeWait time.Duration `yaml:"merge_wait"`
	// CloseIdle closes a file read to its end that has not grown for this
	// long when any newer file exists, even one Aegis could not tie to
	// the same writer. A closed file that grows again is reopened.
	CloseIdle time.Duration `yaml:"close_idle"`
	// BatchSize is the most packets handed to the callback at once.
	BatchSize int `yaml:"batch_size"`
	// LookAhead is how many files not yet reached the Source keeps open,
	// so that the ring deleting one is noticed with its packet count. A
	// file deleted before it was read is skipped, not read: the reader
	// has fallen behind the ring and catches up. A negative value keeps
	// none open: such a loss is then reported in bytes only.
	LookAhead int `yaml:"look_ahead"`
	// ReadBufferSize is the read buffer of each open file, in bytes.
	ReadBufferSize int `yaml:"read_buffer_size"`
	// StopAtEnd makes Run return once every file has been read to its
	// end, without waiting for growth (offline analysis of a directory).
	// A half-written last record is then counted as truncated.
	StopAtEnd bool `yaml:"stop_at_end"`
}

// DefaultConfig returns the defaults the zero Config stands for (without
// Dir).
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Pattern == "" {
		c.Pattern = DefaultPattern
	}
	if c.Start == "" {
		c.Start = StartOldest
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Settle == 0 {
		c.Settle = DefaultSettle
	}
	if c.MergeWait == 0 {
		c.MergeWait = DefaultMergeWait
	}
	if c.CloseIdle == 0 {
		c.CloseIdle = DefaultCloseIdle
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.LookAhead == 0 {
		c.LookAhead = DefaultLookAhead
	}
	if c.ReadBufferSize == 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	return c
}

// Validate reports every invalid setting, each naming its YAML key.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("pcapdir: dir: the capture directory is required"))
	}
	if c.Pattern != "" {
		if _, err := filepath.Match(c.Pattern, ""); err != nil {
			errs = append(errs, fmt.Errorf("pcapdir: pattern %q: %w", c.Pattern, err))
		}
		if filepath.IsAbs(c.Pattern) || strings.HasPrefix(filepath.Clean(c.Pattern), "..") {
			errs = append(errs, fmt.Errorf("pcapdir: pattern %q: must be relative to dir", c.Pattern))
		}
	}
	switch c.Start {
	case "", StartOldest, StartNow:
	case StartPosition:
		if c.Resume == nil {
			errs = append(errs, errors.New("pcapdir: start position: no saved position given"))
		}
	default:
		errs = append(errs, fmt.Errorf("pcapdir: start %q: must be one of oldest, now, position", c.Start))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"poll_interval", c.PollInterval}, {"settle", c.Settle}, {"merge_wait", c.MergeWait}, {"close_idle", c.CloseIdle}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("pcapdir: %s %v: must not be negative", d.key, d.v))
		}
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		errs = append(errs, fmt.Errorf("pcapdir: batch_size %d: out of range [1, %d]", c.BatchSize, MaxBatchSize))
	}
	if c.ReadBufferSize != 0 && (c.ReadBufferSize < capture.MinReadBufferSize || c.ReadBufferSize > capture.MaxReadBufferSize) {
		errs = append(errs, fmt.Errorf("pcapdir: read_buffer_size %d: out of range [%d, %d]",
			c.ReadBufferSize, capture.MinReadBufferSize, capture.MaxReadBufferSize))
	}
	return errors.Join(errs...)
}
