package file

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/aegis-nsm/aegis/enrich/format"
)

// Defaults for Config.
const (
	DefaultFormat        = format.JSON
	DefaultMaxSize       = 100 << 20 // 100 MiB
	DefaultMaxFiles      = 10
	DefaultFsyncInterval = 100 * time.Millisecond
	DefaultFileMode      = 0o640
	DefaultDirMode       = 0o750
	DefaultQueueSize     = 1024
	DefaultMaxUnsynced   = 8192
)

// KindPlaceholder in Config.Path is replaced by the message kind
// ("detection", "verdict", "coupling", "campaign"), one file per kind.
const KindPlaceholder = "{kind}"

// StdoutPath as Config.Path makes New return the stdout sink.
const StdoutPath = "-"

// Config is a file (or stdout) sink's part of aegis.yaml:
//
//	sinks:
//	  jsonl:
//	    type: file
//	    path: /var/log/aegis/{kind}.jsonl
//	    format: json          # json | zeek | eve
//	    max_size: 104857600   # bytes; 0: never rotate
//	    max_files: 10         # rotated files kept besides the active one
//	    fsync_interval: 100ms # 0: fsync after every batch; negative: never
//
// DefaultConfig holds the defaults YAML is decoded onto. In a Config built
// in code, zero Format, FileMode, DirMode, QueueSize and MaxUnsynced also
// mean their defaults; zero MaxSize means no rotation and zero
// FsyncInterval fsyncs after every batch.
type Config struct {
	// Path is the file written, or "-" for stdout. It may contain {kind}
	// to write each message kind to its own file (the directory part may
	// hold it too). Missing directories are created with DirMode.
	Path string `yaml:"path"`
	// Format is the encoding: "json" (native JSON lines, default), "zeek"
	// (Zeek ASCII aegis.log; kinds other than detection are skipped and
	// counted) or "eve" (Suricata EVE events). See enrich/format.
	Format string `yaml:"format"`
	// MaxSize rotates the file before a record would take it past this
	// many bytes. A record is never split: a file holds at least one
	// whole record, even one larger than MaxSize. 0: never rotate.
	MaxSize int64 `yaml:"max_size"`
	// MaxFiles is how many rotated files are kept besides the active one,
	// logrotate style: path.1 is the newest, path.MaxFiles the oldest, and
	// older ones are deleted. 0 keeps none (the active file only).
	MaxFiles int `yaml:"max_files"`
	// FsyncInterval is how often written records are fsynced; a record's
	// Done(nil) comes only after its fsync returned, so this bounds the
	// acknowledgement delay. Every batch is written to the file at once
	// (tailers see it), and Flush, rotation, Close and MaxUnsynced pending
	// records force an fsync. 0 fsyncs after every batch the writer takes
	// from its queue (group commit); a negative value never fsyncs (Done
	// after the write(2): survives a crash of Aegis, not of the host).
	FsyncInterval time.Duration `yaml:"fsync_interval"`
	// FileMode is the mode of files the sink creates (umask not applied).
	// Default 0640.
	FileMode fs.FileMode `yaml:"file_mode"`
	// DirMode is the mode of directories the sink creates (before umask).
	// Default 0750.
	DirMode fs.FileMode `yaml:"dir_mode"`
	// QueueSize bounds the messages accepted but not yet written: Write
	// blocks while it is full. Default 1024.
	QueueSize int `yaml:"queue_size"`
	// MaxUnsynced bounds the records written but not yet fsynced (and so
	// not yet acknowledged); reaching it forces an fsync. Default 8192.
	MaxUnsynced int `yaml:"max_unsynced"`
}

// DefaultConfig returns the defaults, with Path empty (it must be set).
func DefaultConfig() Config {
	return Config{
		Format:        DefaultFormat,
		MaxSize:       DefaultMaxSize,
		MaxFiles:      DefaultMaxFiles,
		FsyncInterval: DefaultFsyncInterval,
		FileMode:      DefaultFileMode,
		DirMode:       DefaultDirMode,
		QueueSize:     DefaultQueueSize,
		MaxUnsynced:   DefaultMaxUnsynced,
	}
}

// withDefaults fills the zero fields that mean "default".
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.Format == "" {
		c.Format = def.Format
	}
	if c.FileMode == 0 {
		c.FileMode = def.FileMode
	}
	if c.DirMode == 0 {
		c.DirMode = def.DirMode
	}
	if c.QueueSize == 0 {
		c.QueueSize = def.QueueSize
	}
	if c.MaxUnsynced == 0 {
		c.MaxUnsynced = def.MaxUnsynced
	}
	return c
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Path == "":
		errs = append(errs, errors.New(`file sink: path is empty (a file path, "/var/log/aegis/{kind}.jsonl" for one file per kind, or "-" for stdout)`))
	case c.Path == StdoutPath:
	case strings.HasSuffix(c.Path, "/"):
		errs = append(errs, fmt.Errorf("file sink: path %q names a directory; give a file name such as %q", c.Path, c.Path+"aegis.jsonl"))
	}
	if c.Format != "" && !format.Valid(c.Format) {
		errs = append(errs, fmt.Errorf("file sink: format %q: must be one of %v", c.Format, format.Names()))
	}
	if c.MaxSize < 0 {
		errs = append(errs, fmt.Errorf("file sink: max_size %d: must be 0 (no rotation) or a size in bytes", c.MaxSize))
	}
	if c.MaxFiles < 0 {
		errs = append(errs, fmt.Errorf("file sink: max_files %d: must be 0 or more", c.MaxFiles))
	}
	if c.FileMode&^fs.ModePerm != 0 {
		errs = append(errs, fmt.Errorf("file sink: file_mode %#o: only permission bits (0 to 0777) are allowed", uint32(c.FileMode)))
	}
	if c.DirMode&^fs.ModePerm != 0 {
		errs = append(errs, fmt.Errorf("file sink: dir_mode %#o: only permission bits (0 to 0777) are allowed", uint32(c.DirMode)))
	}
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("file sink: queue_size %d: must be positive (0 means %d)", c.QueueSize, DefaultQueueSize))
	}
	if c.MaxUnsynced < 0 {
		errs = append(errs, fmt.Errorf("file sink: max_unsynced %d: must be positive (0 means %d)", c.MaxUnsynced, DefaultMaxUnsynced))
	}
	return errors.Join(errs...)
}
