package rules

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aegis-nsm/aegis/schemas"
)

// Record fields are named by their published JSON path ("source.ip",
// "aegis.cadence.client.iat.p90_ms", "tls.client.server_name"). The table
// is derived once from schemas.Record's json tags, so every field the
// record publishes can be tested or quoted without this package listing
// them; a path is resolved to field indexes when a rule is loaded.

// leafKind is what a record path holds.
type leafKind uint8

const (
	leafString leafKind = iota
	leafNumber
	leafBool
	leafStrings // []string
)

// fieldPath is one resolved leaf of schemas.Record.
type fieldPath struct {
	name  string
	index []int // successive struct field indexes from Record
	leaf  leafKind
}

var (
	fieldsOnce  sync.Once
	fieldTable  map[string]*fieldPath
	blockTable  map[string]bool // paths of nested blocks (not leaves)
	numberNames []string        // sorted, for messages
)

func recordFields() map[string]*fieldPath {
	fieldsOnce.Do(func() {
		fieldTable = map[string]*fieldPath{}
		blockTable = map[string]bool{}
		walkFields(reflect.TypeFor[schemas.Record](), "", nil)
		for name, f := range fieldTable {
			if f.leaf == leafNumber {
				numberNames = append(numberNames, name)
			}
		}
		slices.Sort(numberNames)
	})
	return fieldTable
}

func walkFields(t reflect.Type, prefix string, index []int) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.IsExported() || tag == "-" || tag == "" {
			continue
		}
		name := prefix + tag
		idx := append(slices.Clip(index), i)
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Struct:
			blockTable[name] = true
			walkFields(ft, name+".", idx)
		case reflect.String:
			fieldTable[name] = &fieldPath{name: name, index: idx, leaf: leafString}
		case reflect.Bool:
			fieldTable[name] = &fieldPath{name: name, index: idx, leaf: leafBool}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			fieldTable[name] = &fieldPath{name: name, index: idx, leaf: leafNumber}
		case reflect.Slice:
			if ft.Elem().Kind() == reflect.String {
				fieldTable[name] = &fieldPath{name: name, index: idx, leaf: leafStrings}
			}
		}
	}
}

// lookupField resolves a path; ok is false when the record has no such leaf.
func lookupField(name string) (*fieldPath, bool) {
	f, ok := recordFields()[name]
	return f, ok
}

// isBlock reports whether name is a nested block of the record.
func isBlock(name string) bool {
	recordFields()
	return blockTable[name]
}

// fieldsUnder lists the numeric paths that start with prefix (for
// suggestions in error messages).
func fieldsUnder(prefix string) []string {
	recordFields()
	var out []string
	for _, n := range numberNames {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// value walks rec to the leaf; ok is false when a block on the way is
// absent (nil tls, ids or handoff).
func (f *fieldPath) value(rec *schemas.Record) (reflect.Value, bool) {
	v := reflect.ValueOf(rec).Elem()
	for _, i := range f.index {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		v = v.Elem()
	}
	return v, true
}

// number returns a numeric leaf as float64.
func (f *fieldPath) number(rec *schemas.Record) (float64, bool) {
	v, ok := f.value(rec)
	if !ok {
		return 0, false
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint()), true
	}
	return 0, false
}

// appendText appends the leaf's text form (empty when absent).
func (f *fieldPath) appendText(b []byte, rec *schemas.Record) []byte {
	v, ok := f.value(rec)
	if !ok {
		return b
	}
	switch v.Kind() {
	case reflect.String:
		return append(b, v.String()...)
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Float32, reflect.Float64:
		return appendNumber(b, v.Float())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(b, v.Uint(), 10)
	case reflect.Slice:
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v.Index(i).String()...)
		}
	}
	return b
}

// appendNumber formats a float for people: at most three decimals, no
// trailing zeros, no exponent.
func appendNumber(b []byte, x float64) []byte {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	}
	start := len(b)
	b = strconv.AppendFloat(b, x, 'f', 3, 64)
	for b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	if string(b[start:]) == "-0" {
		b = append(b[:start], '0')
	}
	return b
}
