// Command validate loads a compose file the way Docker Compose does, with
// the Compose Specification's reference loader
// (github.com/compose-spec/compose-go): the file is validated against the
// Compose JSON schema (unknown keys, wrong types, bad depends_on
// conditions), interpolated, and checked for consistency (services named
// in depends_on, volumes and networks declared). Docker is not needed.
//
//	go run . ../compose.yaml
//
// It is a separate module so that its dependencies stay out of Aegis's
// go.mod; deploy/deploy_test.go runs it. Exit status 1 when the file does
// not load.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: validate compose.yaml...")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions(os.Args[1:], cli.WithOsEnv, cli.WithConsistency(true))
	if err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(1)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(1)
	}
	names := p.ServiceNames()
	sort.Strings(names)
	fmt.Printf("%s: project %q, services %s: valid\n", strings.Join(os.Args[1:], ", "), p.Name, strings.Join(names, ", "))
}
