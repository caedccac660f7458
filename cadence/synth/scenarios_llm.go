package synth

import (
	"fmt"
	"math"
	"strings"

	"github.com/aegis-nsm/aegis/schemas"
)

// route is the cadence profile of one provider/model route. Gap figures are
// the mean gap between server flushes (groups of back-to-back segments)
// during streaming, seeded from the Whisper Leak normalisation files (see
// research/detection.md §3.2), whose captures counted a flush split over
// several segments as one packet.
type route struct {
	name      string
	hosts     []routeHost
	port      uint16
	plain     bool       // plain HTTP (Ollama on the LAN)
	gapMs     float64    // mean flush gap
	gapRange  [2]float64 // when set, a per-flow mean gap drawn from this range (ms)
	sigma     float64    // log-normal sigma of flush gaps (cv for gamma when plain)
	quantum   float64    // ms; gaps cluster at multiples of it
	evBytes   [2]int     // plaintext bytes per SSE event
	evFlush   [2]int     // events per flush
	bigP      float64    // share of flushes that are multi-KB bursts
	bigBytes  [2]int
	splitP    float64    // share of flushes written as two sends sub-ms apart
	stallP    float64    // share of gaps that are server stalls
	stallMs   float64    // median stall (log-normal, sigma 0.8)
	ttft      [2]float64 // s: range of the per-flow median time to first token
	ttfb      [2]float64 // s: response headers (and preamble events) after the request
	flushes   [2]int     // flushes per response (log-uniform)
	pre, post []int      // plaintext sizes of preamble and closing events
	alpn      string
	source    string
}

type routeHost struct {
	sni    string
	remote string
}

var routes = []*route{
	{name: "amazon-bedrock/nova-lite", hosts: []routeHost{{"bedrock-runtime.us-east-1.amazonaws.com", "bedrock"}, {"bedrock-runtime.us-west-2.amazonaws.com", "bedrock"}},
		gapMs: 7.7, sigma: 0.5, evBytes: [2]int{260, 380}, evFlush: [2]int{1, 1}, splitP: 0.05, stallP: 0.006, stallMs: 280,
		ttft: [2]float64{0.3, 0.9}, ttfb: [2]float64{0.15, 0.4}, flushes: [2]int{150, 610}, pre: []int{180}, post: []int{210, 330}, alpn: "http/1.1",
		source: "Whisper Leak amazonnovalitev1: mean gap 7.7 ms, 383 B packets, p95 610 packets"},
	{name: "amazon-bedrock/nova-pro", hosts: []routeHost{{"bedrock-runtime.us-east-1.amazonaws.com", "bedrock"}},
		gapMs: 6.7, sigma: 0.45, evBytes: [2]int{240, 360}, evFlush: [2]int{1, 1}, splitP: 0.05, stallP: 0.006, stallMs: 300,
		ttft: [2]float64{0.4, 1.2}, ttfb: [2]float64{0.15, 0.4}, flushes: [2]int{250, 1330}, pre: []int{180}, post: []int{210, 330}, alpn: "http/1.1",
		source: "Whisper Leak amazonnovaprov1: mean gap 6.7 ms, 355 B packets, p95 1330 packets"},
	{name: "azure-ai/deepseek-r1", hosts: []routeHost{{"api.deepseek.com", "deepseek"}, {"ds-r1-prod.services.ai.azure.com", "azure"}},
		gapMs: 9.4, sigma: 0.6, evBytes: [2]int{170, 260}, evFlush: [2]int{1, 1}, splitP: 0.1, stallP: 0.005, stallMs: 450,
		ttft: [2]float64{1, 4}, ttfb: [2]float64{0.2, 0.8}, flushes: [2]int{600, 3400}, pre: []int{250}, post: []int{300, 40}, alpn: "http/1.1",
		source: "Whisper Leak azuredeepseekr1: mean gap 9.4 ms, std 183 ms (huge spread), p95 3451 packets"},
	{name: "xai/grok-2", hosts: []routeHost{{"api.x.ai", "xai"}},
		gapMs: 16.5, sigma: 0.55, evBytes: [2]int{470, 620}, evFlush: [2]int{1, 1}, splitP: 0.3, stallP: 0.003, stallMs: 250,
		ttft: [2]float64{0.3, 0.9}, ttfb: [2]float64{0.2, 0.5}, flushes: [2]int{120, 713}, pre: []int{420}, post: []int{450, 40}, alpn: "h2",
		source: "Whisper Leak grok2: mean gap 16.5 ms, std 28.5 ms, 614 B packets, p95 713 packets"},
	{name: "openrouter-lambda/llama-3.1-8b", hosts: []routeHost{{"openrouter.ai", "openrouter"}},
		gapMs: 16.9, sigma: 0.8, evBytes: [2]int{330, 480}, evFlush: [2]int{1, 2}, splitP: 0.35, stallP: 0.008, stallMs: 350,
		ttft: [2]float64{0.3, 1.5}, ttfb: [2]float64{0.1, 0.3}, flushes: [2]int{80, 442}, pre: []int{24, 24}, post: []int{520, 40}, alpn: "h2",
		source: "Whisper Leak llama8blambda (OpenRouter→Lambda): mean gap 16.9 ms, 809 B packets, p95 442 packets"},
	{name: "openai/o1-mini", hosts: []routeHost{{"api.openai.com", "openai"}},
		gapMs: 21.2, sigma: 0.8, evBytes: [2]int{560, 680}, evFlush: [2]int{1, 1}, splitP: 0.15, stallP: 0.01, stallMs: 400,
		ttft: [2]float64{3, 15}, ttfb: [2]float64{0.2, 0.6}, flushes: [2]int{100, 606}, pre: []int{600}, post: []int{620, 16}, alpn: "h2",
		source: "Whisper Leak o1mini: mean gap 21.2 ms, 678 B packets, p95 606 packets; reasoning delays the first token"},
	{name: "azure-openai/gpt-4o-mini", hosts: []routeHost{{"contoso-eastus.openai.azure.com", "azure"}, {"aegis-lab-swedencentral.openai.azure.com", "azure"}},
		gapMs: 39.4, sigma: 0.65, evBytes: [2]int{230, 380}, evFlush: [2]int{3, 8}, splitP: 0.1, stallP: 0.01, stallMs: 400,
		ttft: [2]float64{0.4, 1.2}, ttfb: [2]float64{0.3, 0.8}, flushes: [2]int{40, 185}, pre: []int{700}, post: []int{400, 16}, alpn: "http/1.1",
		source: "Whisper Leak azuregpt4omini: mean gap 39.4 ms, ~1.7 KB per flush (content-filter batching), p95 185 packets"},
	{name: "azure-openai/gpt-4o", hosts: []routeHost{{"contoso-eastus.openai.azure.com", "azure"}, {"finance-ai-westeurope.openai.azure.com", "azure"}},
		gapMs: 46.1, sigma: 0.65, evBytes: [2]int{230, 380}, evFlush: [2]int{3, 8}, splitP: 0.1, stallP: 0.01, stallMs: 450,
		ttft: [2]float64{0.5, 1.6}, ttfb: [2]float64{0.3, 0.9}, flushes: [2]int{40, 171}, pre: []int{700}, post: []int{400, 16}, alpn: "http/1.1",
		source: "Whisper Leak azuregpt4o: mean gap 46.1 ms, ~1.75 KB per flush, p95 171 packets"},
	{name: "anthropic/claude-3.5-haiku", hosts: []routeHost{{"api.anthropic.com", "anthropic"}},
		gapMs: 116, quantum: 45, evBytes: [2]int{210, 330}, evFlush: [2]int{1, 1}, splitP: 0.25, stallP: 0.01, stallMs: 600,
		ttft: [2]float64{0.5, 1.5}, ttfb: [2]float64{0.25, 0.7}, flushes: [2]int{15, 62}, pre: []int{470, 90, 40}, post: []int{70, 220, 45}, alpn: "http/1.1",
		source: "Whisper Leak claudehaiku: mean gap 116 ms with gaps near multiples of ~45 ms, 363 B packets, p95 62 packets"},
	{name: "google/gemini-2.0-flash", hosts: []routeHost{{"generativelanguage.googleapis.com", "google"}},
		gapMs: 215, sigma: 0.45, evBytes: [2]int{300, 700}, evFlush: [2]int{1, 1}, bigP: 0.45, bigBytes: [2]int{1700, 4500}, splitP: 0.1, stallP: 0.01, stallMs: 700,
		ttft: [2]float64{0.3, 0.8}, ttfb: [2]float64{0.25, 0.6}, flushes: [2]int{8, 35}, post: []int{350, 16}, alpn: "h2",
		source: "Whisper Leak geminiflash: mean gap 215 ms, multi-KB bursts (1.8/3.2/4.6 KB), p95 35 packets"},
	{name: "google/gemini-2.0-flash-lite", hosts: []routeHost{{"generativelanguage.googleapis.com", "google"}},
		gapMs: 246, sigma: 0.45, evBytes: [2]int{300, 700}, evFlush: [2]int{1, 1}, bigP: 0.45, bigBytes: [2]int{1700, 4500}, splitP: 0.1, stallP: 0.01, stallMs: 700,
		ttft: [2]float64{0.25, 0.7}, ttfb: [2]float64{0.2, 0.5}, flushes: [2]int{8, 34}, post: []int{350, 16}, alpn: "h2",
		source: "Whisper Leak geminiflashlight: mean gap 246 ms, multi-KB bursts, p95 34 packets"},
	{name: "ollama/local", port: 11434, plain: true,
		gapRange: [2]float64{20, 60}, sigma: 0.25, evBytes: [2]int{128, 176}, evFlush: [2]int{1, 1}, splitP: 0.03, stallP: 0.002, stallMs: 200,
		ttft: [2]float64{0.1, 2.0}, ttfb: [2]float64{0, 0}, flushes: [2]int{60, 800}, post: []int{360},
		source: "local Ollama on the LAN (plain HTTP, NDJSON one token per chunk); 20-60 ms per token depends on the GPU"},
}

func routeByName(n string) *route {
	for _, r := range routes {
		if r.name == n {
			return r
		}
	}
	return nil
}

// gateways are unlisted names a site's LLM proxy answers to.
var gateways = []string{"llm.corp.internal", "ai-gateway.corp.internal", "litellm.platform.internal"}

// llmSession is one client connection to an LLM route, over which one or
// more request/stream turns run.
type llmSession struct {
	e       *episode
	rt      *route
	c       *tcpConn
	tls     *tlsConn // nil for plain HTTP
	gapMean float64  // this flow's mean flush gap (ms)
	quantum float64
	ttftMed float64 // s
	buffer  float64 // ms a gateway buffers before flushing (0: none)
	hostHdr string
	ready   int64
}

// newLLMSession opens a connection from client to rt at t (after an
// optional DNS lookup) and returns the session and the time the client can
// send. The flow is labelled llm_stream with scenario name scen.
func (e *episode) newLLMSession(client *host, rt *route, t int64, scen string, viaGateway bool) *llmSession {
	r := e.r
	s := &llmSession{e: e, rt: rt}
	speed := r.lognMean(1, 0.15)
	if rt.gapRange[1] > 0 {
		s.gapMean = r.uniform(rt.gapRange[0], rt.gapRange[1])
	} else {
		s.gapMean = rt.gapMs * speed
	}
	s.quantum = rt.quantum * r.uniform(0.97, 1.03)
	s.ttftMed = math.Exp(r.uniform(math.Log(max(rt.ttft[0], 0.01)), math.Log(max(rt.ttft[1], 0.02))))
	var cs connSpec
	var sni string
	if rt.plain {
		cs = connSpec{client: client, server: e.g.net.lanServer(srvOllama), dport: rt.port, service: "http"}
		s.hostHdr = fmt.Sprintf("%s:%d", e.g.net.srv[srvOllama].v4, rt.port)
	} else {
		h := pick(r, rt.hosts)
		sni = h.sni
		cs = connSpec{client: client, server: remoteEP(h.remote), dport: 443}
		if viaGateway {
			sni = pick(r, gateways)
			cs.server = e.g.net.lanServer(srvGateway)
			if r.chance(0.5) {
				s.buffer = r.uniform(8, 40)
			}
		}
	}
	cs.addr = cs.server.pickAddr(r, e.v6 && cs.server.hasV6())
	if !rt.plain && r.chance(0.6) {
		// The client resolves the name first (not cached).
		t = e.lookup(client, sni, cs.addr, t)
	}
	s.open(cs, t, sni)
	s.c.f.label(schemas.ClassLLMStream, scen)
	s.c.f.route = rt.name
	return s
}

func (s *llmSession) open(cs connSpec, t int64, sni string) {
	e := s.e
	r := e.r
	if s.rt.plain {
		s.c = e.newTCP(cs)
		s.ready = s.c.open(t) + us*int64(r.intIn(30, 400))
		return
	}
	hs := tlsHandshake{sni: sni, style: e.apiClientStyle()}
	if hs.style == chOpenSSL {
		// Python SDKs (httpx) speak HTTP/1.1 only.
		hs.alpn, hs.chosen = []string{"http/1.1"}, "http/1.1"
	} else {
		hs.alpn, hs.chosen = []string{"h2", "http/1.1"}, s.rt.alpn
	}
	s.c, s.tls, s.ready = e.openTLS(cs, t, hs)
}

// words is the vocabulary of plaintext model output.
var words = strings.Fields("the a to of and in is that for it on with as this you be are or by from at an can not if " +
	"function return value file config server request error test data use will should each new list time " +
	"run build change check when which more code line path string number result output input option")

func (s *llmSession) plainRequest(t int64, body int) int64 {
	r := s.e.r
	js := `{"model":"qwen3-coder:30b","messages":[{"role":"user","content":"`
	tail := `"}],"stream":true,"options":{"temperature":0.2}}`
	n := max(body-len(js)-len(tail), 16)
	var b strings.Builder
	b.WriteString(js)
	for b.Len() < len(js)+n {
		b.WriteString(pick(r, words))
		b.WriteByte(' ')
	}
	b.WriteString(tail)
	bs := b.String()
	hdr := fmt.Sprintf("POST /api/chat HTTP/1.1\r\nHost: %s\r\nUser-Agent: ollama-python/0.4.7 (x86_64 linux) Python/3.12.3\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", s.hostHdr, len(bs))
	c := s.c
	c.f.st[cli].lit(c.off(cli), []byte(hdr))
	t1 := c.send(cli, t, len(hdr))
	c.f.st[cli].lit(c.off(cli), []byte(bs))
	return c.send(cli, t1+us*int64(r.intIn(20, 200)), len(bs))
}

// request sends an API request with a body of about body bytes and returns
// the time of its last segment.
func (s *llmSession) request(t int64, body int) int64 {
	if s.rt.plain {
		return s.plainRequest(t, body)
	}
	r := s.e.r
	hdr := r.intIn(380, 900)
	if r.chance(0.45) {
		t1 := s.tls.records(cli, t, hdr)
		return s.tls.records(cli, t1+us*int64(r.intIn(20, 400)), body)
	}
	return s.tls.records(cli, t, hdr, body)
}

// gap draws the time to the next server flush (ms) and how many extra
// events a queue releases with it after a stall.
func (s *llmSession) gap() (float64, int) {
	r := s.e.r
	rt := s.rt
	stallMean := rt.stallMs * math.Exp(0.32)
	if r.chance(rt.stallP) {
		st := r.logn(rt.stallMs, 0.8)
		extra := 0
		if r.chance(0.4) {
			// A network or proxy stall: the events produced meanwhile
			// arrive together.
			extra = min(int(st/max(s.gapMean, 5)), 25)
		}
		return st, extra
	}
	if s.quantum > 0 {
		k := 1 + r.weighted([]float64{0.26, 0.33, 0.22, 0.11, 0.05, 0.03})
		return max(float64(k)*s.quantum+r.normal(0, 2.5), 4), 0
	}
	base := (s.gapMean - rt.stallP*stallMean) / (1 - rt.stallP)
	base = max(base, 0.3*s.gapMean)
	if rt.plain {
		return max(r.gamma(base, rt.sigma), 1), 0
	}
	return r.lognMean(base, rt.sigma), 0
}

func (s *llmSession) eventSizes(extra int) []int {
	r := s.e.r
	rt := s.rt
	if rt.bigP > 0 && r.chance(rt.bigP) {
		return []int{r.intIn(rt.bigBytes[0], rt.bigBytes[1])}
	}
	n := r.intIn(rt.evFlush[0], rt.evFlush[1]) + extra
	sz := make([]int, n)
	for i := range sz {
		sz[i] = r.intIn(rt.evBytes[0], rt.evBytes[1])
	}
	return sz
}

// ndjson is one Ollama chat chunk line with HTTP/1.1 chunk framing.
func ndjson(t int64, content string, done bool) string {
	ts := fmtRFC3339Nano(t)
	var line string
	if done {
		line = fmt.Sprintf(`{"model":"qwen3-coder:30b","created_at":"%s","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":%d,"load_duration":%d,"prompt_eval_count":%d,"prompt_eval_duration":%d,"eval_count":%d,"eval_duration":%d}`+"\n",
			ts, 4_812_331_902+t%1000, 21_553_119, 418+t%97, 186_274_335, 212+t%53, 4_590_112_874)
	} else {
		line = fmt.Sprintf(`{"model":"qwen3-coder:30b","created_at":"%s","message":{"role":"assistant","content":"%s"},"done":false}`+"\n", ts, content)
	}
	return fmt.Sprintf("%x\r\n%s\r\n", len(line), line)
}

// emit sends one server flush of the given event sizes at t.
func (s *llmSession) emit(t int64, sizes []int) int64 {
	r := s.e.r
	c := s.c
	if s.rt.plain {
		var b strings.Builder
		for range sizes {
			w := pick(r, words)
			if r.chance(0.7) {
				w = " " + w
			}
			b.WriteString(ndjson(t, w, false))
		}
		c.f.st[srv].lit(c.off(srv), []byte(b.String()))
		return c.send(srv, t, b.Len())
	}
	if r.chance(s.rt.splitP) {
		// The server writes the framing (chunk size line, SSE field
		// name or HTTP/2 frame header) and the rest separately; with
		// TCP_NODELAY each becomes its own segment, sub-ms apart.
		var a, b []int
		if len(sizes) == 1 {
			head := min(r.intIn(6, 40), sizes[0]-1)
			a, b = []int{head}, []int{sizes[0] - head}
		} else {
			a, b = sizes[:1], sizes[1:]
		}
		t1 := s.tls.records(srv, t, a...)
		return s.tls.records(srv, t1+us*int64(r.intIn(15, 350)), b...)
	}
	return s.tls.records(srv, t, sizes...)
}

// respond streams a response to a request that ended at tReq and returns
// the time of its last packet.
func (s *llmSession) respond(tReq int64, flushes int) int64 {
	r := s.e.r
	rt := s.rt
	c := s.c
	base := tReq + c.turn(srv)
	ttfb := r.uniform(rt.ttfb[0], rt.ttfb[1])
	ttft := r.logn(s.ttftMed, 0.35)
	if ttft < ttfb+0.02 {
		ttft = ttfb + r.uniform(0.02, 0.15)
	}
	t := base + secf(ttft)
	if rt.plain {
		hdr := "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nDate: " + fmtHTTPDate(t) + "\r\nTransfer-Encoding: chunked\r\n\r\n"
		first := hdr + ndjson(t, pick(r, words), false)
		c.f.st[srv].lit(c.off(srv), []byte(first))
		c.send(srv, t, len(first))
		flushes--
	} else {
		hdr := append([]int{r.intIn(280, 720)}, rt.pre...)
		th := base + secf(ttfb)
		s.tls.records(srv, th, hdr...)
		if ttft > 4 && strings.HasPrefix(rt.name, "openrouter/") {
			// OpenRouter keeps slow streams alive with SSE comments.
			for k := th + secf(r.uniform(1, 3)); k < t-200*ms; k += secf(r.uniform(2, 4)) {
				s.tls.records(srv, k, 24)
			}
		}
	}
	var pending []int
	var pendT int64
	last := t
	for i := 0; i < flushes; i++ {
		g, extra := s.gap()
		sizes := s.eventSizes(extra)
		if s.buffer > 0 {
			// A buffering gateway holds events and flushes them
			// together.
			if pending == nil {
				pendT = t
			}
			pending = append(pending, sizes...)
			if float64(t-pendT)/float64(ms) >= s.buffer || i == flushes-1 || g >= s.buffer {
				last = s.emit(max(t, pendT+msf(s.buffer)), pending)
				pending = nil
			}
		} else {
			last = s.emit(t, sizes)
		}
		t += msf(g)
	}
	tEnd := last + us*int64(r.intIn(200, 30000))
	if rt.plain {
		fin := ndjson(tEnd, "", true) + "0\r\n\r\n"
		c.f.st[srv].lit(c.off(srv), []byte(fin))
		return c.send(srv, tEnd, len(fin))
	}
	if len(rt.post) > 0 {
		if r.chance(0.5) {
			return s.tls.records(srv, tEnd, rt.post...)
		}
		tl := s.tls.records(srv, tEnd, rt.post[0])
		return s.tls.records(srv, tl+us*int64(r.intIn(100, 20000)), rt.post[1:]...)
	}
	return last
}

// turn runs one request/stream exchange starting at t and returns the time
// of the response's last packet.
func (s *llmSession) turn(t int64, body, flushes int) int64 {
	return s.respond(s.request(t, body), flushes)
}

// respFlushes draws the number of flushes of one response at the episode's
// scale.
func (s *llmSession) respFlushes(short bool) int {
	r := s.e.r
	lo, hi := float64(s.rt.flushes[0]), float64(s.rt.flushes[1])
	n := math.Exp(r.uniform(math.Log(lo), math.Log(hi)))
	// However small the scale, an answer streams for about a second
	// (or the route's shortest answer).
	floor := int(math.Min(lo, math.Max(8, math.Ceil(1200/s.gapMean))))
	if short {
		// A tool call or a short reply.
		n = math.Max(lo/3, n/5)
		floor = 8
	}
	return s.e.scaledInt(n, floor)
}

func fmtRFC3339Nano(t int64) string {
	return timeUTC(t).Format("2006-01-02T15:04:05.999999999Z")
}

func fmtHTTPDate(t int64) string { return timeUTC(t).Format("Mon, 02 Jan 2006 15:04:05 GMT") }

func llmScenarios() []*scenario {
	return []*scenario{
		{name: "llm_chat", class: schemas.ClassLLMStream, weight: 8, variants: routeNames(), perVariant: true,
			desc: "a person or script chatting with a hosted or local model: TLS (or plain HTTP for Ollama), a POST of 1-20 KB, time to first token, then a streamed answer with the route's flush cadence; 1-4 turns on a keep-alive connection, sometimes through an unlisted gateway name",
			run:  runLLMChat},
		{name: "llm_agent_loop", class: schemas.ClassLLMStream, weight: 3,
			variants: []string{"anthropic/claude-3.5-haiku", "openai/o1-mini", "azure-openai/gpt-4o", "openrouter-lambda/llama-3.1-8b", "ollama/local"},
			desc:     "an agent loop on one keep-alive connection: growing requests (history + tool results), short streamed tool calls, 0.2-5 s of tool time between turns",
			run:      runLLMAgentLoop},
	}
}

func runLLMChat(e *episode) {
	r := e.r
	rt := routeByName(e.variant)
	if rt == nil {
		rt = pick(r, routes)
	}
	client := pick(r, e.g.net.ws)
	if r.chance(0.5) || rt.plain {
		client = pick(r, e.g.net.dev)
	}
	via := !rt.plain && r.chance(0.12)
	t := e.start
	s := e.newLLMSession(client, rt, t, "llm_chat", via)
	turns := e.scaledInt(float64(1+r.weighted([]float64{0.6, 0.25, 0.1, 0.05}))*4, 1)
	tt := s.ready + int64(r.lognClip(30, 1, 1, 2000)*float64(ms))
	body := r.lognClip(3500, 0.8, 1000, 20000)
	idle := secf(r.uniform(60, 120))
	var end int64
	for i := 0; i < turns; i++ {
		end = s.turn(tt, int(e.scaled(body, 1000)), s.respFlushes(false))
		body += r.lognClip(1500, 0.8, 200, 8000)
		if i == turns-1 {
			break
		}
		think := secf(r.lognClip(20, 0.8, 3, 150))
		tt = end + think
		if think > idle {
			// The server closed the idle connection; the next turn
			// opens a new one.
			s.c.close(srv, end+idle, int64(r.lognClip(1, 1, 0.1, 20)*float64(ms)))
			s = e.newLLMSession(client, rt, tt, "llm_chat", via)
			tt = s.ready + us*int64(r.intIn(100, 3000))
		}
	}
	finish(s.c, r, end, idle)
}

func runLLMAgentLoop(e *episode) {
	r := e.r
	rt := routeByName(e.variant)
	if rt == nil {
		rt = pick(r, routes)
	}
	client := pick(r, e.g.net.dev)
	s := e.newLLMSession(client, rt, e.start, "llm_agent_loop", !rt.plain && r.chance(0.1))
	turns := e.scaledInt(r.lognClip(12, 0.6, 3, 60), 3)
	body := r.lognClip(12000, 0.6, 4000, 60000)
	t := s.ready + us*int64(r.intIn(200, 5000))
	var end int64
	for i := 0; i < turns; i++ {
		end = s.turn(t, int(e.scaled(body, 2000)), s.respFlushes(r.chance(0.75)))
		body += e.scaled(r.lognClip(2500, 1.2, 100, 60000), 50)
		// Tool time: a local command, a file read, a test run.
		t = end + int64(r.lognClip(0.8, 1.0, 0.15, 8)*float64(sec))
	}
	finish(s.c, r, end, secf(r.uniform(60, 120)))
}
