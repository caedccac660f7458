package logscan

// Interner returns one shared string for each of the small, often repeated
// values a log carries (service, conn_state, history, app_proto, paths,
// event types), so decoding a line does not allocate them again. It is
// bounded: once full, values are allocated as usual. The zero value is
// ready to use; use one per file (per decoder). An Interner is not safe for
// concurrent use.
type Interner struct {
	m map[string]string
	// recent caches interned strings by a cheap hash of their bytes,
	// so that most lookups are one comparison, not a map access.
	recent [256]string
}

const (
	maxInterned    = 4096
	maxInternedLen = 48
)

// Intern returns b as a string: the shared copy when b has been seen
// before, else a new string, which is kept for next time while the
// Interner has room (at most 4096 strings of up to 48 bytes).
func (in *Interner) Intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := (uint(len(b))*131 + uint(b[0])*31 + uint(b[len(b)/2])*7 + uint(b[len(b)-1])) & 255
	if s := in.recent[h]; s == string(b) {
		return s
	}
	if s, ok := in.m[string(b)]; ok {
		in.recent[h] = s
		return s
	}
	s := string(b)
	if len(b) <= maxInternedLen && len(in.m) < maxInterned {
		if in.m == nil {
			in.m = make(map[string]string, 64)
		}
		in.m[s] = s
		in.recent[h] = s
	}
	return s
}
