package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/aegis-nsm/aegis/rules"
)

const rulesUsage = `Usage:
  aegis rules check [--list NAME=CIDR,...] DIR
  aegis rules test [-v] [--list NAME=CIDR,...] DIR
  aegis rules list [--list NAME=CIDR,...] [DIR]

Commands:
  check   validate the rule files (*.yaml, *.yml) of DIR together with the
          built-in rules: unknown keys, wrong types, bad CIDRs, patterns,
          classes, technique ids, record fields and test cases are reported
          as FILE:LINE: rule "ID": problem
  test    run the test cases carried in the rule files of DIR and in the
          built-in rules; -v also prints the cases that pass
  list    print the rules that would be loaded (built-in, then DIR's)

--list defines a named CIDR list (repeatable), as rules.lists does in
aegis.yaml; test cases may define their own lists.

Exit codes: 0 all good; 1 a rule file has a problem or a test case failed;
2 bad usage.
`

// runRules implements 'aegis rules check|test|list'.
func runRules(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, rulesUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("aegis rules "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, rulesUsage) }
	verbose := fs.Bool("v", false, "test: also print the cases that pass")
	var lists listFlag
	fs.Var(&lists, "list", "named CIDR list `NAME=CIDR,...` (repeatable)")
	switch sub {
	case "check", "test", "list":
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, rulesUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "aegis rules: unknown command %q\n\n%s", sub, rulesUsage)
		return exitUsage
	}
	dirs, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	cfg := rules.DefaultConfig()
	switch {
	case len(dirs) == 1:
		cfg.Dir = dirs[0]
	case len(dirs) == 0 && sub == "list":
	default:
		fmt.Fprintf(stderr, "aegis rules %s: give one rule directory\n\n%s", sub, rulesUsage)
		return exitUsage
	}
	if cfg.Lists, err = parseLists(lists); err != nil {
		fmt.Fprintf(stderr, "aegis rules %s: %v\n", sub, err)
		return exitUsage
	}
	if sub == "check" {
		return rulesCheck(cfg, stdout, stderr)
	}
	set, err := rules.Load(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	for _, w := range set.Warnings() {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if sub == "list" {
		for _, r := range set.Rules() {
			src := fmt.Sprintf("%s:%d", r.File, r.Line)
			if r.Overrides {
				src += " (overrides built-in)"
			}
			fmt.Fprintf(stdout, "%-32s %-8s %-20s %s\n", r.ID, r.Severity, strings.Join(r.Techniques, ","), src)
		}
		return exitOK
	}
	return rulesTest(set, *verbose, stdout)
}

// parseInterleaved parses flags given before or after the arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseLists reads --list NAME=CIDR,CIDR values.
func parseLists(vals []string) (map[string][]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string][]string{}
	for _, v := range vals {
		name, cidrs, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--list %q: write NAME=CIDR,CIDR", v)
		}
		for _, c := range strings.Split(cidrs, ",") {
			if c = strings.TrimSpace(c); c != "" {
				out[name] = append(out[name], c)
			}
		}
	}
	return out, nil
}

// rulesCheck reports every problem of the directory.
func rulesCheck(cfg rules.Config, stdout, stderr io.Writer) int {
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if errs := rules.Check(cfg.Dir); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		fmt.Fprintf(stderr, "aegis rules check: %d problem(s) in %s\n", len(errs), cfg.Dir)
		return exitFailure
	}
	set, err := rules.Load(cfg)
	if err != nil { // Check passed, so only the config can differ
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	for _, w := range set.Warnings() {
		fmt.Fprintln(stderr, "warning:", w)
	}
	user, tests := 0, 0
	for _, r := range set.Rules() {
		if !r.Builtin {
			user++
		}
		tests += r.Tests
	}
	fmt.Fprintf(stdout, "ok: %d rules (%d from %s, %d built-in), %d test cases\n", len(set.Rules()), user, cfg.Dir, len(set.Rules())-user, tests)
	return exitOK
}

// rulesTest runs the test cases and prints the failures (and, verbose,
// the passes).
func rulesTest(set *rules.Set, verbose bool, stdout io.Writer) int {
	res := set.RunTests()
	failed := 0
	for _, r := range res {
		if !r.Pass {
			failed++
		}
		if !r.Pass || verbose {
			fmt.Fprintln(stdout, r)
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", len(res)-failed, failed)
	if failed > 0 {
		return exitFailure
	}
	return exitOK
}
