package zeek

import (
	"io"

	"github.com/aegis-nsm/aegis/ingest/logscan"
	"github.com/aegis-nsm/aegis/ingest/snijoin"
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
	return c.finish(c.fr.ReadFiles(paths, c.read))
}

// Read decodes one Zeek log from r, named name in errors and IDSFlow.File,
// with the semantics of ReadFiles (SNI from ssl records in the same input
// is attached). Only a read error from r is returned as an error.
func Read(r io.Reader, name string, cfg Config) ([]schemas.IDSFlow, Stats, error) {
	c, err := newCollector(cfg)
	if err != nil {
		return nil, Stats{}, err
	}
	return c.finish(c.read(r, name))
}

// collector gathers the records of one or more files and joins them. It
// is the logscan.LineDecoder of the file being read.
type collector struct {
	cfg   Config
	fr    logscan.FileReader
	d     *Decoder // the file being read
	flows []schemas.IDSFlow
	ssl   []snijoin.Name[string] // server names by uid
	stats Stats
}

func newCollector(cfg Config) (*collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	fr := logscan.FileReader{Prefix: "zeek", MaxLineBytes: cfg.MaxLineBytes, MaxErrorSamples: cfg.MaxErrorSamples}
	return &collector{cfg: cfg, fr: fr}, nil
}

// read decodes one file or stream with a Decoder of its own.
func (c *collector) read(r io.Reader, name string) error {
	c.d = newDecoder(name, c.cfg)
	defer func() { c.stats.Add(c.d.Stats()) }()
	return c.fr.ReadLines(r, name, c)
}

// DecodeLine decodes a line of the file being read and keeps its conn or
// ssl record.
func (c *collector) DecodeLine(line []byte) error {
	res, err := c.d.Decode(line)
	if err != nil {
		return err
	}
	switch res.Kind {
	case KindConn:
		c.flows = append(c.flows, res.Flow)
	case KindSSL:
		c.ssl = append(c.ssl, snijoin.Name[string]{Key: res.SSL.UID, Name: res.SSL.ServerName})
	}
	return nil
}

// SkipLine counts a line of the file being read that was too long.
func (c *collector) SkipLine() { c.d.countLineTooLong() }

// finish attaches SNI by uid and returns the flows and the stats,
// with err.
func (c *collector) finish(err error) ([]schemas.IDSFlow, Stats, error) {
	j := snijoin.Attach(c.flows, uid, c.ssl)
	c.stats.SSLMatched += j.Matched
	c.stats.SSLUnmatched += j.Unmatched
	c.stats.SNIAttached += j.Attached
	c.stats.Errors = c.fr.Errors
	return c.flows, c.stats, err
}

// uid is the key of the SNI join.
func uid(f *schemas.IDSFlow) string { return f.UID }
