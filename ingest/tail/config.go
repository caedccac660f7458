package tail

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// Start says where reading begins in the files found when Run starts.
// Files that appear later are always read from their beginning.
type Start string

// The starting points.
const (
	// StartSaved resumes each file at its checkpointed offset when the
	// file's identity (device, inode and content fingerprint) matches the
	// positions file; files without a matching entry are read from the
	// beginning. It is the default.
	StartSaved Start = "saved"
	// StartBeginning reads every file from offset 0, ignoring saved
	// positions.
	StartBeginning Start = "beginning"
	// StartEnd skips what the files hold at start-up (up to their last
	// newline), ignoring saved positions.
	StartEnd Start = "end"
)

// Defaults for Config.
const (
	DefaultPollInterval     = 250 * time.Millisecond
	DefaultCloseInactive    = 5 * time.Minute
	DefaultMaxLineBytes     = 1 << 20 // 1 MiB
	DefaultMaxInFlight      = 4096
	DefaultCheckpointEvery  = 5 * time.Second
	DefaultFingerprintBytes = 1024
)

// Config configures a Follower. The zero value of each field means its
// default; DefaultConfig spells them out.
type Config struct {
	// Paths are file paths or filepath.Match glob patterns (Zeek
	// "logs/current/*.log", Suricata "eve.json" or "eve.*.json"). They are
	// re-expanded every PollInterval so new files are picked up. At least
	// one is required.
	Paths []string `yaml:"paths"`
	// Start is where reading begins in files present at start-up.
	Start Start `yaml:"start"`
	// PositionsFile is the JSON checkpoint file. Empty means no
	// checkpoints (StartSaved then behaves as StartBeginning).
	PositionsFile string `yaml:"positions_file"`
	// PollInterval is how often files are checked for growth, rotation
	// and truncation, and globs re-expanded.
	PollInterval time.Duration `yaml:"poll_interval"`
	// CloseInactive closes a file that has been read to its end and has
	// not grown for this long (a rotated-away file, or a Suricata
	// rotate-interval file that is no longer written). A closed file that
	// still matches Paths is reopened when it grows.
	CloseInactive time.Duration `yaml:"close_inactive"`
	// MaxLineBytes bounds one line (without its "\n"); a longer line is
	// counted in Stats.LongLines and skipped whole, never split.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxInFlight bounds the lines delivered (or queued in Lines) and not
	// yet acknowledged; at the bound, reading stops until Ack is called.
	MaxInFlight int `yaml:"max_in_flight"`
	// CheckpointEvery is how often the positions file is written (only
	// when something changed); Close writes it a last time.
	CheckpointEvery time.Duration `yaml:"checkpoint_every"`
	// FingerprintBytes is how many bytes after a file's leading "#" header
	// lines (Zeek TSV) go into its content fingerprint.
	FingerprintBytes int `yaml:"fingerprint_bytes"`
}

// DefaultConfig returns the defaults the zero Config stands for (without
// Paths).
func DefaultConfig() Config {
	return Config{}.withDefaults()
}

func (c Config) withDefaults() Config {
	if c.Start == "" {
		c.Start = StartSaved
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.CloseInactive == 0 {
		c.CloseInactive = DefaultCloseInactive
	}
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = DefaultCheckpointEvery
	}
	if c.FingerprintBytes == 0 {
		c.FingerprintBytes = DefaultFingerprintBytes
	}
	return c
}

// Validate reports every invalid setting. Zero values are valid (they mean
// the default), except that Paths must not be empty.
func (c Config) Validate() error {
	var errs []error
	if len(c.Paths) == 0 {
		errs = append(errs, errors.New("tail: paths: at least one file or glob pattern is required"))
	}
	for _, p := range c.Paths {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("tail: paths: %q: %w", p, err))
		}
	}
	switch c.Start {
	case "", StartSaved, StartBeginning, StartEnd:
	default:
		errs = append(errs, fmt.Errorf("tail: start %q: must be one of saved, beginning, end", c.Start))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("tail: poll_interval %v: must be positive", c.PollInterval))
	}
	if c.CloseInactive < 0 {
		errs = append(errs, fmt.Errorf("tail: close_inactive %v: must be positive", c.CloseInactive))
	}
	if c.MaxLineBytes < 0 {
		errs = append(errs, fmt.Errorf("tail: max_line_bytes %d: must be positive (0 means %d)", c.MaxLineBytes, DefaultMaxLineBytes))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("tail: max_in_flight %d: must be positive (0 means %d)", c.MaxInFlight, DefaultMaxInFlight))
	}
	if c.CheckpointEvery < 0 {
		errs = append(errs, fmt.Errorf("tail: checkpoint_every %v: must be positive", c.CheckpointEvery))
	}
	if c.FingerprintBytes < 0 {
		errs = append(errs, fmt.Errorf("tail: fingerprint_bytes %d: must be positive", c.FingerprintBytes))
	}
	return errors.Join(errs...)
}
