package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/schemas"
)

// The SIEM files this test knows. A new file in deploy/elastic or
// deploy/splunk fails TestDeployFilesAreChecked until the checker reads it.
const (
	elasticDir = "elastic"
	splunkDir  = "splunk"

	componentFile  = "aegis-mappings-component-template.json"
	indexFile      = "aegis-index-template.json"
	dataStreamFile = "aegis-datastream-index-template.json"
	pipelineFile   = "aegis-ingest-pipeline.json"

	// pipelineName is the id the README installs the pipeline under
	// (PUT _ingest/pipeline/aegis); the index templates name it.
	pipelineName = "aegis"
	sourcetype   = "aegis:detection"
)

// componentFiles maps the component template names index templates compose
// to the files that define them (PUT _component_template/<name>).
var componentFiles = map[string]string{"aegis-mappings": componentFile}

// pipelineCreated are the fields the ingest pipeline adds to a record, with
// their ECS mapping type: they are not in the record schema, the templates
// must map them (with that type) and the pipeline must actually write them.
var pipelineCreated = map[string]string{
	"event.ingested": "date",
	"ecs.version":    "keyword",
	"related.ip":     "ip",
	"related.hosts":  "keyword",
	"error.message":  "match_only_text",
	"tags":           "keyword",
}

// shipperFields are fields a shipper adds that the pipeline reads (and
// removes): Filebeat's kafka input puts the payload in message.
var shipperFields = map[string]bool{"message": true}

// dataStreamFields are the ECS data_stream.* fields the data stream
// template maps as constant_keyword.
var dataStreamFields = map[string]bool{
	"data_stream":           true,
	"data_stream.type":      true,
	"data_stream.dataset":   true,
	"data_stream.namespace": true,
}

// coveredExemptions lists schema objects the templates map as flattened or
// enabled:false instead of field by field, with the reason. Empty: every
// record field has an explicit, typed mapping.
var coveredExemptions = map[string]string{}

// typeExceptions are mappings whose type deliberately differs from what the
// schema type suggests.
var typeExceptions = map[string]struct{ esType, reason string }{
	"aegis.ids.flow_id": {"keyword", "Suricata flow_id is a uint64 that may exceed long; keyword matches Filebeat's suricata.eve.flow_id for joins"},
}

// maxMappedFields is Elasticsearch's default index.mapping.total_fields.limit.
const maxMappedFields = 1000

// ---------------------------------------------------------------------------
// The record schema as a set of dotted paths.

type schemaField struct {
	Path   string
	Object bool     // has properties
	Array  bool     // the value at this path is an array (of Types)
	Types  []string // JSON types of the value (of the items for arrays)
	Format string   // "date-time", "ip" (ipv4/ipv6) or ""
	Enum   []string // allowed values when the schema has enum/const
}

type recordSchema map[string]*schemaField

func parseSchema(b []byte) (recordSchema, error) {
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	defs, _ := root["$defs"].(map[string]any)
	rs := recordSchema{}
	if err := rs.walk(defs, root, "", 0); err != nil {
		return nil, err
	}
	return rs, nil
}

func resolveRef(defs map[string]any, s map[string]any) (map[string]any, error) {
	for range 16 {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s, nil
		}
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		if !ok {
			return nil, fmt.Errorf("$ref %q: the checker resolves #/$defs/ only", ref)
		}
		d, ok := defs[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: no such $defs entry", ref)
		}
		s = d
	}
	return nil, fmt.Errorf("$ref chain too deep")
}

func (rs recordSchema) walk(defs, s map[string]any, path string, depth int) error {
	if depth > 32 {
		return fmt.Errorf("%s: schema nested too deep (recursive $ref?)", path)
	}
	s, err := resolveRef(defs, s)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	for _, k := range []string{"patternProperties", "prefixItems", "dependentSchemas", "if", "unevaluatedProperties"} {
		if _, ok := s[k]; ok {
			return fmt.Errorf("%s: the checker does not understand %q; extend deploy/siem_test.go", path, k)
		}
	}
	f := rs[path]
	if f == nil && path != "" {
		f = &schemaField{Path: path}
		rs[path] = f
	}
	if types := schemaTypes(s); slices.Contains(types, "array") {
		items, ok := s["items"].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: array without an items schema", path)
		}
		f.Array = true
		return rs.walk(defs, items, path, depth+1)
	}
	if props, ok := s["properties"].(map[string]any); ok {
		if ap, ok := s["additionalProperties"]; !ok || ap != false {
			return fmt.Errorf("%s: object without additionalProperties:false: its fields cannot be enumerated", path)
		}
		if f != nil {
			f.Object = true
			f.Types = []string{"object"}
		}
		for name, sub := range props {
			m, ok := sub.(map[string]any)
			if !ok {
				return fmt.Errorf("%s.%s: not a schema object", path, name)
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			if err := rs.walk(defs, m, p, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if f == nil {
		return fmt.Errorf("record schema root has no properties")
	}
	f.Types = schemaTypes(s)
	if fm, ok := s["format"].(string); ok {
		f.Format = fm
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		alts, ok := s[k].([]any)
		if !ok {
			continue
		}
		for _, a := range alts {
			am, _ := a.(map[string]any)
			if _, ok := am["properties"]; ok {
				return fmt.Errorf("%s: %s with properties: the checker cannot enumerate them", path, k)
			}
			switch am["format"] {
			case "ipv4", "ipv6":
				f.Format = "ip"
			}
		}
	}
	if f.Format == "ipv4" || f.Format == "ipv6" {
		f.Format = "ip"
	}
	var values []any
	if c, ok := s["const"]; ok {
		values = append(values, c)
	}
	if e, ok := s["enum"].([]any); ok {
		values = append(values, e...)
	}
	allStrings := len(values) > 0
	for _, v := range values {
		f.Enum = append(f.Enum, fmt.Sprint(v))
		if _, ok := v.(string); !ok {
			allStrings = false
		}
	}
	if len(f.Types) == 0 && allStrings {
		f.Types = []string{"string"}
	}
	if len(f.Types) == 0 {
		return fmt.Errorf("%s: leaf without a type", path)
	}
	return nil
}

func schemaTypes(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, v := range t {
			if str, ok := v.(string); ok && str != "null" {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

func (rs recordSchema) leaves() []string {
	var out []string
	for p, f := range rs {
		if !f.Object {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// splunkField resolves a Splunk JSON field name (KV_MODE=json / spath
// naming: arrays get {} after their name, e.g. aegis.rules{}.id) to the
// schema field, and rejects names whose {} do not match the schema's arrays:
// Splunk would never extract them.
func (rs recordSchema) splunkField(name string) (*schemaField, error) {
	var path string
	var f *schemaField
	for seg := range strings.SplitSeq(name, ".") {
		bare, isArr := strings.CutSuffix(seg, "{}")
		if strings.ContainsAny(bare, "{}") || bare == "" {
			return nil, fmt.Errorf("field %q: malformed segment %q", name, seg)
		}
		if path == "" {
			path = bare
		} else {
			path += "." + bare
		}
		f = rs[path]
		if f == nil {
			return nil, fmt.Errorf("field %q: %s is not a record field", name, path)
		}
		if f.Array && !isArr {
			return nil, fmt.Errorf("field %q: %s is an array, Splunk names it %s{}", name, path, bare)
		}
		if !f.Array && isArr {
			return nil, fmt.Errorf("field %q: %s is not an array, drop the {}", name, path)
		}
	}
	return f, nil
}

func loadSchema(t *testing.T) recordSchema {
	t.Helper()
	rs, err := parseSchema(schemas.RecordSchemaJSON)
	if err != nil {
		t.Fatalf("record schema: %v", err)
	}
	if len(rs.leaves()) < 100 {
		t.Fatalf("record schema walk found only %d leaves: the walker is broken", len(rs.leaves()))
	}
	return rs
}

// ---------------------------------------------------------------------------
// Elasticsearch templates.

type mappedField struct {
	Path   string
	Type   string // "object" for objects
	Covers bool   // flattened or enabled:false: the subtree is not mapped field by field
}

func readJSON(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return m, nil
}

// deepMerge merges src into dst the way Elasticsearch composes templates:
// properties merge field by field, other keys of later sources win.
func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		sm, sok := v.(map[string]any)
		dm, dok := dst[k].(map[string]any)
		if sok && dok {
			deepMerge(dm, sm)
			continue
		}
		dst[k] = v
	}
}

type indexTemplate struct {
	File       string
	Patterns   []string
	DataStream bool
	Priority   int64
	Settings   map[string]any
	Mappings   map[string]any // composed: component templates, then the template's own
	Meta       map[string]any
	MapMeta    map[string]any
}

func loadIndexTemplate(dir, file string) (*indexTemplate, error) {
	raw, err := readJSON(filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	it := &indexTemplate{File: file, Mappings: map[string]any{}}
	for _, p := range asSlice(raw["index_patterns"]) {
		it.Patterns = append(it.Patterns, fmt.Sprint(p))
	}
	_, it.DataStream = raw["data_stream"].(map[string]any)
	if n, ok := raw["priority"].(json.Number); ok {
		it.Priority, _ = n.Int64()
	}
	it.Meta, _ = raw["_meta"].(map[string]any)
	optional := map[string]bool{}
	for _, c := range asSlice(raw["ignore_missing_component_templates"]) {
		optional[fmt.Sprint(c)] = true
	}
	for _, c := range asSlice(raw["composed_of"]) {
		name := fmt.Sprint(c)
		cf, ok := componentFiles[name]
		if !ok && optional[name] {
			continue // the operator's own settings (ILM, replicas), not shipped
		}
		if !ok {
			return nil, fmt.Errorf("%s: composed_of %q: no file for that component template in componentFiles", file, name)
		}
		comp, err := readJSON(filepath.Join(dir, cf))
		if err != nil {
			return nil, err
		}
		tmpl, _ := comp["template"].(map[string]any)
		if m, ok := tmpl["mappings"].(map[string]any); ok {
			deepMerge(it.Mappings, m)
		}
		if s, ok := tmpl["settings"].(map[string]any); ok {
			if it.Settings == nil {
				it.Settings = map[string]any{}
			}
			deepMerge(it.Settings, s)
		}
	}
	tmpl, _ := raw["template"].(map[string]any)
	if m, ok := tmpl["mappings"].(map[string]any); ok {
		deepMerge(it.Mappings, m)
	}
	if s, ok := tmpl["settings"].(map[string]any); ok {
		if it.Settings == nil {
			it.Settings = map[string]any{}
		}
		deepMerge(it.Settings, s)
	}
	it.MapMeta, _ = it.Mappings["_meta"].(map[string]any)
	return it, nil
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// mappedFields flattens a mappings object into dotted paths. Multi-fields
// ("fields") are sub-fields of one record field, not record paths, and are
// only counted.
func mappedFields(mappings map[string]any) (map[string]mappedField, int, []string) {
	out := map[string]mappedField{}
	var errs []string
	count := 0
	switch d := mappings["dynamic"]; d {
	case false, "false", "strict":
	default:
		errs = append(errs, fmt.Sprintf("mappings: dynamic is %v: set false or \"strict\" so unknown fields cannot explode the mapping", d))
	}
	var walk func(props map[string]any, prefix string)
	walk = func(props map[string]any, prefix string) {
		for name, v := range props {
			m, ok := v.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("mapping %s%s: not an object", prefix, name))
				continue
			}
			p := prefix + name
			count++
			if d, ok := m["dynamic"]; ok && d != false && d != "false" && d != "strict" {
				errs = append(errs, fmt.Sprintf("mapping %s: dynamic %v lets unknown fields in", p, d))
			}
			typ, _ := m["type"].(string)
			if sub, ok := m["properties"].(map[string]any); ok {
				if typ == "" {
					typ = "object"
				}
				covers := m["enabled"] == false
				out[p] = mappedField{Path: p, Type: typ, Covers: covers}
				walk(sub, p+".")
				continue
			}
			if typ == "" {
				errs = append(errs, fmt.Sprintf("mapping %s: no type and no properties", p))
				continue
			}
			covers := typ == "flattened" || (typ == "object" && m["enabled"] == false)
			out[p] = mappedField{Path: p, Type: typ, Covers: covers}
			if mf, ok := m["fields"].(map[string]any); ok {
				count += len(mf)
			}
		}
	}
	props, _ := mappings["properties"].(map[string]any)
	walk(props, "")
	return out, count, errs
}

// esTypeFits reports whether an Elasticsearch field type can hold the
// schema field's values.
func esTypeFits(f *schemaField, esType string) bool {
	if ex, ok := typeExceptions[f.Path]; ok {
		return esType == ex.esType
	}
	var ok []string
	switch {
	case f.Format == "date-time":
		ok = []string{"date", "date_nanos"}
	case f.Format == "ip":
		ok = []string{"ip"}
	case slices.Contains(f.Types, "integer"):
		ok = []string{"long", "unsigned_long"}
	case slices.Contains(f.Types, "number"):
		ok = []string{"double", "float", "half_float", "scaled_float"}
	case slices.Contains(f.Types, "boolean"):
		ok = []string{"boolean"}
	case slices.Contains(f.Types, "string"):
		ok = []string{"keyword", "constant_keyword", "wildcard", "match_only_text", "text"}
	}
	return slices.Contains(ok, esType)
}

// checkMappings checks a composed mapping against the schema in both
// directions: every mapped path is a record field (or a field the pipeline or
// the data stream adds) with a fitting type, and every schema leaf is mapped
// (or lies under an exempted flattened/disabled object).
func checkMappings(rs recordSchema, mappings map[string]any, extra map[string]bool) []string {
	fields, count, errs := mappedFields(mappings)
	if count > maxMappedFields {
		errs = append(errs, fmt.Sprintf("%d mapped fields exceed index.mapping.total_fields.limit %d", count, maxMappedFields))
	}
	for _, p := range sortedKeys(fields) {
		mf := fields[p]
		if extra[p] {
			continue
		}
		f := rs[p]
		if f == nil {
			errs = append(errs, fmt.Sprintf("mapping %s (%s): not a field of the record schema", p, mf.Type))
			continue
		}
		if mf.Covers {
			if _, ok := coveredExemptions[p]; !ok {
				errs = append(errs, fmt.Sprintf("mapping %s is %s: add it with a reason to coveredExemptions or map its fields", p, mf.Type))
			}
			continue
		}
		switch {
		case f.Object && mf.Type != "object" && mf.Type != "nested":
			errs = append(errs, fmt.Sprintf("mapping %s is %s but the schema field is an object", p, mf.Type))
		case !f.Object && (mf.Type == "object" || mf.Type == "nested"):
			errs = append(errs, fmt.Sprintf("mapping %s is an object but the schema field is a %v leaf", p, f.Types))
		case !f.Object && !esTypeFits(f, mf.Type):
			errs = append(errs, fmt.Sprintf("mapping %s: type %s does not fit schema %v %s", p, mf.Type, f.Types, f.Format))
		}
	}
	for _, leaf := range rs.leaves() {
		if _, ok := fields[leaf]; ok {
			continue
		}
		covered := false
		for anc := leaf; strings.Contains(anc, "."); {
			anc = anc[:strings.LastIndex(anc, ".")]
			if mf, ok := fields[anc]; ok && mf.Covers {
				covered = true
				break
			}
		}
		if !covered {
			errs = append(errs, fmt.Sprintf("schema field %s has no mapping", leaf))
		}
	}
	for p := range coveredExemptions {
		if mf, ok := fields[p]; !ok || !mf.Covers {
			errs = append(errs, fmt.Sprintf("coveredExemptions lists %s but the template maps it field by field", p))
		}
	}
	return errs
}

// extraFields are the mapped paths that are not record fields but allowed:
// what the pipeline adds (with its parent objects) and, for the data stream
// template, data_stream.*.
func extraFields(dataStream bool) map[string]bool {
	extra := map[string]bool{}
	for k := range pipelineCreated {
		extra[k] = true
		for p := k; strings.Contains(p, "."); {
			p = p[:strings.LastIndex(p, ".")]
			extra[p] = true
		}
	}
	if dataStream {
		for k := range dataStreamFields {
			extra[k] = true
		}
	}
	return extra
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestElasticTemplatesMatchRecordSchema(t *testing.T) {
	rs := loadSchema(t)
	for _, tc := range []struct {
		file       string
		pattern    string
		dataStream bool
	}{
		{indexFile, "aegis-*", false},
		{dataStreamFile, "logs-aegis.detection-*", true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			it, err := loadIndexTemplate(elasticDir, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(it.Patterns, []string{tc.pattern}) {
				t.Errorf("index_patterns %v, want [%s]", it.Patterns, tc.pattern)
			}
			if it.DataStream != tc.dataStream {
				t.Errorf("data_stream set: %v, want %v", it.DataStream, tc.dataStream)
			}
			// The built-in logs-*-* template has priority 100.
			if it.Priority <= 100 {
				t.Errorf("priority %d: must exceed the built-in logs template's 100", it.Priority)
			}
			if p := it.Settings["index.default_pipeline"]; p != pipelineName {
				t.Errorf("index.default_pipeline %v, want %q", p, pipelineName)
			}
			for what, meta := range map[string]map[string]any{"_meta": it.Meta, "mappings._meta": it.MapMeta} {
				if v := meta["aegis_schema_version"]; v != schemas.SchemaVersion {
					t.Errorf("%s.aegis_schema_version %v, want %q: review the template against the new schema", what, v, schemas.SchemaVersion)
				}
			}
			for _, e := range checkMappings(rs, it.Mappings, extraFields(tc.dataStream)) {
				t.Error(e)
			}
			fields, count, _ := mappedFields(it.Mappings)
			t.Logf("%d mapped fields (%d record leaves)", count, len(rs.leaves()))
			for k, typ := range pipelineCreated {
				if f, ok := fields[k]; !ok {
					t.Errorf("the pipeline adds %s but the template does not map it", k)
				} else if f.Type != typ {
					t.Errorf("mapping %s: type %s, ECS has %s", k, f.Type, typ)
				}
			}
			if tc.dataStream {
				for k := range dataStreamFields {
					if _, ok := fields[k]; !ok {
						t.Errorf("data stream template does not map %s", k)
					}
				}
				if f := fields["@timestamp"]; f.Type != "date" && f.Type != "date_nanos" {
					t.Errorf("a data stream needs @timestamp as date or date_nanos, got %q", f.Type)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Elasticsearch ingest pipeline.

type fieldRef struct {
	Field string
	Where string
	Write bool
}

var mustacheRE = regexp.MustCompile(`\{\{\{?\s*([^{}\s]+?)\s*\}?\}\}`)

// painlessRefs returns the document fields a Painless snippet reads or
// writes through ctx (ctx.a.b, ctx.a?.b, ctx['@timestamp']); a trailing
// method call (ctx._index.startsWith(...)) is not a field.
func painlessRefs(src string) []string {
	var out []string
	isIdent := func(c byte) bool {
		return c == '_' || c == '@' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(src); {
		j := strings.Index(src[i:], "ctx")
		if j < 0 {
			break
		}
		pos := i + j
		p := pos + 3
		i = p
		if pos > 0 && (isIdent(src[pos-1]) || src[pos-1] == '.') {
			continue
		}
		var segs []string
		for p < len(src) {
			switch {
			case strings.HasPrefix(src[p:], "?.") || src[p] == '.':
				q := p + 1
				if src[p] == '?' {
					q = p + 2
				}
				e := q
				for e < len(src) && isIdent(src[e]) {
					e++
				}
				if e == q || (e < len(src) && src[e] == '(') {
					p = len(src) + 1 // method call or not a name: stop
					break
				}
				segs = append(segs, src[q:e])
				p = e
			case src[p] == '[' && p+1 < len(src) && (src[p+1] == '\'' || src[p+1] == '"'):
				quote := src[p+1]
				e := strings.IndexByte(src[p+2:], quote)
				if e < 0 || p+2+e+1 >= len(src) || src[p+2+e+1] != ']' {
					p = len(src) + 1
					break
				}
				segs = append(segs, src[p+2:p+2+e])
				p = p + 2 + e + 2
			default:
				p = len(src) + 1
			}
		}
		if len(segs) > 0 {
			out = append(out, strings.Join(segs, "."))
		}
	}
	return out
}

// pipelineRefs collects every document field the pipeline names:
// field/target_field/copy_from/fields of processors, {{{mustache}}}
// references in values, ctx references in if conditions and scripts, in the
// processors, the pipeline's on_failure and nested on_failure/foreach.
func pipelineRefs(p map[string]any) ([]fieldRef, error) {
	var refs []fieldRef
	var walkList func(list []any, where string) error
	var walkStrings func(v any, where string)
	walkStrings = func(v any, where string) {
		switch x := v.(type) {
		case string:
			for _, m := range mustacheRE.FindAllStringSubmatch(x, -1) {
				refs = append(refs, fieldRef{Field: m[1], Where: where + " template"})
			}
		case []any:
			for _, e := range x {
				walkStrings(e, where)
			}
		case map[string]any:
			for _, e := range x {
				walkStrings(e, where)
			}
		}
	}
	walkList = func(list []any, where string) error {
		for i, item := range list {
			proc, ok := item.(map[string]any)
			if !ok || len(proc) != 1 {
				return fmt.Errorf("%s[%d]: a processor is an object with one key", where, i)
			}
			for typ, b := range proc {
				body, ok := b.(map[string]any)
				if !ok {
					return fmt.Errorf("%s[%d] %s: body is not an object", where, i, typ)
				}
				w := fmt.Sprintf("%s[%d] %s", where, i, typ)
				if tag, ok := body["tag"].(string); ok {
					w += " (" + tag + ")"
				}
				for key, v := range body {
					switch key {
					case "field":
						s, _ := v.(string)
						refs = append(refs, fieldRef{Field: s, Where: w + " field", Write: typ == "set" || typ == "append"})
					case "target_field":
						s, _ := v.(string)
						refs = append(refs, fieldRef{Field: s, Where: w + " target_field", Write: true})
					case "copy_from":
						s, _ := v.(string)
						refs = append(refs, fieldRef{Field: s, Where: w + " copy_from"})
					case "fields":
						for _, f := range asSlice(v) {
							refs = append(refs, fieldRef{Field: fmt.Sprint(f), Where: w + " fields"})
						}
					case "if", "source":
						s, _ := v.(string)
						for _, r := range painlessRefs(s) {
							refs = append(refs, fieldRef{Field: r, Where: w + " " + key})
						}
					case "on_failure":
						if err := walkList(asSlice(v), w+" on_failure"); err != nil {
							return err
						}
					case "processor":
						if err := walkList([]any{v}, w+" processor"); err != nil {
							return err
						}
					case "value":
						walkStrings(v, w+" value")
					case "description", "tag", "lang", "params", "formats", "timezone", "output_format",
						"ignore_missing", "ignore_failure", "allow_duplicates", "add_to_root", "override":
					default:
						return fmt.Errorf("%s: option %q: the checker does not know whether it names a field; extend pipelineRefs", w, key)
					}
				}
			}
		}
		return nil
	}
	for _, k := range []string{"processors", "on_failure"} {
		if err := walkList(asSlice(p[k]), k); err != nil {
			return nil, err
		}
	}
	return refs, nil
}

func ingestMetadata(f string) bool {
	switch f {
	case "_id", "_index", "_routing", "_version", "_version_type", "_op_type":
		return true
	}
	return strings.HasPrefix(f, "_ingest.")
}

// checkPipelineRefs checks that each field the pipeline names is a record
// field, a field the pipeline itself creates, a shipper input or metadata.
func checkPipelineRefs(rs recordSchema, refs []fieldRef) []string {
	var errs []string
	for _, r := range refs {
		switch {
		case r.Field == "":
			errs = append(errs, r.Where+": empty field name")
		case ingestMetadata(r.Field), pipelineCreated[r.Field] != "", shipperFields[r.Field]:
		case rs[r.Field] != nil:
		default:
			errs = append(errs, fmt.Sprintf("%s: %s is not a record field (nor created by the pipeline: pipelineCreated)", r.Where, r.Field))
		}
	}
	return errs
}

func TestElasticPipelineFieldsExist(t *testing.T) {
	rs := loadSchema(t)
	p, err := readJSON(filepath.Join(elasticDir, pipelineFile))
	if err != nil {
		t.Fatal(err)
	}
	if meta, _ := p["_meta"].(map[string]any); meta["aegis_schema_version"] != schemas.SchemaVersion {
		t.Errorf("pipeline _meta.aegis_schema_version %v, want %q", meta["aegis_schema_version"], schemas.SchemaVersion)
	}
	refs, err := pipelineRefs(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) < 10 {
		t.Fatalf("found only %d field references in the pipeline: the walker is broken", len(refs))
	}
	for _, e := range checkPipelineRefs(rs, refs) {
		t.Error(e)
	}
	written := map[string]bool{}
	for _, r := range refs {
		if r.Write {
			written[r.Field] = true
		}
		if r.Write && rs[r.Field] != nil && r.Field != "@timestamp" {
			t.Errorf("%s writes record field %s: the pipeline must not change the record", r.Where, r.Field)
		}
	}
	for k := range pipelineCreated {
		if !written[k] {
			t.Errorf("pipelineCreated lists %s but no processor writes it", k)
		}
	}
	if !written["_id"] {
		t.Error("the pipeline no longer sets _id from event.id")
	}
	if len(asSlice(p["on_failure"])) == 0 {
		t.Error("the pipeline has no on_failure handler")
	}

	// The severity table fills event.severity exactly as Aegis does.
	var table map[string]any
	for _, item := range asSlice(p["processors"]) {
		if s, ok := item.(map[string]any)["script"].(map[string]any); ok && s["tag"] == "event_severity" {
			table, _ = s["params"].(map[string]any)["score"].(map[string]any)
		}
	}
	sev := rs["aegis.severity"]
	if table == nil || sev == nil {
		t.Fatal("no event_severity script with params.score, or no aegis.severity in the schema")
	}
	if len(table) != len(sev.Enum) {
		t.Errorf("severity table has %d entries, the schema %d values %v", len(table), len(sev.Enum), sev.Enum)
	}
	for _, name := range sev.Enum {
		s, ok := enrich.ParseSeverity(name)
		if !ok {
			t.Errorf("schema severity %q unknown to enrich", name)
			continue
		}
		if got := fmt.Sprint(table[name]); got != fmt.Sprint(s.Score()) {
			t.Errorf("severity table %s = %s, enrich scores it %d", name, got, s.Score())
		}
	}
}

// ---------------------------------------------------------------------------
// Splunk .conf files.

type confKV struct {
	Key, Value string
	Line       int
}

type confStanza struct {
	Name string
	Line int
	KVs  []confKV
}

func (s *confStanza) get(key string) (string, bool) {
	for _, kv := range s.KVs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// parseConf reads a Splunk .conf file: [stanza] headers, key = value lines,
// # comment lines, a trailing backslash continuing a value on the next line.
// Keys before the first stanza go to [default]. A key repeated in one stanza
// is an error (Splunk silently keeps the last).
func parseConf(text string) ([]*confStanza, error) {
	var out []*confStanza
	var cur *confStanza
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + "\n" + lines[i]
		}
		trimmed = strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") {
			if !strings.HasSuffix(trimmed, "]") {
				return nil, fmt.Errorf("line %d: unterminated stanza header %q", lineNo, trimmed)
			}
			cur = &confStanza{Name: trimmed[1 : len(trimmed)-1], Line: lineNo}
			out = append(out, cur)
			continue
		}
		k, v, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: neither a stanza nor key = value: %q", lineNo, trimmed)
		}
		if cur == nil {
			cur = &confStanza{Name: "default", Line: lineNo}
			out = append(out, cur)
		}
		k = strings.TrimSpace(k)
		if _, dup := cur.get(k); dup {
			return nil, fmt.Errorf("line %d: [%s] sets %s twice", lineNo, cur.Name, k)
		}
		cur.KVs = append(cur.KVs, confKV{Key: k, Value: strings.TrimSpace(v), Line: lineNo})
	}
	return out, nil
}

// confTokens splits on blanks, keeping "double-quoted" tokens whole.
func confTokens(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			e := strings.IndexByte(s[1:], '"')
			if e < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			out = append(out, s[1:1+e])
			s = s[e+2:]
			continue
		}
		e := strings.IndexAny(s, " \t\n")
		if e < 0 {
			e = len(s)
		}
		out = append(out, s[:e])
		s = s[e:]
	}
	return out, nil
}

// parseFieldAlias parses `src AS dst [src AS dst ...]` (AS or ASNEW).
func parseFieldAlias(v string) ([][2]string, error) {
	toks, err := confTokens(v)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 || len(toks)%3 != 0 {
		return nil, fmt.Errorf("%q: want (field AS alias)+", v)
	}
	var out [][2]string
	for i := 0; i < len(toks); i += 3 {
		if op := strings.ToUpper(toks[i+1]); op != "AS" && op != "ASNEW" {
			return nil, fmt.Errorf("%q: %q where AS/ASNEW belongs", v, toks[i+1])
		}
		out = append(out, [2]string{toks[i], toks[i+2]})
	}
	return out, nil
}

type evalParts struct {
	Fields      []string    // 'single-quoted' field names and spath paths
	Bare        []string    // unquoted identifiers that are not functions or keywords
	Comparisons [][2]string // 'field' == "literal"
}

var (
	evalCompareRE = regexp.MustCompile(`'([^']+)'\s*(?:==|!=|=)\s*"([^"]*)"`)
	spathRE       = regexp.MustCompile(`spath\(\s*[^,()]+,\s*"([^"]+)"\s*\)`)
	evalKeywords  = map[string]bool{"AND": true, "OR": true, "NOT": true, "XOR": true, "LIKE": true, "IN": true, "true": true, "false": true, "null": true}
)

// parseEval finds the field references of an eval expression: in eval a
// 'single-quoted' token is a field, a "double-quoted" one a string, and a
// bare name a field too (which must then be one the checker can place).
func parseEval(expr string) (evalParts, error) {
	var ep evalParts
	for _, m := range spathRE.FindAllStringSubmatch(expr, -1) {
		ep.Fields = append(ep.Fields, m[1])
	}
	for _, m := range evalCompareRE.FindAllStringSubmatch(expr, -1) {
		ep.Comparisons = append(ep.Comparisons, [2]string{m[1], m[2]})
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '\'':
			e := strings.IndexByte(expr[i+1:], '\'')
			if e < 0 {
				return ep, fmt.Errorf("unterminated field quote in %q", expr)
			}
			ep.Fields = append(ep.Fields, expr[i+1:i+1+e])
			i += e + 2
		case c == '"':
			j := i + 1
			for j < len(expr) && expr[j] != '"' {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				return ep, fmt.Errorf("unterminated string in %q", expr)
			}
			i = j + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(expr) && (expr[j] == '_' || expr[j] >= 'a' && expr[j] <= 'z' || expr[j] >= 'A' && expr[j] <= 'Z' || expr[j] >= '0' && expr[j] <= '9') {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\t') {
				k++
			}
			if !(k < len(expr) && expr[k] == '(') && !evalKeywords[word] {
				ep.Bare = append(ep.Bare, word)
			}
			i = j
		case c >= '0' && c <= '9':
			for i < len(expr) && (expr[i] >= '0' && expr[i] <= '9' || expr[i] == '.') {
				i++
			}
		default:
			i++
		}
	}
	return ep, nil
}

// cimFields are the CIM fields (Intrusion Detection: IDS_Attacks, Network
// Traffic: All_Traffic) an alias or calculated field may produce; a target
// outside this list is a typo or needs a look at the CIM reference.
var cimFields = map[string]string{
	"action": "IDS, Network Traffic", "app": "Network Traffic", "bytes": "Network Traffic",
	"bytes_in": "Network Traffic", "bytes_out": "Network Traffic", "category": "IDS",
	"channel": "Network Traffic", "dest": "IDS, Network Traffic", "dest_interface": "Network Traffic",
	"dest_ip": "Network Traffic", "dest_mac": "Network Traffic", "dest_port": "IDS, Network Traffic",
	"dest_translated_ip": "Network Traffic", "dest_translated_port": "Network Traffic", "dest_zone": "Network Traffic",
	"direction": "Network Traffic", "duration": "Network Traffic", "dvc": "IDS, Network Traffic",
	"dvc_ip": "Network Traffic", "file_hash": "IDS", "file_name": "IDS", "file_path": "IDS",
	"flow_id": "Network Traffic", "icmp_code": "Network Traffic", "icmp_type": "Network Traffic",
	"ids_type": "IDS", "packets": "Network Traffic", "packets_in": "Network Traffic",
	"packets_out": "Network Traffic", "protocol": "Network Traffic", "protocol_version": "Network Traffic",
	"response_time": "Network Traffic", "rule": "Network Traffic", "session_id": "Network Traffic",
	"severity": "IDS", "severity_id": "IDS", "signature": "IDS", "signature_id": "IDS",
	"src": "IDS, Network Traffic", "src_interface": "Network Traffic", "src_ip": "Network Traffic",
	"src_mac": "Network Traffic", "src_port": "IDS, Network Traffic", "src_translated_ip": "Network Traffic",
	"src_translated_port": "Network Traffic", "src_zone": "Network Traffic", "tcp_flag": "Network Traffic",
	"transport": "IDS, Network Traffic", "ttl": "Network Traffic", "user": "IDS, Network Traffic",
	"vendor_product": "IDS, Network Traffic", "vlan": "Network Traffic",
}

// requiredCIM are the CIM fields the add-on must produce (issue 5 item 6).
var requiredCIM = []string{
	// Intrusion Detection
	"src", "dest", "src_port", "dest_port", "signature", "signature_id", "severity",
	"category", "ids_type", "vendor_product", "transport", "action",
	// Network Traffic
	"src_ip", "dest_ip", "bytes", "bytes_in", "bytes_out", "packets", "packets_in",
	"packets_out", "protocol", "app", "duration",
}

// splunkDefaults are Splunk's own fields an expression may name bare.
var splunkDefaults = map[string]bool{"_raw": true, "_time": true, "host": true, "source": true, "sourcetype": true, "index": true}

// propsSettings are the props.conf keys that name no record field.
var propsSettings = map[string]bool{
	"category": true, "description": true, "pulldown_type": true, "SHOULD_LINEMERGE": true,
	"LINE_BREAKER": true, "TRUNCATE": true, "CHARSET": true, "TIME_FORMAT": true, "TZ": true,
	"MAX_TIMESTAMP_LOOKAHEAD": true, "KV_MODE": true, "AUTO_KV_JSON": true, "ANNOTATE_PUNCT": true,
	"MAX_DAYS_AGO": true, "MAX_DAYS_HENCE": true,
}

var timePrefixFieldRE = regexp.MustCompile(`"([^"]+)"`)

// checkSplunkField checks one Splunk field name against the schema; a value
// compared with it must be one of the schema's enum values.
func checkSplunkField(rs recordSchema, name, value, where string) []string {
	f, err := rs.splunkField(name)
	if err != nil {
		return []string{where + ": " + err.Error()}
	}
	if value != "" && len(f.Enum) > 0 && !slices.Contains(f.Enum, value) {
		return []string{fmt.Sprintf("%s: %s is never %q (schema: %v)", where, name, value, f.Enum)}
	}
	return nil
}

// propsResult is what props.conf produces: CIM field -> where it comes from.
type propsResult struct {
	Produced map[string]string
	Errs     []string
}

func checkProps(rs recordSchema, stanzas []*confStanza) propsResult {
	res := propsResult{Produced: map[string]string{}}
	errf := func(format string, a ...any) { res.Errs = append(res.Errs, fmt.Sprintf(format, a...)) }
	var st *confStanza
	for _, s := range stanzas {
		if s.Name == sourcetype {
			st = s
		} else {
			errf("props.conf: stanza [%s]: only [%s] is expected", s.Name, sourcetype)
		}
	}
	if st == nil {
		errf("props.conf: no [%s] stanza", sourcetype)
		return res
	}
	produce := func(cim, from, where string) {
		if _, ok := cimFields[cim]; !ok {
			errf("%s: %s is not a CIM Intrusion Detection / Network Traffic field", where, cim)
		}
		if prev, dup := res.Produced[cim]; dup {
			errf("%s: %s is already produced by %s", where, cim, prev)
		}
		res.Produced[cim] = from
	}
	if v, _ := st.get("KV_MODE"); v != "json" {
		errf("props.conf: KV_MODE = %q, want json", v)
	}
	for _, kv := range st.KVs {
		where := fmt.Sprintf("props.conf:%d %s", kv.Line, kv.Key)
		switch {
		case strings.HasPrefix(kv.Key, "FIELDALIAS-"):
			pairs, err := parseFieldAlias(kv.Value)
			if err != nil {
				errf("%s: %v", where, err)
				continue
			}
			for _, p := range pairs {
				res.Errs = append(res.Errs, checkSplunkField(rs, p[0], "", where)...)
				produce(p[1], p[0], where)
			}
		case strings.HasPrefix(kv.Key, "EVAL-"):
			ep, err := parseEval(kv.Value)
			if err != nil {
				errf("%s: %v", where, err)
				continue
			}
			for _, f := range ep.Fields {
				res.Errs = append(res.Errs, checkSplunkField(rs, f, "", where)...)
			}
			for _, c := range ep.Comparisons {
				res.Errs = append(res.Errs, checkSplunkField(rs, c[0], c[1], where)...)
			}
			for _, b := range ep.Bare {
				if !splunkDefaults[b] {
					errf("%s: bare name %q: quote record fields as 'a.b' (a bare dotted name is a concatenation in eval)", where, b)
				}
			}
			produce(strings.TrimPrefix(kv.Key, "EVAL-"), kv.Value, where)
		case kv.Key == "TIME_PREFIX":
			m := timePrefixFieldRE.FindStringSubmatch(kv.Value)
			if m == nil {
				errf("%s: names no \"field\"", where)
				continue
			}
			f := rs[m[1]]
			if f == nil || f.Format != "date-time" {
				errf("%s: %s is not a date-time field of the record", where, m[1])
			}
		case propsSettings[kv.Key]:
		default:
			errf("%s: the checker does not know whether %s names record fields; extend checkProps", where, kv.Key)
		}
	}
	return res
}

var eventtypeFieldRE = regexp.MustCompile(`(?:^|[\s(])'?([A-Za-z_@][\w.@{}]*)'?\s*(!=|=)\s*(?:"([^"]*)"|([^\s)]+))`)

func checkEventtypes(rs recordSchema, stanzas []*confStanza, produced map[string]string) (map[string]bool, []string) {
	var errs []string
	names := map[string]bool{}
	for _, s := range stanzas {
		names[s.Name] = true
		search, ok := s.get("search")
		if !ok {
			errs = append(errs, fmt.Sprintf("eventtypes.conf [%s]: no search", s.Name))
			continue
		}
		for _, kv := range s.KVs {
			if kv.Key != "search" && kv.Key != "description" && kv.Key != "priority" && kv.Key != "color" {
				errs = append(errs, fmt.Sprintf("eventtypes.conf [%s]: unknown key %s", s.Name, kv.Key))
			}
		}
		where := fmt.Sprintf("eventtypes.conf [%s]", s.Name)
		matches := eventtypeFieldRE.FindAllStringSubmatch(search, -1)
		sawSourcetype := false
		for _, m := range matches {
			name, value := m[1], m[3]+m[4]
			switch {
			case name == "sourcetype":
				sawSourcetype = true
				if value != sourcetype {
					errs = append(errs, fmt.Sprintf("%s: sourcetype %q, props.conf defines %q", where, value, sourcetype))
				}
			case produced[name] != "":
			default:
				errs = append(errs, checkSplunkField(rs, name, value, where)...)
			}
		}
		if !sawSourcetype {
			errs = append(errs, where+": search does not restrict sourcetype")
		}
	}
	return names, errs
}

func checkTags(stanzas []*confStanza, eventtypes map[string]bool, want map[string][]string) []string {
	var errs []string
	got := map[string][]string{}
	for _, s := range stanzas {
		et, ok := strings.CutPrefix(s.Name, "eventtype=")
		if !ok {
			errs = append(errs, fmt.Sprintf("tags.conf [%s]: only eventtype= stanzas are expected", s.Name))
			continue
		}
		if !eventtypes[et] {
			errs = append(errs, fmt.Sprintf("tags.conf [%s]: no such event type in eventtypes.conf", s.Name))
		}
		for _, kv := range s.KVs {
			switch kv.Value {
			case "enabled":
				got[et] = append(got[et], kv.Key)
			case "disabled":
			default:
				errs = append(errs, fmt.Sprintf("tags.conf [%s] %s = %q: enabled or disabled", s.Name, kv.Key, kv.Value))
			}
		}
	}
	for et, tags := range want {
		for _, tag := range tags {
			if !slices.Contains(got[et], tag) {
				errs = append(errs, fmt.Sprintf("tags.conf: event type %s lacks tag %s", et, tag))
			}
		}
	}
	return errs
}

func readConf(t *testing.T, name string) []*confStanza {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(splunkDir, name))
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseConf(string(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return st
}

func TestSplunkConfFieldsExist(t *testing.T) {
	rs := loadSchema(t)
	props := checkProps(rs, readConf(t, "props.conf"))
	for _, e := range props.Errs {
		t.Error(e)
	}
	for _, f := range requiredCIM {
		if props.Produced[f] == "" {
			t.Errorf("props.conf does not produce CIM field %s", f)
		}
	}
	ets, errs := checkEventtypes(rs, readConf(t, "eventtypes.conf"), props.Produced)
	for _, e := range errs {
		t.Error(e)
	}
	for _, e := range checkTags(readConf(t, "tags.conf"), ets, map[string][]string{
		"aegis_alert": {"ids", "attack"},
		"aegis_flow":  {"network", "communicate"},
	}) {
		t.Error(e)
	}

	// Every severity Aegis publishes maps to a CIM severity.
	ep, err := parseEval(props.Produced["severity"])
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, c := range ep.Comparisons {
		if c[0] == "aegis.severity" {
			covered[c[1]] = true
		}
	}
	for _, v := range rs["aegis.severity"].Enum {
		if !covered[v] {
			t.Errorf("EVAL-severity does not map aegis.severity %q", v)
		}
	}
	if testing.Verbose() {
		for _, f := range sortedKeys(props.Produced) {
			t.Logf("%-16s <- %s", f, props.Produced[f])
		}
	}
}

// TestDeployFilesAreChecked fails on a file the checker does not read, so a
// new template or .conf cannot escape the field checks.
func TestDeployFilesAreChecked(t *testing.T) {
	known := map[string]bool{
		filepath.Join(elasticDir, componentFile):    true,
		filepath.Join(elasticDir, indexFile):        true,
		filepath.Join(elasticDir, dataStreamFile):   true,
		filepath.Join(elasticDir, pipelineFile):     true,
		filepath.Join(splunkDir, "props.conf"):      true,
		filepath.Join(splunkDir, "eventtypes.conf"): true,
		filepath.Join(splunkDir, "tags.conf"):       true,
	}
	for _, dir := range []string{elasticDir, splunkDir} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if e.IsDir() || strings.HasSuffix(e.Name(), ".md") {
				continue
			}
			if !known[p] {
				t.Errorf("%s is not checked by deploy/siem_test.go: teach the checker to read it", p)
			}
			delete(known, p)
		}
	}
	for p := range known {
		t.Errorf("%s is missing", p)
	}
}

// ---------------------------------------------------------------------------
// The checkers themselves must catch mistakes.

func TestCheckersCatchTypos(t *testing.T) {
	rs := loadSchema(t)
	base, err := loadIndexTemplate(elasticDir, indexFile)
	if err != nil {
		t.Fatal(err)
	}
	extra := extraFields(false)
	if errs := checkMappings(rs, base.Mappings, extra); len(errs) > 0 {
		t.Fatalf("the shipped template must pass before the negative cases mean anything: %v", errs)
	}
	props := func(m map[string]any, path ...string) map[string]any {
		for _, p := range path {
			m = m["properties"].(map[string]any)[p].(map[string]any)
		}
		return m["properties"].(map[string]any)
	}
	fresh := func() map[string]any {
		it, err := loadIndexTemplate(elasticDir, indexFile)
		if err != nil {
			t.Fatal(err)
		}
		return it.Mappings
	}

	mappingCases := []struct {
		name   string
		mutate func(m map[string]any)
		want   string
	}{
		{"bogus field", func(m map[string]any) { props(m, "source")["ipp"] = map[string]any{"type": "ip"} }, "mapping source.ipp"},
		{"bogus object", func(m map[string]any) {
			props(m, "aegis")["cadense"] = map[string]any{"properties": map[string]any{"x": map[string]any{"type": "long"}}}
		}, "mapping aegis.cadense"},
		{"missing leaf", func(m map[string]any) { delete(props(m, "aegis", "cadence", "client", "iat"), "p99_ms") }, "schema field aegis.cadence.client.iat.p99_ms has no mapping"},
		{"missing rule field", func(m map[string]any) { delete(props(m, "aegis", "rules"), "techniques") }, "schema field aegis.rules.techniques has no mapping"},
		{"wrong type", func(m map[string]any) { props(m, "source")["port"] = map[string]any{"type": "keyword"} }, "mapping source.port: type keyword"},
		{"ip as keyword", func(m map[string]any) { props(m, "destination")["ip"] = map[string]any{"type": "keyword"} }, "mapping destination.ip: type keyword"},
		{"date as keyword", func(m map[string]any) {
			m["properties"].(map[string]any)["@timestamp"] = map[string]any{"type": "keyword"}
		}, "mapping @timestamp: type keyword"},
		{"unexempted flattened", func(m map[string]any) { props(m, "aegis")["cadence"] = map[string]any{"type": "flattened"} }, "mapping aegis.cadence is flattened"},
		{"dynamic true", func(m map[string]any) { m["dynamic"] = true }, "dynamic is true"},
		{"dynamic true below", func(m map[string]any) {
			m["properties"].(map[string]any)["aegis"].(map[string]any)["dynamic"] = true
		}, "mapping aegis: dynamic true"},
	}
	for _, tc := range mappingCases {
		m := fresh()
		tc.mutate(m)
		if errs := checkMappings(rs, m, extra); !containsErr(errs, tc.want) {
			t.Errorf("mapping %s: want an error containing %q, got %v", tc.name, tc.want, errs)
		}
	}

	// A field added to the schema fails until the template maps it.
	var doc map[string]any
	if err := json.Unmarshal(schemas.RecordSchemaJSON, &doc); err != nil {
		t.Fatal(err)
	}
	capture := doc["properties"].(map[string]any)["aegis"].(map[string]any)["properties"].(map[string]any)["capture"].(map[string]any)
	capture["properties"].(map[string]any)["dropped"] = map[string]any{"type": "integer"}
	grown, _ := json.Marshal(doc)
	rs2, err := parseSchema(grown)
	if err != nil {
		t.Fatal(err)
	}
	if errs := checkMappings(rs2, fresh(), extra); !containsErr(errs, "schema field aegis.capture.dropped has no mapping") {
		t.Errorf("schema growth: want the new field reported, got %v", errs)
	}
	// An open object cannot be enumerated: the walker refuses it.
	capture["additionalProperties"] = true
	open, _ := json.Marshal(doc)
	if _, err := parseSchema(open); err == nil || !strings.Contains(err.Error(), "aegis.capture") {
		t.Errorf("open object: want an error naming aegis.capture, got %v", err)
	}

	pipelineCases := []struct {
		name, json, want string
	}{
		{"bogus field", `{"processors":[{"set":{"field":"aegis.sevrity","value":1}}]}`, "aegis.sevrity is not a record field"},
		{"bogus template", `{"processors":[{"append":{"field":"related.ip","value":["{{{source.addr}}}"]}}]}`, "source.addr is not a record field"},
		{"bogus if", `{"processors":[{"set":{"if":"ctx.aegis?.clas != null","field":"tags","value":"x"}}]}`, "aegis.clas is not a record field"},
		{"bogus script", `{"processors":[{"script":{"source":"ctx.event.severty = 1"}}]}`, "event.severty is not a record field"},
		{"bogus bracket", `{"processors":[{"script":{"source":"ctx['@timestmp'] = 1"}}]}`, "@timestmp is not a record field"},
		{"bogus on_failure", `{"processors":[],"on_failure":[{"set":{"field":"eror.message","value":"x"}}]}`, "eror.message is not a record field"},
		{"bogus nested", `{"processors":[{"date":{"field":"@timestamp","target_field":"@timestamp","on_failure":[{"remove":{"field":"aegis.cadence.clients"}}]}}]}`, "aegis.cadence.clients is not a record field"},
	}
	for _, tc := range pipelineCases {
		var p map[string]any
		if err := json.Unmarshal([]byte(tc.json), &p); err != nil {
			t.Fatal(err)
		}
		refs, err := pipelineRefs(p)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if errs := checkPipelineRefs(rs, refs); !containsErr(errs, tc.want) {
			t.Errorf("pipeline %s: want an error containing %q, got %v", tc.name, tc.want, errs)
		}
	}
	// A processor option the checker cannot classify is an error, not a pass.
	var p map[string]any
	json.Unmarshal([]byte(`{"processors":[{"rename":{"field":"source.ip","new_field":"src"}}]}`), &p)
	if _, err := pipelineRefs(p); err == nil || !strings.Contains(err.Error(), "new_field") {
		t.Errorf("unknown processor option: want an error naming it, got %v", err)
	}

	propsCases := []struct {
		name, conf, want string
	}{
		{"bogus alias source", `FIELDALIAS-x = "sorce.ip" AS src`, "sorce is not a record field"},
		{"bogus alias target", `FIELDALIAS-x = "source.ip" AS scr`, "scr is not a CIM"},
		{"bogus eval field", `EVAL-category = 'aegis.clas'`, "aegis.clas is not a record field"},
		{"array without {}", `EVAL-signature = 'aegis.rules.id'`, "aegis.rules is an array, Splunk names it rules{}"},
		{"{} on a scalar", `EVAL-signature = 'aegis.class{}'`, "aegis.class is not an array"},
		{"bare dotted name", `EVAL-severity = lower(aegis.severity)`, `bare name "aegis"`},
		{"enum typo", `EVAL-severity = if('aegis.severity'=="crit", "critical", "low")`, `aegis.severity is never "crit"`},
		{"spath typo", `EVAL-app = spath(_raw, "network.protocl")`, "network.protocl is not a record field"},
		{"time prefix typo", `TIME_PREFIX = "@timestmp"\s*:\s*"`, "@timestmp is not a date-time field"},
		{"unknown key", `REPORT-x = aegis_fields`, "does not know whether REPORT-x"},
		{"duplicate output", "FIELDALIAS-a = \"source.ip\" AS src\nEVAL-src = 'destination.ip'", "src is already produced"},
	}
	for _, tc := range propsCases {
		st, err := parseConf("[" + sourcetype + "]\nKV_MODE = json\n" + tc.conf + "\n")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res := checkProps(rs, st); !containsErr(res.Errs, tc.want) {
			t.Errorf("props %s: want an error containing %q, got %v", tc.name, tc.want, res.Errs)
		}
	}

	st, _ := parseConf("[x]\nsearch = sourcetype=\"aegis:detection\" event.kind=\"alrt\" aegis.clas=llm_stream\n")
	_, errs := checkEventtypes(rs, st, nil)
	for _, want := range []string{`event.kind is never "alrt"`, "aegis.clas is not a record field"} {
		if !containsErr(errs, want) {
			t.Errorf("eventtypes: want an error containing %q, got %v", want, errs)
		}
	}
	st, _ = parseConf("[eventtype=nope]\nids = enabled\n")
	if errs := checkTags(st, map[string]bool{"aegis_alert": true}, map[string][]string{"aegis_alert": {"attack"}}); !containsErr(errs, "no such event type") || !containsErr(errs, "lacks tag attack") {
		t.Errorf("tags: want unknown event type and missing tag errors, got %v", errs)
	}
}

func containsErr(errs []string, want string) bool {
	for _, e := range errs {
		if strings.Contains(e, want) {
			return true
		}
	}
	return false
}

func TestParseConf(t *testing.T) {
	st, err := parseConf("# comment\nglobal = 1\n[a]\nk = v = w\n  # indented comment\nlong = one \\\ntwo\n\n[b]\nk=\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || st[0].Name != "default" || st[1].Name != "a" || st[2].Name != "b" {
		t.Fatalf("stanzas %+v", st)
	}
	if v, _ := st[1].get("k"); v != "v = w" {
		t.Errorf("k = %q, want the value after the first =", v)
	}
	if v, _ := st[1].get("long"); v != "one \ntwo" {
		t.Errorf("continued value %q", v)
	}
	if v, ok := st[2].get("k"); !ok || v != "" {
		t.Errorf("empty value: %q %v", v, ok)
	}
	for _, bad := range []string{"[a\nk = v\n", "[a]\njunk\n", "[a]\nk = 1\nk = 2\n"} {
		if _, err := parseConf(bad); err == nil {
			t.Errorf("parseConf(%q): want an error", bad)
		}
	}
	pairs, err := parseFieldAlias(`"a.b" AS x c ASNEW y`)
	if err != nil || len(pairs) != 2 || pairs[0] != [2]string{"a.b", "x"} || pairs[1] != [2]string{"c", "y"} {
		t.Errorf("parseFieldAlias: %v %v", pairs, err)
	}
	if _, err := parseFieldAlias(`a TO b`); err == nil {
		t.Error("parseFieldAlias(a TO b): want an error")
	}
	got := painlessRefs(`ctx.a?.b != null && ctx['@x'].y == 1 && ctx._index.startsWith('z') && myctx.q && ctx.event instanceof Map`)
	want := []string{"a.b", "@x.y", "_index", "event"}
	if !slices.Equal(got, want) {
		t.Errorf("painlessRefs = %v, want %v", got, want)
	}
}
