package zeek

import (
	"io"

	"github.com/aegis-nsm/aegis/ingest/flowctx"
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

// ReadFiles decodes several Zeek logs as one input, typically a conn.log,
// the conn_long.log and the ssl.log of the same run (`aegis analyze --zeek
// conn.log --zeek ssl.log`), and:
//
//   - keeps one record per connection where Zeek logged several: the
//     final conn row of a uid wins over its interim conn_long snapshots,
//     and a uid with only snapshots keeps its latest one (the largest End,
//     the later line on a tie), marked Interim. Records without a uid and
//     several final rows of one uid (which Zeek does not write) are all
//     kept. Stats.InterimSuperseded counts what was dropped;
//     Config.KeepInterim keeps everything.
//   - attaches each ssl record to the conn records with the same uid:
//     server_name as SNI, version as Context.TLSVersion, ja3, ja3s and ja4 (the
//     first non-empty value of each wins when a uid has several ssl
//     records).
//
// Flows come in the order of paths, then lines. On an unreadable file it
// stops and returns what it decoded before, with the error. ReadFiles is
// safe for concurrent use.
func ReadFiles(paths ...string) ([]schemas.IDSFlow, Stats, error) {
	return ReadFilesConfig(Config{}, paths...)
}

// ReadFilesConfig is ReadFiles with a Config.
func ReadFilesConfig(cfg Config, paths ...string) ([]schemas.IDSFlow, Stats, error) {
	c, err := newCollector(cfg)
	if err != nil {
		return nil, Stats{}, err
	}
	// A conn.log line is 150-250 bytes: reserve for one per 120 bytes, so
	// that the flows are collected in place without a final copy.
	c.flows.Reserve(logscan.EstimateRecords(paths, 120, 1<<22))
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
	flows logscan.Chunks[schemas.IDSFlow]
	ssl   []flowctx.Record[string] // ssl context by uid
	stats Stats
	arena logscan.Strings // the records' strings, for all the files
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
	c.d.arena = &c.arena
	defer func() { c.stats.Add(c.d.Stats()) }()
	return c.fr.ReadLines(r, name, c)
}

// DecodeLine decodes a line of the file being read and keeps its conn or
// ssl record.
func (c *collector) DecodeLine(line []byte) error {
	c.d.out = c.flows.Spare() // a conn record is decoded in place
	kind, _, err := c.d.decode(line)
	if err != nil {
		return err
	}
	switch kind {
	case KindConn:
		c.flows.Commit()
		c.d.out = &c.d.own // the slot is the record's now
	case KindSSL:
		s := &c.d.sslRec
		c.ssl = append(c.ssl, flowctx.Record[string]{Key: s.UID, Fields: flowctx.Fields{
			SNI: s.ServerName, TLSVersion: s.Version, JA3: s.JA3, JA3S: s.JA3S, JA4: s.JA4,
		}})
	}
	return nil
}

// SkipLine counts a line of the file being read that was too long.
func (c *collector) SkipLine() { c.d.countLineTooLong() }

// finish resolves interim records, attaches the ssl context by uid and
// returns the flows and the stats, with err.
func (c *collector) finish(err error) ([]schemas.IDSFlow, Stats, error) {
	if c.d != nil {
		// The spare slot may hold a record that was not kept (an ssl or
		// rejected line): let its strings go.
		*c.d.out = schemas.IDSFlow{}
	}
	flows := c.flows.All()
	if !c.cfg.KeepInterim && c.stats.Interim > 0 {
		var dropped int64
		flows, dropped = resolveInterim(flows)
		c.stats.InterimSuperseded += dropped
	}
	j := flowctx.Attach(flows, uid, c.ssl)
	c.stats.SSLMatched += j.Matched
	c.stats.SSLUnmatched += j.Unmatched
	c.stats.SNIAttached += j.SNIAttached
	c.stats.Errors = c.fr.Errors
	return flows, c.stats, err
}

// resolveInterim keeps, per uid, the final records, or, when a uid has
// none, its latest interim record (largest End, later on a tie); records
// without a uid are kept. It filters flows in place and returns them with
// the number dropped.
func resolveInterim(flows []schemas.IDSFlow) ([]schemas.IDSFlow, int64) {
	final := make(map[string]struct{})
	latest := make(map[string]int) // uid -> index of its latest interim record
	for i := range flows {
		f := &flows[i]
		switch {
		case f.UID == "":
		case !f.Interim:
			final[f.UID] = struct{}{}
		default:
			if j, ok := latest[f.UID]; !ok || f.End >= flows[j].End {
				latest[f.UID] = i
			}
		}
	}
	out := flows[:0]
	for i := range flows {
		f := &flows[i]
		if f.Interim && f.UID != "" {
			if _, ok := final[f.UID]; ok || latest[f.UID] != i {
				continue
			}
		}
		out = append(out, *f)
	}
	dropped := int64(len(flows) - len(out))
	clear(flows[len(out):]) // let the dropped records' strings go
	return out, dropped
}

// uid is the key of the SNI join.
func uid(f *schemas.IDSFlow) string { return f.UID }
