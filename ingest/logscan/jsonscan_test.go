package logscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// scanAll scans one top-level JSON object the way the decoders do.
func scanAll(data []byte) error {
	var s JSONScanner
	s.Reset(data)
	if err := s.OpenObject(); err != nil {
		return err
	}
	for first := true; ; first = false {
		_, ok, err := s.Member(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if _, err := s.Value(1); err != nil {
			return err
		}
	}
	return s.Finish()
}

func TestJSONScannerAgreesWithEncodingJSON(t *testing.T) {
	tests := []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+3,"b":[1,[2,{}]],"c":{"d":null,"e":true,"f":false}}`,
		`{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`, `{"a":1,}`, `{"a" 1}`, `{"a":01}`, `{"a":1.}`,
		`{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":nul}`, `{"a":"x}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		"{\"a\":\"\x01\"}", `{"a":[1,]}`, `{"a":[,1]}`, `{"a":1}}`, `{"a":1} x`, `[1]`, `"x"`, ``, `{`, `{"a"`,
		`{"a":`, `{"a":[`, `{"a":{"b":1}`, `{1:2}`, `{"a":1 "b":2}`, `{"a":"\ud800"}`,
		`{"a":[]}`, `{"a":[ ]}`, `{"a":[1 2]}`, `{"a":[1,2}`, `{"a":[1,2]`, `{"a":[1,,2]}`, `{"a":[[],[[]]]}`,
		strings.Repeat(`{"a":`, 60) + `1` + strings.Repeat(`}`, 60),
	}
	for _, in := range tests {
		err := scanAll([]byte(in))
		var v map[string]any
		jerr := json.Unmarshal([]byte(in), &v)
		if (err == nil) != (jerr == nil) {
			t.Errorf("scan(%q) = %v; encoding/json says %v", in, err, jerr)
		}
	}
}

func TestJSONScannerArrayWalk(t *testing.T) {
	tests := []struct {
		in   string
		want []string // the elements' raw text; nil when the walk fails
	}{
		{`[]`, []string{}},
		{` [ ] `, []string{}},
		{`["a", 1,{"b":[2]} , null]`, []string{"a", "1", `{"b":[2]}`, "null"}},
		{`[1,]`, nil},
		{`[,1]`, nil},
		{`[1 2]`, nil},
		{`[1`, nil},
		{`{}`, nil},
		{``, nil},
	}
	for _, tt := range tests {
		var s JSONScanner
		s.Reset([]byte(tt.in))
		got, err := []string{}, s.OpenArray()
		for first := true; err == nil; first = false {
			var ok bool
			if ok, err = s.Element(first); err != nil || !ok {
				break
			}
			var v JSONValue
			if v, err = s.Value(1); err == nil {
				got = append(got, string(v.Raw))
			}
		}
		if err == nil {
			err = s.Finish()
		}
		if (err == nil) != (tt.want != nil) || (err == nil && strings.Join(got, "|") != strings.Join(tt.want, "|")) {
			t.Errorf("walk of %q = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestJSONScannerDepthLimit(t *testing.T) {
	// Deliberately stricter than encoding/json: hostile nesting is refused
	// before it costs stack.
	deep := strings.Repeat(`{"a":[`, 40) + `1` + strings.Repeat(`]}`, 40)
	if err := scanAll([]byte(deep)); err != errJSONDepth {
		t.Errorf("80 levels: err = %v, want %v", err, errJSONDepth)
	}
}

func TestAppendUnescaped(t *testing.T) {
	tests := []string{
		`plain`, `a\"b`, `\\x41`, `\/download\/eicar.com`, `\u00e9t\u00e9`, `\ud83d\ude00`, `\ud800`, `\ud800x`,
		`\udc00`, `\ud800\u0041`, `tab\there`, `\b\f\n\r`,
	}
	for _, in := range tests {
		var want string
		if err := json.Unmarshal([]byte(`"`+in+`"`), &want); err != nil {
			t.Fatalf("bad test string %q: %v", in, err)
		}
		if got := string(AppendUnescaped(nil, []byte(in))); got != want {
			t.Errorf("AppendUnescaped(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJSONScannerNoAlloc(t *testing.T) {
	line := []byte(`{"ts":1300475167.096535,"uid":"CHhAvVGS1DHFjwGM9","id.orig_h":"141.142.220.202","tunnel_parents":["a","b"],"x":{"y":[1,2,{"z":null}]}}`)
	if n := testing.AllocsPerRun(100, func() {
		if err := scanAll(line); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("scanning allocates %.1f times per line", n)
	}
}

func TestJSONScannerMembers(t *testing.T) {
	var s JSONScanner
	s.Reset([]byte(`{"a":{"x":1,"y\u0041":"s","z":[1,{"k":null}]},"b":2}`))
	if err := s.OpenObject(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Member(true); !ok || err != nil {
		t.Fatal(ok, err)
	}
	var got []string
	err := s.Members(1, func(key, v JSONValue) {
		got = append(got, string(key.Raw)+"="+string(v.Raw))
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := `x=1 y\u0041=s z=[1,{"k":null}]`; strings.Join(got, " ") != want {
		t.Errorf("members %s, want %s", strings.Join(got, " "), want)
	}
	if key, ok, err := s.Member(false); !ok || err != nil || string(key.Raw) != "b" {
		t.Fatal(key, ok, err)
	}
	for _, bad := range []string{`[1]`, `{"x":}`, `{"x":1`, `{"x":1,}`} {
		s.Reset([]byte(bad))
		if err := s.Members(1, func(key, v JSONValue) {}); err == nil {
			t.Errorf("Members(%s): no error", bad)
		}
	}
}
