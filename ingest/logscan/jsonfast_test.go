package logscan

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
	"testing"
)

// jsonWalker is what JSONScanner and refScanner have in common.
type jsonWalker interface {
	Reset(data []byte)
	Peek() byte
	OpenObject() error
	Member(first bool) (JSONValue, bool, error)
	Members(depth int, fn func(key, val JSONValue)) error
	Value(depth int) (JSONValue, error)
	Finish() error
}

// walkLog walks data as the decoders do (nested objects whose key starts
// with "m" member by member, other values whole) and logs every key and
// value, and the error it ends with.
func walkLog(s jsonWalker, data []byte) string {
	var b strings.Builder
	val := func(v JSONValue) string { return fmt.Sprintf("%d/%v/%q", v.Kind, v.Esc, v.Raw) }
	s.Reset(data)
	err := s.OpenObject()
	for first := true; err == nil; first = false {
		var key JSONValue
		var ok bool
		if key, ok, err = s.Member(first); err != nil || !ok {
			break
		}
		fmt.Fprintf(&b, "%s=", val(key))
		if len(key.Raw) > 0 && key.Raw[0] == 'm' && s.Peek() == '{' {
			err = s.Members(1, func(k, v JSONValue) { fmt.Fprintf(&b, "{%s:%s}", val(k), val(v)) })
			continue
		}
		var v JSONValue
		if v, err = s.Value(1); err == nil {
			b.WriteString(val(v) + ";")
		}
	}
	if err == nil {
		err = s.Finish()
	}
	fmt.Fprintf(&b, " err=%v", err)
	return b.String()
}

// checkFastAgrees fails t unless the fast paths read data as refScanner,
// the scanner before them, does.
func checkFastAgrees(t *testing.T, data []byte) {
	t.Helper()
	if got, want := walkLog(&JSONScanner{}, data), walkLog(&refScanner{}, data); got != want {
		t.Fatalf("walk of %q:\n got %s\nwant %s", data, got, want)
	}
	var r refScanner
	r.Reset(data)
	start := SkipJSONSpace(data, 0)
	want, werr := r.Value(0)
	got, end, ok := ScanJSONValue(data, start, 0)
	if ok != (werr == nil) || (ok && (end != r.pos || got.Kind != want.Kind || got.Esc != want.Esc || string(got.Raw) != string(want.Raw))) {
		t.Fatalf("ScanJSONValue(%q) = %+v, %d, %v; want %+v, %d, %v", data, got, end, ok, want, r.pos, werr)
	}
	if end, ok := SkipJSONValue(data, start, 0); ok != (werr == nil) || (ok && end != r.pos) {
		t.Fatalf("SkipJSONValue(%q) = %d, %v; want %d, %v", data, end, ok, r.pos, werr)
	}
	if start < len(data) && data[start] == '"' {
		end, esc, ok := ScanJSONString(data, start+1)
		if ok != (werr == nil) || (ok && (end+1 != r.pos || esc != want.Esc)) {
			t.Fatalf("ScanJSONString(%q) = %d, %v, %v; want %d, %v, %v", data, end, esc, ok, r.pos-1, want.Esc, werr)
		}
	}
}

var fastSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+3,"b":[1,[2,{}]],"c":{"d":null,"e":true,"f":false}}`,
	`{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`, `{"a":1,}`, `{"a" 1}`, `{"a":01}`, `{"a":1.}`,
	`{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":nul}`, `{"a":"x}`, `{"a":"\x"}`, `{"a":"\u12"}`,
	"{\"a\":\"\x01\"}", `{"a":[1,]}`, `{"a":[,1]}`, `{"a":1}}`, `{"a":1} x`, `[1]`, `"x"`, ``, `{`, `{"a"`,
	`{"a":`, `{"a":[`, `{"a":{"b":1}`, `{1:2}`, `{"a":1 "b":2}`, `{"a":"\ud800"}`,
	`{"a":[]}`, `{"a":[ ]}`, `{"a":[1 2]}`, `{"a":[1,2}`, `{"a":[1,2]`, `{"a":[1,,2]}`, `{"a":[[],[[]]]}`,
	`{"m":{"x":1,"y\u0041":"s","z":[1,{"k":null}]},"b":2}`, `{"m":{}, "m2" : { "a" : [ ] } }`, `{"m":{"a":1,}}`,
	`{"a":"0123456789abcdef\"0123456789","b":"0123456789abcdef0123456789\\"}`, "{\"a\":\"0123456789\x7f\xff\xfe\"}",
	`{"a":12345678901234567890123,"b":-0.000123456789e-12345678,"c":1234567890.1234567890E+1}`,
	`{"a":123456789a}`, `{"a":"2023-09-18T06:13:21.216460+0000","b":1676750115612680}`, `{"a":1} `, "{\"a\":1}\r\n",
	strings.Repeat(`{"a":`, 60) + `1` + strings.Repeat(`}`, 60),
	strings.Repeat(`{"a":[`, 32) + `1` + strings.Repeat(`]}`, 32),
	strings.Repeat(`{"a":[`, 31) + `{}` + strings.Repeat(`]}`, 31),
	strings.Repeat(`[`, 63) + strings.Repeat(`]`, 63), strings.Repeat(`[`, 64) + strings.Repeat(`]`, 64),
	`{"` + strings.Repeat("k", 70) + `":"` + strings.Repeat("v", 130) + `","x":[` + strings.Repeat(`"a",`, 40) + `"b"]}`,
	"{ \"a\" :\t[ 1 ,\n2 , { } ,[ ] , { \"x\" : [ ] } ] ,\r\"b\" : { \"c\" : \"d\" , \"e\":{\"f\":1 } } }",
	"{\"a\":[1 ,2] , \"b\" :{ \"c\":[ {\"d\" :true} ]}\t}\n", "{\"a\":[ , 1]}", "{\"a\":{ , }}", "{\"a\":{\"b\" 1}}",
	`"` + strings.Repeat("0123456789", 13) + `"`, `"` + strings.Repeat("0123456789", 13), `"01234567"`, `"0123456"`,
}

func TestJSONFastAgreesWithReference(t *testing.T) {
	for _, in := range fastSeeds {
		data := []byte(in)
		checkFastAgrees(t, data)
		// Every prefix: cut short anywhere, the errors must still agree.
		for i := range data {
			checkFastAgrees(t, data[:i])
		}
	}
}

// FuzzJSONFast checks the fast paths of the JSON scanner against the
// scanner before them.
func FuzzJSONFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastAgrees(t, data)
	})
}

// TestSpecialMask checks the first flagged byte of every byte at every
// position, behind plain bytes and any byte.
func TestSpecialMask(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	for c := range 256 {
		for pos := range 8 {
			for _, fill := range []byte{'a', 0x80, 0xff, '!', '#', ' ', '"', 0} {
				var w [8]byte
				for k := range w {
					w[k] = 'a'
					if k > pos {
						w[k] = fill
					}
				}
				w[pos] = byte(c)
				m := specialMask(binary.LittleEndian.Uint64(w[:]))
				first := 8
				for k, b := range w {
					if special(b) {
						first = k
						break
					}
				}
				if got := bits.TrailingZeros64(m) >> 3; got != first {
					t.Fatalf("specialMask(%q): first special at %d, want %d", w, got, first)
				}
			}
		}
	}
}
