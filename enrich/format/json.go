package format

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/aegis-nsm/aegis/enrich/sink"
)

// jsonEncoder writes the native record: Value and a newline (JSON lines).
type jsonEncoder struct{}

func (jsonEncoder) Name() string           { return JSON }
func (jsonEncoder) Accepts(sink.Kind) bool { return true }
func (jsonEncoder) Header() []byte         { return nil }
func (jsonEncoder) Footer() []byte         { return nil }

// Append appends m.Value and "\n". A Value holding line breaks (pretty
// printed) is compacted so each record stays one line; an empty Value is
// taken from m.Record.
func (jsonEncoder) Append(dst []byte, m *sink.Message) ([]byte, error) {
	return appendNative(dst, m, true)
}

// appendNative appends m's native JSON (compacted when it spans lines),
// followed by "\n" when nl is set.
func appendNative(dst []byte, m *sink.Message, nl bool) ([]byte, error) {
	v := m.Value
	if len(v) == 0 {
		if m.Record == nil {
			return dst, fmt.Errorf("format: %s message %s has neither Value nor Record", m.Kind, m.ID)
		}
		b, err := json.Marshal(m.Record)
		if err != nil {
			return dst, fmt.Errorf("format: encoding record %s: %w", m.ID, err)
		}
		v = b
	}
	if bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0 {
		buf := bytes.NewBuffer(dst)
		if err := json.Compact(buf, v); err != nil {
			return dst, fmt.Errorf("format: %s message %s: Value is not JSON: %w", m.Kind, m.ID, err)
		}
		dst = buf.Bytes()
	} else {
		dst = append(dst, v...)
	}
	if nl {
		dst = append(dst, '\n')
	}
	return dst, nil
}

// errNoRecord is the ErrSkipped error of formats that need a Record.
func errNoRecord(format string, m *sink.Message) error {
	return fmt.Errorf("%w: %s needs a detection record, %s message %s has none", ErrSkipped, format, m.Kind, m.ID)
}
