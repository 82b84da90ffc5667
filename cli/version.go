package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is the version `dueq version` and `dueq --version` print. Release
// builds set it with the linker:
//
//	go build -ldflags "-X github.com/dueq/dueq/cli.Version=v1.2.0" -o dueq .
//
// When it is empty, the main module's version from the build information is
// used (what `go install github.com/dueq/dueq@v1.2.0` records, or the
// pseudo-version `go build` derives from the git checkout), else "devel".
var Version = ""

// build describes this binary: its version, the commit it was built from
// and the Go that built it.
type build struct {
	version  string
	commit   string // vcs.revision, "" when unknown
	time     string // vcs.time, the commit's time
	modified bool   // vcs.modified: built with uncommitted changes
	goVer    string // e.g. go1.26.8
	platform string // GOOS/GOARCH
}

// readBuild returns the description of this binary: version (Version) when
// set, else the module version of info, which ok says is present
// (debug.ReadBuildInfo).
func readBuild(version string, info *debug.BuildInfo, ok bool) build {
	b := build{version: version, goVer: runtime.Version(), platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok && info != nil {
		if b.version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.version = info.Main.Version
		}
		if info.GoVersion != "" {
			b.goVer = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.commit = s.Value
			case "vcs.time":
				b.time = s.Value
			case "vcs.modified":
				b.modified = s.Value == "true"
			}
		}
	}
	if b.version == "" {
		b.version = "devel"
	}
	return b
}

// String is what `dueq version` prints, one "key: value" line each.
func (b build) String() string {
	commit := "unknown (a binary built with go build in a git checkout records it)"
	if b.commit != "" {
		var notes []string
		if b.time != "" {
			notes = append(notes, b.time)
		}
		if b.modified {
			notes = append(notes, "with uncommitted changes")
		}
		commit = b.commit
		if len(notes) > 0 {
			commit += " (" + strings.Join(notes, ", ") + ")"
		}
	}
	return fmt.Sprintf("version: %s\ncommit:  %s\ngo:      %s %s\n", b.version, commit, b.goVer, b.platform)
}

// thisBuild describes the running binary.
func thisBuild() build {
	info, ok := debug.ReadBuildInfo()
	return readBuild(Version, info, ok)
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print dueq's version, the commit it was built from and the Go version",
		Long: `Print dueq's version, the commit it was built from (with its time, and
whether the checkout had uncommitted changes) and the Go version and
platform it was built for. 'dueq --version' prints the same.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(c.OutOrStdout(), thisBuild())
			return err
		},
	}
}
