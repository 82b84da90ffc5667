package tasks_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/dueq/dueq/tasks"
)

func TestShellRuleMatching(t *testing.T) {
	t.Parallel()
	name := tasks.ShellRule{Program: "rsync"}
	exact := tasks.ShellRule{Argv: []string{"rsync", "-a", "/srv/data/", "/backup/"}}
	pattern := tasks.ShellRule{Argv: []string{"rsync", "-a", "/srv/*/", "/backup/*"}}
	prefix := tasks.ShellRule{Argv: []string{"tar", "-czf", "/backups/*.tgz", "..."}}
	dbname := tasks.ShellRule{Argv: []string{"pg_dump", "--dbname=*"}}
	bare := tasks.ShellRule{Argv: []string{"uptime"}}
	for _, tc := range []struct {
		rule  tasks.ShellRule
		cmd   string // split on spaces
		allow bool
	}{
		// A program name allows any arguments, and nothing but that name.
		{name, "rsync", true},
		{name, "rsync -e sh -c id /a /b", true},
		{name, "/usr/bin/rsync -a", false},
		{name, "rsync2", false},
		// A list matches exactly that many arguments.
		{exact, "rsync -a /srv/data/ /backup/", true},
		{exact, "rsync -a /srv/data/ /backup/ -e", false},
		{exact, "rsync -a /srv/data/", false},
		{exact, "rsync -e /srv/data/ /backup/", false},
		// * matches within one path element.
		{pattern, "rsync -a /srv/app/ /backup/app", true},
		{pattern, "rsync -a /srv// /backup/", true},
		{pattern, "rsync -a /srv/app/x/ /backup/app", false},
		{pattern, "rsync -a /srv/../ /backup/app", false},
		{pattern, "rsync -a /srv/app/ /backup/..", false},
		{pattern, "rsync -a /srv/app/ -e", false},
		// A wildcard never passes an option, unless its element is one.
		{dbname, "pg_dump --dbname=app", true},
		{dbname, "pg_dump --dbname=", true},
		{dbname, "pg_dump --file=/etc/x", false},
		{dbname, "pg_dump --dbname=app --file=x", false},
		{tasks.ShellRule{Argv: []string{"cat", "*"}}, "cat notes.txt", true},
		{tasks.ShellRule{Argv: []string{"cat", "*"}}, "cat -", false},
		{tasks.ShellRule{Argv: []string{"cat", "*"}}, "cat --version", false},
		// A last "..." allows any further arguments.
		{prefix, "tar -czf /backups/a.tgz /srv", true},
		{prefix, "tar -czf /backups/a.tgz", true},
		{prefix, "tar -czf /backups/a.tgz --to-command=sh", true},
		{prefix, "tar -czf /tmp/a.tgz /srv", false},
		{prefix, "tar -czf", false},
		// A list of the program alone allows no arguments.
		{bare, "uptime", true},
		{bare, "uptime -p", false},
		// Only * is special.
		{tasks.ShellRule{Argv: []string{"ls", "a?[b]"}}, "ls a?[b]", true},
		{tasks.ShellRule{Argv: []string{"ls", "a?[b]"}}, "ls ax[b]", false},
		{tasks.ShellRule{Argv: []string{"ls", "a*b*c"}}, "ls aXbYbZc", true},
		{tasks.ShellRule{Argv: []string{"ls", "a*b*c"}}, "ls aXbYbZ", false},
	} {
		require.Equal(t, tc.allow, tc.rule.Allows(strings.Split(tc.cmd, " ")), "%s allows %q", tc.rule, tc.cmd)
	}
	require.False(t, name.Allows(nil))
}

// The shell handler runs a command only when an entry allows all of it:
// with an rsync entry that pins its arguments, rsync -e (which runs any
// command) is refused before anything runs, and it is allowed only by an
// entry that allows it.
func TestShellRefusesRsyncWithRemoteShellUnlessAllowed(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "ran")
	cmd := []string{"rsync", "-e", "sh -c 'touch " + marker + "'", "x:/a", "/b"}
	pinned := tasks.ShellRule{Argv: []string{"rsync", "-a", "/srv/*/", "/backup/"}}
	r := setup(t, tasks.BuiltinConfig{ShellAllow: []tasks.ShellRule{pinned, {Program: "cat"}}})

	res, err := run(context.Background(), t, r, "shell", shellArgs(t, "", cmd...))
	require.Nil(t, res)
	require.EqualError(t, err, `shell: [rsync, -e, "sh -c 'touch `+marker+`'", x:/a, /b] is not allowed by handlers.shell.allow: `+
		`its entries for rsync allow [rsync, -a, "/srv/*/", /backup/]; add an entry such as [rsync, -e, "sh -c 'touch `+marker+`'", x:/a, /b] to allow exactly this command`)
	require.NoFileExists(t, marker)

	// The same command through the pattern's wildcard: refused too.
	res, err = run(context.Background(), t, r, "shell", shellArgs(t, "", "rsync", "-a", "-e", "/backup/"))
	require.Nil(t, res)
	require.ErrorContains(t, err, "is not allowed by handlers.shell.allow")

	require.True(t, tasks.ShellRule{Program: "rsync"}.Allows(cmd), "a program name allows -e")
	require.True(t, tasks.ShellRule{Argv: cmd}.Allows(cmd), "an entry of exactly this command allows it")
}

// With cat allowed only on the files of one directory, /etc/passwd cannot
// be read, not even through .. from that directory.
func TestShellPatternLimitsCatToOneDirectory(t *testing.T) {
	t.Parallel()
	need(t, "cat")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("kept\n"), 0o600))
	r := setup(t, tasks.BuiltinConfig{ShellAllow: []tasks.ShellRule{{Argv: []string{"cat", dir + "/*.txt"}}}})

	res, err := run(context.Background(), t, r, "shell", shellArgs(t, "", "cat", dir+"/notes.txt"))
	require.NoError(t, err)
	require.Equal(t, "kept\n", decodeShell(t, res).Stdout)

	for _, cmd := range [][]string{
		{"cat", "/etc/passwd"},
		{"cat", dir + "/../../../../etc/passwd"},
		{"cat", dir + "/notes.txt", "/etc/passwd"},
		{"cat", "-", dir + "/notes.txt"},
	} {
		res, err := run(context.Background(), t, r, "shell", shellArgs(t, "root:x:0:0", cmd...))
		require.Nil(t, res, "%q ran", cmd)
		require.ErrorContains(t, err, "is not allowed by handlers.shell.allow: its entries for cat allow [cat, \""+dir+"/*.txt\"]")
	}
}

// No entry allows a shell, so none runs: the command is refused, not
// handed to sh.
func TestShellNeverRunsAShellItDoesNotAllow(t *testing.T) {
	t.Parallel()
	r := setup(t, tasks.BuiltinConfig{ShellAllow: []tasks.ShellRule{{Argv: []string{"echo", "*"}}}})
	res, err := run(context.Background(), t, r, "shell", shellArgs(t, "", "sh", "-c", "echo hi"))
	require.Nil(t, res)
	require.ErrorContains(t, err, `shell: program "sh" is not allowed by handlers.shell.allow (its entries: [echo, "*"]): add an entry such as [sh, -c, "echo hi"]`)
}

func TestShellRuleValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rule tasks.ShellRule
		want string // "" for valid
	}{
		{tasks.ShellRule{Program: "rsync"}, ""},
		{tasks.ShellRule{Program: "/usr/bin/rsync"}, ""},
		{tasks.ShellRule{Argv: []string{"rsync", "-a", "..."}}, ""},
		{tasks.ShellRule{Argv: []string{"uptime"}}, ""},
		{tasks.ShellRule{}, "is empty"},
		{tasks.ShellRule{Program: " "}, "is empty"},
		{tasks.ShellRule{Program: " cat"}, `the program " cat" has spaces around it`},
		{tasks.ShellRule{Program: "r*"}, `the program "r*" is a pattern`},
		{tasks.ShellRule{Program: "x", Argv: []string{"x"}}, "is both a program name and a list"},
		{tasks.ShellRule{Argv: []string{}}, "is an empty list"},
		{tasks.ShellRule{Argv: []string{"", "x"}}, "the program (the first element) is empty"},
		{tasks.ShellRule{Argv: []string{"...", "x"}}, `the program "..." is a pattern`},
		{tasks.ShellRule{Argv: []string{"rsync", "", "x"}}, "element 1 is empty"},
		{tasks.ShellRule{Argv: []string{"rsync", "...", "x"}}, `element 1 is "...", which may only be the last element`},
	} {
		err := tc.rule.Validate()
		if tc.want == "" {
			require.NoError(t, err, "%s", tc.rule)
		} else {
			require.ErrorContains(t, err, tc.want, "%s", tc.rule)
		}
	}
}

// An entry as errors show it is valid YAML that reads back as the entry.
func TestShellRuleStringIsYAML(t *testing.T) {
	t.Parallel()
	for _, argv := range [][]string{
		{"rsync", "-a", "/srv/*/", "backup:/srv/", "..."},
		{"pg_dump", "--dbname=*", "*", "", "-", "true", "4", "0x10", ".inf", "~", "a b", "a,b", "[x]", "#c", "@x", "&a", "'q'", `"d"`, ": x", "x: y", "ünï"},
	} {
		rule := tasks.ShellRule{Argv: argv}
		var back []string
		require.NoError(t, yaml.Unmarshal([]byte(rule.String()), &back), "%s", rule)
		require.Equal(t, argv, back, "%s", rule)
	}
	require.Equal(t, `[rsync, -a, "*", ...]`, tasks.ShellRule{Argv: []string{"rsync", "-a", "*", "..."}}.String())
	require.Equal(t, "rsync", tasks.ShellRule{Program: "rsync"}.String())
}
