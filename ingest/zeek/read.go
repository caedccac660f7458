package zeek

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aegis-nsm/aegis/ingest/logscan"
	"github.com/aegis-nsm/aegis/schemas"
)

// ReadFile decodes a whole Zeek log (TSV or JSON, plain or gzip) for offline
// use. It returns the conn records in file order, with File and Line set.
// Malformed lines are skipped and reported in Stats (counted by Reason,
// the first ones kept in Stats.Errors with file, line and field); only a
// file that cannot be opened or read is an error. An ssl.log on its own
// yields no flows; pass it with its conn.log to ReadFiles to attach SNI.
// ReadFile is safe for concurrent use.
func ReadFile(path string) ([]schemas.IDSFlow, Stats, error) {
	return ReadFilesConfig(Config{}, path)
}

// ReadFiles decodes several Zeek logs as one input, typically a conn.log and
// the ssl.log of the same run (`aegis analyze --zeek conn.log --zeek
// ssl.log`), and attaches each ssl record's server_name to the conn records
// with the same uid (IDSFlow.SNI; the first non-empty server_name wins when
// a uid has several ssl records). Flows come in the order of paths, then
// lines. On an unreadable file it stops and returns what it decoded before,
// with the error. ReadFiles is safe for concurrent use.
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

// Read decodes one Zeek log from r, named name in errors and IDSFlow.File,
// with the semantics of ReadFiles (SNI from ssl records in the same input
// is attached). Only a read error from r is returned as an error.
func Read(r io.Reader, name string, cfg Config) ([]schemas.IDSFlow, Stats, error) {
	c, err := newCollector(cfg)
	if err != nil {
		return nil, Stats{}, err
	}
	err = c.read(r, name)
	flows, stats := c.finish()
	return flows, stats, err
}

// collector gathers the records of one or more files and joins them.
type collector struct {
	cfg   Config
	flows []schemas.IDSFlow
	ssl   []SSLRecord
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
		return fmt.Errorf("zeek: %w", err)
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
		return fmt.Errorf("zeek: read %s: %w", name, err)
	}
	for {
		line, tooLong, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("zeek: read %s after line %d: %w", name, d.Line(), err)
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
		case KindConn:
			c.flows = append(c.flows, res.Flow)
		case KindSSL:
			c.ssl = append(c.ssl, res.SSL)
		}
	}
}

func (c *collector) sample(le *LineError) {
	if c.cfg.MaxErrorSamples > 0 && len(c.stats.Errors) < c.cfg.MaxErrorSamples {
		c.stats.Errors = append(c.stats.Errors, le)
	}
}

// finish attaches SNI by uid and returns the flows and the stats.
func (c *collector) finish() ([]schemas.IDSFlow, Stats) {
	if len(c.ssl) > 0 {
		uids := make(map[string]struct{}, len(c.flows))
		for i := range c.flows {
			if c.flows[i].UID != "" {
				uids[c.flows[i].UID] = struct{}{}
			}
		}
		sni := make(map[string]string, len(c.ssl))
		for _, r := range c.ssl {
			if _, ok := uids[r.UID]; ok && r.UID != "" {
				c.stats.SSLMatched++
			} else {
				c.stats.SSLUnmatched++
			}
			if r.ServerName != "" && sni[r.UID] == "" {
				sni[r.UID] = r.ServerName
			}
		}
		for i := range c.flows {
			f := &c.flows[i]
			if s := sni[f.UID]; s != "" && f.UID != "" {
				f.SNI = s
				c.stats.SNIAttached++
			}
		}
	}
	return c.flows, c.stats
}
