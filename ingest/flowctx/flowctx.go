// Package flowctx attaches flow context, what an IDS logs about a flow apart
// from its flow record, to the flow records it belongs to: Zeek's ssl.log
// records (SNI, TLS version, JA3/JA3S/JA4), Suricata's tls, quic, ssh, http
// and alert events. The join is by the key the sensor shares between them
// (Zeek's uid, Suricata's flow_id). It is the join step of the ingest/zeek
// and ingest/eve file readers. (It replaces ingest/snijoin, which joined
// the SNI only.)
package flowctx

import "github.com/aegis-nsm/aegis/schemas"

// Fields is the context one record carries; "" (and nil Alerts) means the
// record did not have that field. The field names are those of
// schemas.IDSFlow (SNI) and schemas.FlowContext (the others).
type Fields struct {
	SNI, TLSVersion, JA3, JA3S, JA4  string
	SSHClient, SSHServer             string
	HTTPHost, HTTPUserAgent, HTTPURL string
	Alerts                           []schemas.IDSAlert
}

// Record is the context a sensor logged for the flow with key Key.
type Record[K comparable] struct {
	Key K
	Fields
}

// Counts says how a join went.
type Counts struct {
	Matched   int64 // records whose key is the key of a flow
	Unmatched int64 // records whose key is no flow's (or is the zero key)
	Attached  int64 // flows that received any context
	// SNIAttached counts flows that received a server name.
	SNIAttached int64
	// Alerts counts the alerts attached to flows.
	Alerts int64
}

// Attach folds the records into the flows with the same key (key(flow)).
// For each string field, a flow keeps a value it already has; otherwise
// the first record (in the order of recs) with a non-empty value gives it.
// Alerts are appended in the order of recs. When several flows share a key
// (Zeek conn_long snapshots and the final conn row, if the caller kept
// them all), each receives the context. The zero key (no uid, no flow_id)
// joins nothing. Attach does not keep recs; the strings and alerts it
// copies into flows are shared with them (strings are immutable; the
// Alerts slices are new).
func Attach[K comparable](flows []schemas.IDSFlow, key func(*schemas.IDSFlow) K, recs []Record[K]) Counts {
	var c Counts
	if len(recs) == 0 {
		return c
	}
	var zero K
	keys := make(map[K]struct{}, len(flows))
	for i := range flows {
		if k := key(&flows[i]); k != zero {
			keys[k] = struct{}{}
		}
	}
	byKey := make(map[K]*Fields, len(recs))
	for i := range recs {
		r := &recs[i]
		if _, ok := keys[r.Key]; !ok || r.Key == zero {
			c.Unmatched++
			continue
		}
		c.Matched++
		m := byKey[r.Key]
		if m == nil {
			m = new(Fields)
			byKey[r.Key] = m
		}
		m.merge(&r.Fields)
	}
	for i := range flows {
		f := &flows[i]
		m := byKey[key(f)]
		if m == nil {
			continue
		}
		hadSNI := f.SNI != ""
		if m.apply(f) {
			c.Attached++
		}
		if !hadSNI && f.SNI != "" {
			c.SNIAttached++
		}
		c.Alerts += int64(len(m.Alerts))
	}
	return c
}

// merge fills m's empty fields from o and appends o's alerts.
func (m *Fields) merge(o *Fields) {
	first(&m.SNI, o.SNI)
	first(&m.TLSVersion, o.TLSVersion)
	first(&m.JA3, o.JA3)
	first(&m.JA3S, o.JA3S)
	first(&m.JA4, o.JA4)
	first(&m.SSHClient, o.SSHClient)
	first(&m.SSHServer, o.SSHServer)
	first(&m.HTTPHost, o.HTTPHost)
	first(&m.HTTPUserAgent, o.HTTPUserAgent)
	first(&m.HTTPURL, o.HTTPURL)
	m.Alerts = append(m.Alerts, o.Alerts...)
}

// apply fills f's empty context fields from m and appends m's alerts; it
// reports whether f changed. f.Context, which copies of f may share, is
// replaced, not changed, and only allocated when f gains some context.
func (m *Fields) apply(f *schemas.IDSFlow) bool {
	n := first(&f.SNI, m.SNI)
	var c schemas.FlowContext
	if f.Context != nil {
		c = *f.Context
	}
	k := first(&c.TLSVersion, m.TLSVersion) + first(&c.JA3, m.JA3) +
		first(&c.JA3S, m.JA3S) + first(&c.JA4, m.JA4) + first(&c.SSHClient, m.SSHClient) +
		first(&c.SSHServer, m.SSHServer) + first(&c.HTTPHost, m.HTTPHost) +
		first(&c.HTTPUserAgent, m.HTTPUserAgent) + first(&c.HTTPURL, m.HTTPURL)
	if len(m.Alerts) > 0 {
		c.Alerts = append(c.Alerts[:len(c.Alerts):len(c.Alerts)], m.Alerts...)
		k++
	}
	if k > 0 {
		f.Context = &c
	}
	return n+k > 0
}

// first sets *dst to v when *dst is empty and v is not; it returns 1 when
// it did.
func first(dst *string, v string) int {
	if *dst == "" && v != "" {
		*dst = v
		return 1
	}
	return 0
}
