// Command validate checks the Kubernetes manifests in deploy/kubernetes
// without a cluster and without the network (other than the Go module
// proxy, for this module's own dependencies). It is a separate module so
// that its Kubernetes dependencies stay out of Aegis's go.mod.
//
// It does two things:
//
//   - -schemas DIR writes the JSON schemas kubeconform reads, one file per
//     kind in kubeconform's layout (DIR/daemonset-apps-v1.json,
//     DIR/configmap-v1.json, ...), converted from the Kubernetes OpenAPI v3
//     documents that k8s.io/client-go embeds (openapitest, groups core/v1,
//     apps/v1, batch/v1, discovery.k8s.io/v1). kubeconform normally
//     downloads its schemas from GitHub; with these it validates offline:
//
//     go tool kubeconform -strict -summary \
//     -schema-location 'DIR/{{.ResourceKind}}{{.KindSuffix}}.json' FILE
//
//     The conversion is what kubeconform's openapi2jsonschema does for its
//     "-standalone-strict" schemas: every object that lists its properties
//     gets additionalProperties: false (unless it preserves unknown fields),
//     nullable becomes a null type, and apiVersion and kind are pinned to
//     the kind's group/version.
//
//   - FILE... decodes every document of each file strictly, as the API
//     server does (case-sensitive field names; unknown or duplicate fields
//     and wrong types are errors) into the typed Go object of its kind
//     from k8s.io/api, which follows the current Kubernetes release, while
//     the embedded OpenAPI documents are older (Kubernetes 1.26): a manifest
//     that passes both uses no field a 1.26 cluster lacks and no field the
//     current API has dropped.
//
// Exit status 1 when a file does not decode, 2 on bad usage.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/openapi/openapitest"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	schemaDir := fs.String("schemas", "", "write kubeconform JSON schemas into `DIR`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: validate [-schemas DIR] [MANIFEST.yaml...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *schemaDir == "" && fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if *schemaDir != "" {
		n, err := writeSchemas(*schemaDir)
		if err != nil {
			fmt.Fprintln(stderr, "validate: schemas:", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %d kubeconform schemas to %s\n", n, *schemaDir)
	}
	failed := false
	for _, f := range fs.Args() {
		docs, err := decodeFile(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			failed = true
			continue
		}
		fmt.Fprintf(stdout, "%s: %d documents decode strictly: %s\n", f, len(docs), strings.Join(docs, ", "))
	}
	if failed {
		return 1
	}
	return 0
}

// ---------------------------------------------------------------------------
// Schemas for kubeconform.

// writeSchemas converts every group/version the embedded OpenAPI client
// serves and returns the number of files written.
func writeSchemas(dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	paths, err := openapitest.NewEmbeddedFileClient().Paths()
	if err != nil {
		return 0, err
	}
	names := make([]string, 0, len(paths))
	for p := range paths {
		names = append(names, p)
	}
	sort.Strings(names)
	n := 0
	for _, p := range names {
		raw, err := paths[p].Schema("application/json")
		if err != nil {
			return n, fmt.Errorf("%s: %w", p, err)
		}
		group, version, ok := groupVersionOfPath(p)
		if !ok {
			continue
		}
		written, err := convertDocument(dir, group, version, raw)
		if err != nil {
			return n, fmt.Errorf("%s: %w", p, err)
		}
		n += written
	}
	if n == 0 {
		return 0, errors.New("the embedded OpenAPI documents define no kinds")
	}
	return n, nil
}

// groupVersionOfPath maps "api/v1" to ("", "v1") and "apis/apps/v1" to
// ("apps", "v1").
func groupVersionOfPath(p string) (group, version string, ok bool) {
	parts := strings.Split(p, "/")
	switch {
	case len(parts) == 2 && parts[0] == "api":
		return "", parts[1], true
	case len(parts) == 3 && parts[0] == "apis":
		return parts[1], parts[2], true
	}
	return "", "", false
}

type gvk struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// convertDocument writes the converted definitions of one group/version
// into one file (_definitions-<group>-<version>.json) and, per kind the
// document defines for that group/version, a small schema file that refers
// to its definition there: references between definitions resolve inside
// the definitions file, and the per-kind files stay small.
func convertDocument(dir, group, version string, raw []byte) (int, error) {
	var doc struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return 0, err
	}
	schemas := doc.Components.Schemas
	for _, s := range schemas {
		strictify(s)
	}
	apiVersion := version
	defsFile := "_definitions-" + version + ".json"
	if group != "" {
		apiVersion = group + "/" + version
		defsFile = "_definitions-" + group + "-" + version + ".json"
	}
	defs, err := json.Marshal(map[string]any{
		"$schema":     "http://json-schema.org/draft-04/schema#",
		"description": "Kubernetes " + apiVersion + " definitions, converted from the OpenAPI v3 document k8s.io/client-go/openapi/openapitest embeds",
		"components":  map[string]any{"schemas": schemas},
	})
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, defsFile), defs, 0o644); err != nil {
		return 0, err
	}
	n := 0
	for _, name := range sortedNames(schemas) {
		def, _ := schemas[name].(map[string]any)
		for _, k := range kindsOf(def) {
			if k.Group != group || k.Version != version {
				continue
			}
			file := map[string]any{
				"$schema":     "http://json-schema.org/draft-04/schema#",
				"description": fmt.Sprintf("%s %s (%s)", apiVersion, k.Kind, name),
				"allOf": []any{
					map[string]any{"$ref": defsFile + "#/components/schemas/" + jsonPointerEscape(name)},
					map[string]any{"properties": map[string]any{
						"apiVersion": map[string]any{"enum": []any{apiVersion}},
						"kind":       map[string]any{"enum": []any{k.Kind}},
					}},
				},
			}
			b, err := json.Marshal(file)
			if err != nil {
				return n, err
			}
			if err := os.WriteFile(filepath.Join(dir, schemaFileName(k)), b, 0o644); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// schemaFileName is kubeconform's {{.ResourceKind}}{{.KindSuffix}}.json:
// the lower-case kind, then "-" and the first label of the group (none for
// the core group), then "-" and the version.
func schemaFileName(k gvk) string {
	suffix := "-" + strings.ToLower(k.Version)
	if k.Group != "" {
		suffix = "-" + strings.ToLower(strings.Split(k.Group, ".")[0]) + suffix
	}
	return strings.ToLower(k.Kind) + suffix + ".json"
}

func kindsOf(def map[string]any) []gvk {
	raw, ok := def["x-kubernetes-group-version-kind"]
	if !ok {
		return nil
	}
	b, _ := json.Marshal(raw)
	var out []gvk
	json.Unmarshal(b, &out)
	return out
}

// strictify rewrites an OpenAPI v3 schema in place into the JSON-schema
// form kubeconform's strict schemas have.
func strictify(v any) {
	switch n := v.(type) {
	case map[string]any:
		if _, ok := n["properties"]; ok {
			preserve, _ := n["x-kubernetes-preserve-unknown-fields"].(bool)
			if _, set := n["additionalProperties"]; !set && !preserve {
				n["additionalProperties"] = false
			}
		}
		if nullable, _ := n["nullable"].(bool); nullable {
			if t, ok := n["type"].(string); ok {
				n["type"] = []any{t, "null"}
			}
			delete(n, "nullable")
		}
		for _, c := range n {
			strictify(c)
		}
	case []any:
		for _, c := range n {
			strictify(c)
		}
	}
}

func jsonPointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func sortedNames(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------------------
// Strict decoding into the current API types.

// typed maps apiVersion/kind to a new value of its Go type. Only the kinds
// the manifests use are listed: an unknown kind is an error, so a new kind
// in deploy/kubernetes cannot slip past this check.
var typed = map[string]func() any{
	"v1/Namespace":      func() any { return &corev1.Namespace{} },
	"v1/ServiceAccount": func() any { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":      func() any { return &corev1.ConfigMap{} },
	"v1/Secret":         func() any { return &corev1.Secret{} },
	"v1/Service":        func() any { return &corev1.Service{} },
	"apps/v1/DaemonSet": func() any { return &appsv1.DaemonSet{} },
	"batch/v1/Job":      func() any { return &batchv1.Job{} },
}

// decodeFile decodes every document of path and returns "Kind/name" of
// each.
func decodeFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, doc := range splitDocuments(b) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return out, fmt.Errorf("%s: document %d: %w", path, i+1, err)
		}
		mk, ok := typed[head.APIVersion+"/"+head.Kind]
		if !ok {
			return out, fmt.Errorf("%s: document %d: %s %s is not a kind this checker knows; add it to the typed table", path, i+1, head.APIVersion, head.Kind)
		}
		// As the API server decodes: YAML to JSON (duplicate keys are
		// errors), then case-sensitive JSON with unknown fields reported.
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return out, fmt.Errorf("%s: document %d (%s %q): %w", path, i+1, head.Kind, head.Metadata.Name, err)
		}
		strict, err := kjson.UnmarshalStrict(js, mk())
		if err == nil && len(strict) > 0 {
			err = errors.Join(strict...)
		}
		if err != nil {
			return out, fmt.Errorf("%s: document %d (%s %q): %w", path, i+1, head.Kind, head.Metadata.Name, err)
		}
		out = append(out, head.Kind+"/"+head.Metadata.Name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no documents", path)
	}
	return out, nil
}

// splitDocuments splits a YAML stream at "---" lines and drops documents
// that hold only comments or blanks.
func splitDocuments(b []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.Bytes()) {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
	}
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if t := bytes.TrimRight(line, " \t\r\n"); bytes.Equal(t, []byte("---")) {
			flush()
			continue
		}
		cur.Write(line)
	}
	flush()
	return docs
}

func hasContent(b []byte) bool {
	for _, line := range bytes.Split(b, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			return true
		}
	}
	return false
}
