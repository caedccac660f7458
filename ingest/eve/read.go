package eve

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aegis-nsm/aegis/ingest/logscan"
	"github.com/aegis-nsm/aegis/schemas"
)

// ReadFile decodes a whole EVE JSON file (plain or gzip) for offline use.
// It returns the flow events as IDSFlow records in file order, with File
// and Line set and SNI attached from the tls and quic events with the same
// flow_id. Malformed lines are skipped and reported in Stats (counted by
// Reason, the first ones kept in Stats.Errors with file, line and field);
// only a file that cannot be opened or read is an error. ReadFile is safe
// for concurrent use.
func ReadFile(path string) ([]schemas.IDSFlow, Stats, error) {
	return ReadFilesConfig(Config{}, path)
}

// ReadFiles decodes several EVE files as one input (the per-thread
// eve.N.json files of `threaded: yes`, or a day of rotated files), joining
// SNI across them by flow_id; the first non-empty server name of a flow
// wins. Flows come in the order of paths, then lines. On an unreadable file
// it stops and returns what it decoded before, with the error. ReadFiles
// is safe for concurrent use.
func ReadFiles(paths ...string) ([]schemas.IDSFlow, Stats, error) {
	return ReadFilesConfig(Config{}, paths...)
}

// ReadFilesConfig is ReadFiles with a Config.
func ReadFilesConfig(cfg Config, paths ...string) ([]schemas.IDSFlow, Stats, error) {
	c, err := newCollector(cfg)
	if err != nil {
		return nil, Stats{}, err
	}
	for _, p := range paths {
		if err := c.readFile(p); err != nil {
			flows, stats := c.finish()
			return flows, stats, err
		}
	}
	flows, stats := c.finish()
	return flows, stats, nil
}

// Read decodes EVE JSON from r, named name in errors and IDSFlow.File, with
// the semantics of ReadFiles. Only a read error from r is returned as an
// error.
func Read(r io.Reader, name string, cfg Config) ([]schemas.IDSFlow, Stats, error) {
	c, err := newCollector(cfg)
	if err != nil {
		return nil, Stats{}, err
	}
	err = c.read(r, name)
	flows, stats := c.finish()
	return flows, stats, err
}

// collector gathers the events of one or more files and joins them.
type collector struct {
	cfg   Config
	flows []schemas.IDSFlow
	sni   []SNIRecord
	stats Stats
}

func newCollector(cfg Config) (*collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &collector{cfg: cfg.withDefaults()}, nil
}

func (c *collector) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("eve: %w", err)
	}
	defer f.Close()
	return c.read(f, path)
}

func (c *collector) read(r io.Reader, name string) error {
	d, err := NewDecoder(name, c.cfg)
	if err != nil {
		return err
	}
	defer func() { c.stats.Add(d.Stats()) }()
	lr, err := logscan.NewLineReader(r, c.cfg.MaxLineBytes)
	if err != nil {
		return fmt.Errorf("eve: read %s: %w", name, err)
	}
	for {
		line, tooLong, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("eve: read %s after line %d: %w", name, d.Line(), err)
		}
		if tooLong > 0 {
			c.sample(d.countLineTooLong(tooLong))
			continue
		}
		res, err := d.Decode(line)
		if err != nil {
			var le *LineError
			if errors.As(err, &le) {
				c.sample(le)
			}
			continue
		}
		switch res.Kind {
		case KindFlow:
			c.flows = append(c.flows, res.Flow)
		case KindSNI:
			c.sni = append(c.sni, res.SNI)
		}
	}
}

func (c *collector) sample(le *LineError) {
	if c.cfg.MaxErrorSamples > 0 && len(c.stats.Errors) < c.cfg.MaxErrorSamples {
		c.stats.Errors = append(c.stats.Errors, le)
	}
}

// finish attaches SNI by flow_id and returns the flows and the stats.
func (c *collector) finish() ([]schemas.IDSFlow, Stats) {
	if len(c.sni) > 0 {
		ids := make(map[uint64]struct{}, len(c.flows))
		for i := range c.flows {
			if id := c.flows[i].FlowID; id != 0 {
				ids[id] = struct{}{}
			}
		}
		sni := make(map[uint64]string, len(c.sni))
		for _, r := range c.sni {
			if _, ok := ids[r.FlowID]; ok && r.FlowID != 0 {
				c.stats.SNIMatched++
			} else {
				c.stats.SNIUnmatched++
			}
			if r.SNI != "" && r.FlowID != 0 && sni[r.FlowID] == "" {
				sni[r.FlowID] = r.SNI
			}
		}
		for i := range c.flows {
			f := &c.flows[i]
			if s := sni[f.FlowID]; s != "" {
				f.SNI = s
				c.stats.SNIAttached++
			}
		}
	}
	return c.flows, c.stats
}
