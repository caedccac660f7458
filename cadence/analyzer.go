package cadence

import (
	"errors"
	"sync"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
)

// FlowContext is what the IDS says about a flow. Both fields may be empty.
// They are attacker-influenced text: Aegis reports them, and uses the
// service only as a weak prior (see servicePrior) and the SNI only to
// corroborate a route that the cadence already found.
type FlowContext struct {
	// SNI is the TLS server name (Zeek ssl.log server_name, EVE tls.sni).
	SNI string
	// Service is the application protocol (Zeek conn.log service, EVE
	// app_proto), e.g. "ssh", "ssl", "http".
	Service string
}

// Result is the analysis of one flow. It is owned by the caller: nothing in
// it aliases the Analyzer, its scratch or the Flow.
type Result struct {
	Features   schemas.Cadence
	Class      schemas.Class
	Confidence float64 // 0..1
	// Reasons name the features that decided the class, most important
	// first; for "other" they say why each detection class did not fit.
	Reasons []string
	// Handoff is set for schemas.ClassHandoff only.
	Handoff *schemas.Handoff
	// Route is the model-route fingerprint; Name is "unknown" unless the
	// class is llm_stream and one profile fits clearly.
	Route schemas.RouteMatch
}

// Analyzer computes cadence features, classifies flows and fingerprints
// model routes. It is read-only after NewAnalyzer and safe for concurrent use
// by any number of goroutines; each Analyze call borrows pooled scratch
// buffers, so steady-state analysis allocates little more than its Result.
type Analyzer struct {
	cfg        Config
	profiles   *Profiles
	flushGapNs int64
	pool       sync.Pool
}

// NewAnalyzer validates cfg and returns an Analyzer. profiles may be nil (no
// route fingerprinting: every route is "unknown"); the Analyzer keeps the
// pointer, and Profiles are immutable.
func NewAnalyzer(cfg Config, profiles *Profiles) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, errors.Join(errors.New("cadence: invalid config"), err)
	}
	if profiles == nil {
		profiles = &Profiles{}
	}
	a := &Analyzer{cfg: cfg, profiles: profiles, flushGapNs: int64(cfg.FlushGap)}
	a.pool.New = func() any { return new(scratch) }
	return a, nil
}

// Config returns the Analyzer's configuration.
func (a *Analyzer) Config() Config { return a.cfg }

// Analyze computes the features of f, classifies it and matches its route.
// f is only read, never retained. The result depends on f and ctx alone:
// the same flow gives the same Result, byte for byte once encoded.
func (a *Analyzer) Analyze(f *flowtable.Flow, ctx FlowContext) Result {
	if f == nil {
		return Result{Class: schemas.ClassOther, Confidence: 1, Reasons: []string{"no flow"},
			Route: schemas.RouteMatch{Name: RouteUnknown, SNI: SNINone}}
	}
	sc := a.pool.Get().(*scratch)
	defer func() {
		sc.trim()
		a.pool.Put(sc)
	}()

	var ev evidence
	ev.flow = f
	ev.ctx = ctx
	ev.client = a.direction(&f.Orig, dirClient, sc)
	ev.server = a.direction(&f.Resp, dirServer, sc)
	sc.merged = mergeFlushes(sc.flushes[dirClient], sc.flushes[dirServer], horizon(f), sc.merged[:0])
	ev.run = a.longestRun(sc.merged, isUDP(f))
	ev.exchange = exchange(sc.merged, ev.run, ev.client, ev.server)
	_, respSizes := detail(&f.Resp)
	_, origSizes := detail(&f.Orig)
	ev.sides[dirClient] = a.analyseSession(sc.merged, dirClient, respSizes, f.First, sc)
	ev.sides[dirServer] = a.analyseSession(sc.merged, dirServer, origSizes, f.First, sc)
	ev.session = a.pickSession(ev.sides[dirClient], ev.sides[dirServer])
	ev.upload = a.findUpload(ev.client, ev.server, sc)

	res := a.classify(&ev, sc)
	res.Features = schemas.Cadence{
		DurationS: gapMs(f.First, f.Last) / 1000,
		Client:    ev.client,
		Server:    ev.server,
		Exchange:  ev.exchange,
		Session:   sessionFeatures(&ev.session, ev.upload, f.First),
	}
	sanitizeCadence(&res.Features)
	res.Confidence = round3(res.Confidence)
	return res
}

// evidence gathers what the classifier reads.
type evidence struct {
	flow     *flowtable.Flow
	ctx      FlowContext
	client   schemas.DirectionFeatures
	server   schemas.DirectionFeatures
	exchange schemas.ExchangeFeatures
	run      serverRun
	session  session    // the commanding side's
	sides    [2]session // both sides', for the upload's command phase
	upload   upload
}

// pickSession chooses the commanding side: the client, unless the responder
// issues enough command lines that the originator answers with output, and
// more answered ones than the client has answered commands and keystrokes
// (a reverse shell; the victim's unprompted output does not count).
func (a *Analyzer) pickSession(client, server session) session {
	if server.commands >= a.cfg.MinCommands+reverseExtraCommands && server.answered > client.answered+client.keys &&
		10*server.answered >= 6*server.commands && server.contentShare >= 0.5 {
		return server
	}
	return client
}

// sessionFeatures renders the session and upload evidence.
func sessionFeatures(s *session, u upload, flowStart int64) schemas.SessionFeatures {
	out := schemas.SessionFeatures{
		CommandSide:   "none",
		Keystrokes:    int64(s.keys),
		FastTiny:      int64(s.fastTiny),
		Commands:      int64(s.commands),
		PauseMedianMs: s.pauseMed,
		PauseCV:       s.pauseCV,
	}
	if s.keys > 0 {
		out.EchoShare = float64(s.echoed) / float64(s.keys)
	}
	if s.commands > 0 {
		out.AnsweredShare = float64(s.answered) / float64(s.commands)
		out.FastCommandShare = float64(s.fastCmds) / float64(s.commands)
	}
	if s.keys > 0 || s.commands > 0 {
		out.CommandSide = "client"
		if s.side == dirServer {
			out.CommandSide = "server"
		}
	}
	if u.ok {
		out.UploadBytes = u.bytes
		out.UploadChunks = int64(u.chunks)
		out.UploadSizeCV = u.sizeCV
		out.UploadGapCV = u.gapCV
		out.UploadOffsetS = gapMs(flowStart, u.start) / 1000
	}
	return out
}

// isUDP reports whether f is a UDP flow.
func isUDP(f *flowtable.Flow) bool {
	return f.Key.Proto == schemas.ProtoUDP || f.OrigTuple.Proto == schemas.ProtoUDP
}
