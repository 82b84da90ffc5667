package cli

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// dueq version and dueq --version print the same: the version, the commit
// and the Go version.
func TestVersionCommandAndFlag(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	code, out, errOut := runWith(none, "version")
	require.Equal(t, ExitOK, code, errOut)
	require.Empty(t, errOut)
	require.Regexp(t, `^version: \S+\ncommit:  .+\ngo:      `+runtime.Version()+` `+runtime.GOOS+`/`+runtime.GOARCH+`\n$`, out)
	for _, flag := range []string{"--version", "-v"} {
		code, flagOut, errOut := runWith(none, flag)
		require.Equal(t, ExitOK, code, errOut)
		require.Equal(t, out, flagOut, flag)
	}
	code, out, _ = runWith(none, "--help")
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "version     Print dueq's version")
	require.Contains(t, out, "--version")
}

func TestReadBuild(t *testing.T) {
	t.Parallel()
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/dueq/dueq", Version: "v0.0.0-20261201115715-02960d7de323+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "02960d7de3230ca4d8d22b8b91bc8600cc89209c"},
			{Key: "vcs.time", Value: "2026-12-01T11:57:15Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, c := range []struct {
		name    string
		version string // the Version variable
		info    *debug.BuildInfo
		ok      bool
		want    string
	}{
		{"go build in a checkout", "", vcs, true, "version: v0.0.0-20261201115715-02960d7de323+dirty\n" +
			"commit:  02960d7de3230ca4d8d22b8b91bc8600cc89209c (2026-12-01T11:57:15Z, with uncommitted changes)\n" +
			"go:      go1.26.8 " + platform + "\n"},
		{"-ldflags -X wins", "v1.2.0", vcs, true, "version: v1.2.0\n" +
			"commit:  02960d7de3230ca4d8d22b8b91bc8600cc89209c (2026-12-01T11:57:15Z, with uncommitted changes)\n" +
			"go:      go1.26.8 " + platform + "\n"},
		{"go install module@version", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.3.0"}}, true, "version: v1.3.0\n" +
			"commit:  unknown (a binary built with go build in a git checkout records it)\n" +
			"go:      go1.26.8 " + platform + "\n"},
		{"go run, no VCS", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true, "version: devel\n" +
			"commit:  unknown (a binary built with go build in a git checkout records it)\n" +
			"go:      go1.26.8 " + platform + "\n"},
		{"no build information", "", nil, false, "version: devel\n" +
			"commit:  unknown (a binary built with go build in a git checkout records it)\n" +
			"go:      " + runtime.Version() + " " + platform + "\n"},
	} {
		require.Equal(t, c.want, readBuild(c.version, c.info, c.ok).String(), c.name)
	}
}
