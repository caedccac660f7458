package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/aegis-nsm/aegis/schemas"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func versionString() string {
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " " + s.Value[:12]
			}
		}
	}
	return fmt.Sprintf("aegis %s%s (record schema %s, %s %s/%s)", version, rev, schemas.SchemaVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
