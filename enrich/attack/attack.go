// Package attack is Aegis's own table of the MITRE ATT&CK Enterprise
// techniques it maps detections to: ids, names and tactics, embedded from
// techniques.tsv. Rules, the alert pipeline and the LLM stage look names up
// here; a technique id that is not in the table is "unvetted": it may be
// shown but never drives severity. A test checks every entry against
// MITRE's official list (shared/attack/enterprise-techniques.tsv).
//
// The table is read once at start-up and is read-only afterwards: every
// function is safe for concurrent use.
package attack

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

//go:embed techniques.tsv
var tableTSV string

// Technique is one ATT&CK technique or sub-technique.
type Technique struct {
	ID      string   // "T1059.004"
	Name    string   // "Unix Shell"
	Tactics []string // "execution", ...
}

var (
	loadOnce sync.Once
	byID     map[string]Technique
	all      []Technique
)

func load() {
	byID = make(map[string]Technique)
	for i, line := range strings.Split(strings.TrimSpace(tableTSV), "\n") {
		if i == 0 {
			continue // header
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || !ValidID(f[0]) {
			panic(fmt.Sprintf("attack: techniques.tsv line %d is malformed: %q", i+1, line))
		}
		t := Technique{ID: f[0], Name: f[1], Tactics: strings.Split(f[2], ",")}
		byID[t.ID] = t
		all = append(all, t)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
}

// Lookup returns the technique with id, and whether the table has it.
func Lookup(id string) (Technique, bool) {
	loadOnce.Do(load)
	t, ok := byID[id]
	return t, ok
}

// All returns every technique of the table, sorted by id. The slice is
// shared: do not modify it.
func All() []Technique {
	loadOnce.Do(load)
	return all
}

var idPattern = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// ValidID reports whether id has the shape of a technique id (T1234 or
// T1234.001); it says nothing about whether the technique exists.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Names returns the names of ids in the same order, the id itself standing
// in for an id the table does not know, so ECS's parallel
// threat.technique.id / threat.technique.name arrays stay aligned.
func Names(ids []string) []string {
	names := make([]string, len(ids))
	for i, id := range ids {
		if t, ok := Lookup(id); ok {
			names[i] = t.Name
		} else {
			names[i] = id
		}
	}
	return names
}
