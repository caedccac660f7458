package logscan

import "strings"

// Strings copies byte slices into strings that share large blocks: one
// allocation per block (64 KiB) instead of one per string, for the
// whole-file readers, which keep a few small strings (a uid, a
// community_id) from each of a million records. A string it returns keeps
// its whole block alive, so use it only for strings kept together with
// the many others of their block, not for a few kept long on their own.
// The zero value is ready to use. A Strings is not safe for concurrent
// use; the strings it returns are immutable and safe to share.
type Strings struct {
	// The block: a strings.Builder never changes the bytes it has
	// written, so the strings cut from what String returns stay valid
	// as it grows, and a new block starts when one is full.
	b strings.Builder
}

// stringsBlock is the size of a Strings block.
const stringsBlock = 64 << 10

// String returns p as a string.
func (s *Strings) String(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	if len(p) > stringsBlock/8 {
		return string(p) // large: a block of its own would waste the rest
	}
	if s.b.Cap()-s.b.Len() < len(p) {
		s.b = strings.Builder{}
		s.b.Grow(stringsBlock)
	}
	start := s.b.Len()
	s.b.Write(p)
	return s.b.String()[start:]
}
