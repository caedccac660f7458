// Package snijoin attaches the TLS server names that an IDS logs apart
// from its flows (Zeek's ssl.log records, Suricata's tls and quic events)
// to the flow records they belong to, by the key the sensor joins them
// with (Zeek's uid, Suricata's flow_id). It is the join step of the
// ingest/zeek and ingest/eve file readers.
package snijoin

import "github.com/aegis-nsm/aegis/schemas"

// Name is the server name a sensor logged for the flow with key Key; Name
// is "" when the ClientHello had none.
type Name[K comparable] struct {
	Key  K
	Name string
}

// Counts says how a join went.
type Counts struct {
	Matched   int64 // names whose key is the key of a flow
	Unmatched int64 // names whose key is no flow's (or is the zero key)
	Attached  int64 // flows that received a name
}

// Attach sets IDSFlow.SNI on each flow whose key (key(flow)) has a
// non-empty name in names; when a key has several, the first non-empty one
// wins. The zero key (no uid, no flow_id) joins nothing.
func Attach[K comparable](flows []schemas.IDSFlow, key func(*schemas.IDSFlow) K, names []Name[K]) Counts {
	var c Counts
	if len(names) == 0 {
		return c
	}
	var zero K
	keys := make(map[K]struct{}, len(flows))
	for i := range flows {
		if k := key(&flows[i]); k != zero {
			keys[k] = struct{}{}
		}
	}
	byKey := make(map[K]string, len(names))
	for _, n := range names {
		if _, ok := keys[n.Key]; ok {
			c.Matched++
		} else {
			c.Unmatched++
		}
		if n.Name != "" && n.Key != zero && byKey[n.Key] == "" {
			byKey[n.Key] = n.Name
		}
	}
	for i := range flows {
		f := &flows[i]
		if s := byKey[key(f)]; s != "" {
			f.SNI = s
			c.Attached++
		}
	}
	return c
}
