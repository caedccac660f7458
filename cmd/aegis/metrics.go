package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/enrich/sink/file"
	"github.com/aegis-nsm/aegis/enrich/sink/kafka"
	"github.com/aegis-nsm/aegis/enrich/sink/webhook"
)

// metricsConfig is the metrics section of aegis.yaml.
type metricsConfig struct {
	// Listen is the address of /metrics, /healthz and /readyz; empty
	// turns the endpoint off.
	Listen string `yaml:"listen"`
}

func defaultMetricsConfig() metricsConfig { return metricsConfig{Listen: "127.0.0.1:9178"} }

// stageCollector is the Prometheus view of 'aegis run': it reads every
// stage's counters when scraped (the stages keep plain counters and know
// nothing of Prometheus), so a scrape costs nothing between scrapes.
type stageCollector struct {
	d *daemon
}

// metric descriptions, one per family.
var (
	mLogLines      = desc("log_lines_total", "Log lines read, per log type.", "log")
	mLogBad        = desc("log_bad_lines_total", "Log lines rejected, per log type and reason (malformed, too long, bad UTF-8, ...).", "log", "reason")
	mLogAcked      = desc("log_lines_acked_total", "Log lines acknowledged (their records are durable in every sink).")
	mLogInFlight   = desc("log_lines_in_flight", "Log lines read and not yet acknowledged.")
	mLogLost       = desc("log_bytes_lost_total", "Log bytes truncated away (copytruncate) before they were read.")
	mCheckpointErr = desc("checkpoint_errors_total", "Positions-file writes that failed.")
	mIDSRecords    = desc("ids_records_total", "IDS flow records decoded.")
	mCandidates    = desc("candidates_total", "IDS flow records selected for analysis.")
	mPackets       = desc("packets_total", "Packets read from the packet source.")
	mFlows         = desc("flows_total", "Flows that left the flow table, per reason (idle, closed, evicted, flush).", "reason")
	mFlowsActive   = desc("flows_tracked", "Flows in the flow table now.")
	mFlowMemory    = desc("flow_table_bytes", "Bytes held by the flow table now.")
	mJoin          = desc("join_total", "IDS records joined with packet timing, per outcome (hit, waited, backfilled, miss).", "outcome")
	mJoinPending   = desc("join_pending", "IDS records waiting for their packets.")
	mJoinKept      = desc("join_kept_flows", "Finished flows waiting for their IDS record.")
	mJoinDropped   = desc("join_dropped_flows_total", "Finished flows no IDS record took, per reason (expired, evicted).", "reason")
	mDetections    = desc("detections_total", "Analysed candidates per class.", "class")
	mRoutes        = desc("llm_routes_total", "LLM streams per matched model route.", "route")
	mRuleHits      = desc("rule_hits_total", "Rule hits per rule id.", "rule")
	mRecon         = desc("recon_sources", "Sources seen scanning (reconnaissance counters).")
	mAlerts        = desc("alerts_total", "Alert pipeline outcomes (published, suppressed, updates, failed).", "outcome")
	mSinkRecords   = desc("sink_records_total", "Records per sink and outcome (acked, failed, ...).", "sink", "outcome")
	mSinkRetries   = desc("sink_retries_total", "Retried sends per sink.", "sink")
	mSinkInFlight  = desc("sink_in_flight", "Records accepted by a sink and not yet acknowledged.", "sink")
	mSinkLatency   = desc("sink_ack_latency_seconds", "Time from a Kafka sink accepting a record to Kafka acknowledging it.", "sink")
	mKernelPackets = desc("afpacket_packets_total", "Packets the kernel handed to an AF_PACKET worker.", "worker")
	mKernelDrops   = desc("afpacket_kernel_drops_total", "Packets the kernel dropped for an AF_PACKET worker (ring full).", "worker")
	mRingLost      = desc("pcapdir_packets_lost_total", "Packets of capture files the ring deleted before they were read.")
	mRingFilesLost = desc("pcapdir_files_lost_total", "Capture files the ring deleted before they were read.")
	mReady         = desc("ready", "1 when every source and sink is up.")
	mLLMQueue      = desc("llm_queue_depth", "Evidence windows waiting for the model.")
	mLLMDropped    = desc("llm_windows_dropped_total", "Evidence windows dropped from a full queue (oldest first).")
	mLLMOutcomes   = desc("llm_verdicts_total", "Verdicts per outcome (ok, invalid_reply, timeout, unavailable, breaker_open, disabled, model_missing).", "outcome")
	mLLMRequests   = desc("llm_requests_total", "Chat requests sent to the model.")
	mLLMLatency    = desc("llm_request_seconds_total", "Total time spent in chat requests (divide by llm_requests_total for the mean).")
	mLLMBreaker    = desc("llm_breaker_open", "1 while the circuit breaker keeps the model from being called.")
	mLLMUnvetted   = desc("llm_unvetted_techniques_total", "Technique ids from the model that are not in Aegis's ATT&CK table.")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("aegis_"+name, help, labels, nil)
}

func (c stageCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c stageCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	counter := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	ready := 0.0
	if d.ready.Load() {
		ready = 1
	}
	gauge(mReady, ready)

	// Logs.
	z, e := d.follow.DecoderStats()
	counter(mLogLines, float64(z.Lines), "zeek")
	counter(mLogLines, float64(e.Lines), "eve")
	for r, n := range z.BadByReason {
		counter(mLogBad, float64(n), "zeek", string(r))
	}
	for r, n := range e.BadByReason {
		counter(mLogBad, float64(n), "eve", string(r))
	}
	fs := d.follow.Stats().Follow
	counter(mLogAcked, float64(fs.Acked))
	gauge(mLogInFlight, float64(fs.InFlight))
	counter(mLogLost, float64(fs.BytesLost))
	counter(mCheckpointErr, float64(fs.CheckpointErrors))

	// Packets and flows.
	l := d.live
	counter(mIDSRecords, float64(l.stats.idsRecords.Load()))
	counter(mCandidates, float64(l.stats.idsSelected.Load()))
	counter(mPackets, float64(l.stats.packets.Load()))
	var t flowtable.Stats
	for _, s := range l.shards {
		if st := s.stats.Load(); st != nil {
			t.EndedIdle += st.EndedIdle
			t.EndedClosed += st.EndedClosed
			t.Evicted += st.Evicted
			t.Flushed += st.Flushed
			t.Active += st.Active
			t.Memory += st.Memory
		}
	}
	counter(mFlows, float64(t.EndedIdle), "idle")
	counter(mFlows, float64(t.EndedClosed), "closed")
	counter(mFlows, float64(t.Evicted), "evicted")
	counter(mFlows, float64(t.Flushed), "flush")
	gauge(mFlowsActive, float64(t.Active))
	gauge(mFlowMemory, float64(t.Memory))

	// Join.
	j := l.joiner.Stats()
	counter(mJoin, float64(j.Hits), "hit")
	counter(mJoin, float64(j.Waits), "waited")
	counter(mJoin, float64(j.Backfills), "backfilled")
	counter(mJoin, float64(j.Misses), "miss")
	gauge(mJoinPending, float64(j.Pending))
	gauge(mJoinKept, float64(j.Kept))
	counter(mJoinDropped, float64(j.Expired), "expired")
	counter(mJoinDropped, float64(j.Evicted), "evicted")

	// Analysis and rules.
	l.stats.classCounts.Range(func(k, v any) bool {
		counter(mDetections, float64(v.(*atomic.Int64).Load()), k.(string))
		return true
	})
	l.stats.routeCounts.Range(func(k, v any) bool {
		counter(mRoutes, float64(v.(*atomic.Int64).Load()), k.(string))
		return true
	})
	rs := d.rules.engine.Stats()
	for id, n := range rs.Hits {
		counter(mRuleHits, float64(n), id)
	}
	gauge(mRecon, float64(rs.ReconSources))

	// Alerts and sinks.
	a := l.alerts.Stats()
	counter(mAlerts, float64(a.Published), "published")
	counter(mAlerts, float64(a.Suppressed), "suppressed")
	counter(mAlerts, float64(a.Updates), "updates")
	counter(mAlerts, float64(a.Failed), "failed")
	for _, name := range sortedKeys(d.sinks) {
		collectSink(name, d.sinks[name], counter, gauge, ch)
	}

	// The reasoning pass.
	if l.llm != nil {
		ls := l.llm.Stats()
		gauge(mLLMQueue, float64(ls.QueueDepth))
		counter(mLLMDropped, float64(ls.QueueDropped))
		for o, n := range ls.Outcomes {
			counter(mLLMOutcomes, float64(n), string(o))
		}
		counter(mLLMRequests, float64(ls.Requests))
		counter(mLLMLatency, ls.Latency.Sum.Seconds())
		open := 0.0
		if ls.Breaker == "open" {
			open = 1
		}
		gauge(mLLMBreaker, open)
		counter(mLLMUnvetted, float64(ls.UnvettedFromLLM))
	}

	// Packet sources.
	if d.afp != nil {
		for _, w := range d.afp.Stats().Workers {
			wl := fmt.Sprint(w.Worker)
			counter(mKernelPackets, float64(w.Packets), wl)
			counter(mKernelDrops, float64(w.Drops), wl)
		}
	}
	if d.pcap != nil {
		ps := d.pcap.Stats()
		counter(mRingLost, float64(ps.PacketsLost))
		counter(mRingFilesLost, float64(ps.FilesLost))
	}
}

func collectSink(name string, s sink.Sink, counter, gauge func(*prometheus.Desc, float64, ...string), ch chan<- prometheus.Metric) {
	switch s := s.(type) {
	case *kafka.Sink:
		st := s.Stats()
		counter(mSinkRecords, float64(st.Acked), name, "acked")
		counter(mSinkRecords, float64(st.Failed), name, "failed")
		counter(mSinkRetries, float64(st.Retries), name)
		gauge(mSinkInFlight, float64(st.InFlight), name)
		buckets := map[float64]uint64{}
		var cum uint64
		for i, b := range kafka.LatencyBounds {
			if i < len(st.Latency.Counts) {
				cum += uint64(st.Latency.Counts[i])
			}
			buckets[b.Seconds()] = cum
		}
		ch <- prometheus.MustNewConstHistogram(mSinkLatency, uint64(st.Latency.Count), st.Latency.Sum.Seconds(), buckets, name)
	case *file.Sink:
		st := s.Stats()
		counter(mSinkRecords, float64(st.Written), name, "acked")
		counter(mSinkRecords, float64(st.Failed), name, "failed")
		counter(mSinkRecords, float64(st.Skipped), name, "skipped")
	case *webhook.Sink:
		st := s.Stats()
		counter(mSinkRecords, float64(st.Delivered), name, "acked")
		counter(mSinkRecords, float64(st.DeadLettered), name, "dead_lettered")
		counter(mSinkRecords, float64(st.Failed), name, "failed")
		counter(mSinkRetries, float64(st.Retries), name)
	}
}

// serveMetrics serves /metrics, /healthz and /readyz on cfg.Listen until
// ctx ends. It returns the bound address (useful with port 0).
func serveMetrics(ctx context.Context, cfg metricsConfig, d *daemon, log *slog.Logger) (string, error) {
	if cfg.Listen == "" {
		return "", nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(stageCollector{d}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := d.notReady(); why != "" {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("metrics: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	return ln.Addr().String(), nil
}

// notReady says why the daemon is not ready ("" when it is): sources open
// and sinks accepting.
func (d *daemon) notReady() string {
	if !d.ready.Load() {
		return "starting or stopping"
	}
	var why []string
	if d.follow.Stats().Follow.Unreadable > 0 && d.follow.Stats().Follow.FilesOpened == 0 {
		why = append(why, "no log file could be opened")
	}
	for _, name := range sortedKeys(d.sinks) {
		if k, ok := d.sinks[name].(*kafka.Sink); ok {
			if st := k.Stats(); st.InFlight > 0 && st.Acked == 0 && st.Failed > 0 {
				why = append(why, "sink "+name+" is failing")
			}
		}
	}
	sort.Strings(why)
	if len(why) > 0 {
		return fmt.Sprint(why)
	}
	return ""
}
