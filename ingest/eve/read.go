package eve

import (
	"io"

	"github.com/aegis-nsm/aegis/ingest/flowctx"
	"github.com/aegis-nsm/aegis/ingest/logscan"
	"github.com/aegis-nsm/aegis/schemas"
)

// ReadFile decodes a whole EVE JSON file (plain or gzip) for offline use.
// It returns the flow events as IDSFlow records in file order, with File
// and Line set and the context of the tls, quic, ssh, http and alert events
// with the same flow_id attached (see ReadFiles). Malformed lines are skipped and reported in Stats (counted by
// Reason, the first ones kept in Stats.Errors with file, line and field);
// only a file that cannot be opened or read is an error. ReadFile is safe
// for concurrent use.
func ReadFile(path string) ([]schemas.IDSFlow, Stats, error) {
	return ReadFilesConfig(Config{}, path)
}

// ReadFiles decodes several EVE files as one input (the per-thread
// eve.N.json files of `threaded: yes`, or a day of rotated files), joining
// flow context across them by flow_id: for each string field (SNI,
// TLSVersion, JA3, JA3S, JA4, SSHClient, SSHServer, HTTPHost,
// HTTPUserAgent, HTTPURL) the first event with a non-empty value wins;
// every alert is appended to IDSFlow.Context.Alerts in file order. Context events
// whose flow event is not in the input are counted in
// Stats.ContextUnmatched and dropped. Flows come in the order of paths, then lines. On an unreadable file
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
	// A flow event is 400-800 bytes and other events are larger: reserve
	// for one flow per 400 bytes, so that the flows are collected in
	// place without a final copy.
	c.flows.Reserve(logscan.EstimateRecords(paths, 400, 1<<22))
	return c.finish(c.fr.ReadFiles(paths, c.read))
}

// Read decodes EVE JSON from r, named name in errors and IDSFlow.File, with
// the semantics of ReadFiles. Only a read error from r is returned as an
// error.
func Read(r io.Reader, name string, cfg Config) ([]schemas.IDSFlow, Stats, error) {
	c, err := newCollector(cfg)
	if err != nil {
		return nil, Stats{}, err
	}
	return c.finish(c.read(r, name))
}

// collector gathers the events of one or more files and joins them. It is
// the logscan.LineDecoder of the file being read.
type collector struct {
	cfg   Config
	fr    logscan.FileReader
	d     *Decoder // the file being read
	flows logscan.Chunks[schemas.IDSFlow]
	ctx   []flowctx.Record[uint64] // flow context by flow_id
	stats Stats
	arena logscan.Strings // the records' strings, for all the files
}

func newCollector(cfg Config) (*collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	fr := logscan.FileReader{Prefix: "eve", MaxLineBytes: cfg.MaxLineBytes, MaxErrorSamples: cfg.MaxErrorSamples}
	return &collector{cfg: cfg, fr: fr}, nil
}

// read decodes one file or stream with a Decoder of its own.
func (c *collector) read(r io.Reader, name string) error {
	c.d = newDecoder(name, c.cfg)
	c.d.arena = &c.arena
	defer func() { c.stats.Add(c.d.Stats()) }()
	return c.fr.ReadLines(r, name, c)
}

// DecodeLine decodes a line of the file being read and keeps its flow or
// SNI record.
func (c *collector) DecodeLine(line []byte) error {
	c.d.out = c.flows.Spare() // a flow event is decoded in place
	kind, _, err := c.d.decodeLine(line)
	if err != nil {
		return err
	}
	switch kind {
	case KindFlow:
		c.flows.Commit()
		c.d.out = &c.d.fl // the slot is the record's now
	case KindContext:
		c.ctx = append(c.ctx, flowctx.Record[uint64]{Key: c.d.ctxRec.FlowID, Fields: c.d.ctxRec.Fields})
	}
	return nil
}

// SkipLine counts a line of the file being read that was too long.
func (c *collector) SkipLine() { c.d.countLineTooLong() }

// finish attaches the context by flow_id and returns the flows and the
// stats, with err.
func (c *collector) finish(err error) ([]schemas.IDSFlow, Stats, error) {
	if c.d != nil {
		// The spare slot may hold a flow event that was rejected after
		// it was begun: let its strings go.
		*c.d.out = schemas.IDSFlow{}
	}
	flows := c.flows.All()
	j := flowctx.Attach(flows, flowID, c.ctx)
	c.stats.ContextMatched += j.Matched
	c.stats.ContextUnmatched += j.Unmatched
	c.stats.SNIAttached += j.SNIAttached
	c.stats.AlertsAttached += j.Alerts
	c.stats.Errors = c.fr.Errors
	return flows, c.stats, err
}

// flowID is the key of the SNI join.
func flowID(f *schemas.IDSFlow) uint64 { return f.FlowID }
