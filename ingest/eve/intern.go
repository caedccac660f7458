package eve

// This file is kept identical in ingest/zeek and ingest/eve apart from the
// package clause; sibling_test.go checks that.

// interner returns one shared string for each of the small, often repeated
// values a log carries (service, conn_state, history, app_proto, paths,
// event types), so decoding a line does not allocate them again. It is
// bounded: once full, values are allocated as usual.
type interner struct {
	m map[string]string
}

const (
	maxInterned    = 4096
	maxInternedLen = 48
)

func (in *interner) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= maxInternedLen && len(in.m) < maxInterned {
		if in.m == nil {
			in.m = make(map[string]string, 64)
		}
		in.m[s] = s
	}
	return s
}
