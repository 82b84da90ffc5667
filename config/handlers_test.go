package config

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dueq/dueq/tasks"
)

func TestShellAllowReadsProgramNamesAndArgumentLists(t *testing.T) {
	t.Parallel()
	c, err := Load(writeFile(t, `handlers:
  shell:
    allow:
      - pg_dump
      - [rsync, -a, "/srv/*", /backup/]
      - [cat, /var/log/app/*.log]
      - [tar, -czf, "/backups/*.tgz", ...]
      - [uptime]
`), nil)
	require.NoError(t, err)
	require.Equal(t, []tasks.ShellRule{
		{Program: "pg_dump"},
		{Argv: []string{"rsync", "-a", "/srv/*", "/backup/"}},
		{Argv: []string{"cat", "/var/log/app/*.log"}},
		{Argv: []string{"tar", "-czf", "/backups/*.tgz", "..."}},
		{Argv: []string{"uptime"}},
	}, c.Handlers.Shell.Allow)
	require.Equal(t, []string{
		`handlers.shell.allow: pg_dump allows any arguments (a task may pass it any option, such as one that runs a command or writes a file): list the argument vectors it may run instead, e.g. [pg_dump, --flag, "*"]`,
		`handlers.shell.allow: [tar, -czf, "/backups/*.tgz", ...] allows any arguments after [tar, -czf, "/backups/*.tgz"] (options included): end the entry without "..." to allow only the arguments it lists`,
	}, c.Handlers.Warnings())
}

// Not parallel: it sets environment variables.
func TestShellAllowFromTheEnvironment(t *testing.T) {
	t.Setenv("DUEQ_HANDLERS_SHELL_ALLOW", "rsync, pg_dump")
	c, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, []tasks.ShellRule{{Program: "rsync"}, {Program: "pg_dump"}}, c.Handlers.Shell.Allow)

	t.Setenv("DUEQ_HANDLERS_SHELL_ALLOW", `[uptime, [pg_dump, "--dbname=*"]]`)
	c, err = Load("", nil)
	require.NoError(t, err)
	require.Equal(t, []tasks.ShellRule{{Program: "uptime"}, {Argv: []string{"pg_dump", "--dbname=*"}}}, c.Handlers.Shell.Allow)

	t.Setenv("DUEQ_HANDLERS_SHELL_ALLOW", `[uptime, [pg_dump`)
	_, err = Load("", nil)
	require.ErrorContains(t, err, "handlers.shell.allow (from DUEQ_HANDLERS_SHELL_ALLOW): \"[uptime, [pg_dump\" is not a YAML list")
}

func TestHTTPAllowWarnsOfEntriesThatAllowNothing(t *testing.T) {
	t.Parallel()
	c, err := Load(writeFile(t, "handlers: {http: {allow: [api.example.com, 127.0.0.1, '127.0.0.1:8080', 'http://10.0.0.5/hook']}}\n"), nil)
	require.NoError(t, err)
	require.Equal(t, []string{
		"handlers.http.allow: 127.0.0.1 allows nothing: 127.0.0.1 is a loopback address, reached only through an entry that writes its port, such as 127.0.0.1:80",
		"handlers.http.allow: http://10.0.0.5/hook allows nothing: 10.0.0.5 is a private address, reached only through an entry that writes its port, such as http://10.0.0.5:80/hook",
	}, c.Handlers.Warnings())
}

func TestAllowListErrorsNameTheKeyAndTheEntry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, allow string
		want        []string
	}{
		{"shell number", "shell: {allow: [rsync, 7]}", []string{"handlers.shell.allow (from", `entry 1 is a whole number, not a program name: quote it, e.g. "7"`}},
		{"shell number in a list", "shell: {allow: [[pg_dump, -j, 4]]}", []string{"handlers.shell.allow (from", `entry 0, element 2: 4 is a whole number, not a string: quote it, e.g. "4"`}},
		{"shell map", "shell: {allow: [{rsync: -a}]}", []string{"handlers.shell.allow (from", "entry 0 is a map, neither a program name nor a list of strings"}},
		{"shell list in a list", "shell: {allow: [[rsync, [-a]]]}", []string{"entry 0, element 1 is a list, not a string"}},
		{"shell null", "shell: {allow: [rsync, ~]}", []string{"handlers.shell.allow (from", "entry 1 is empty"}},
		{"shell empty name", "shell: {allow: ['']}", []string{`handlers.shell.allow: entry 0 ("")`, "is empty: write a program name"}},
		{"shell empty list", "shell: {allow: [[]]}", []string{"handlers.shell.allow: entry 0 ([])", "is an empty list"}},
		{"shell empty element", "shell: {allow: [[rsync, '', x]]}", []string{`handlers.shell.allow: entry 0 ([rsync, "", x]): element 1 is empty`}},
		{"shell dots in the middle", "shell: {allow: [[rsync, ..., x]]}", []string{`handlers.shell.allow: entry 0 ([rsync, ..., x]): element 1 is "...", which may only be the last element`}},
		{"shell program pattern", "shell: {allow: [['*', x]]}", []string{`handlers.shell.allow: entry 0 (["*", x]): the program "*" is a pattern: name the program exactly`}},
		{"shell not a list", "shell: {allow: {rsync: 1}}", []string{"handlers.shell.allow"}},
		{"http number", "http: {allow: [8080]}", []string{"handlers.http.allow (from", "entry 0 is a whole number"}},
		{"http empty", "http: {allow: ['']}", []string{`handlers.http.allow: entry 0 (""): is empty`}},
		{"http path without scheme", "http: {allow: [example.com/api]}", []string{`handlers.http.allow: entry 0 ("example.com/api"): has a path but no scheme: write a URL prefix such as https://example.com/api`}},
		{"http bad port", "http: {allow: ['example.com:http']}", []string{`handlers.http.allow: entry 0 ("example.com:http"): port "http" is not a number from 1 to 65535`}},
		{"http port zero", "http: {allow: ['example.com:0']}", []string{`port "0" is not a number from 1 to 65535`}},
		{"http scheme", "http: {allow: ['ftp://example.com/']}", []string{`handlers.http.allow: entry 0 ("ftp://example.com/"): scheme "ftp": use http or https`}},
		{"http wildcard", "http: {allow: ['*.example.com']}", []string{`host "*.example.com" has a wildcard`}},
		{"http query", "http: {allow: ['https://example.com/api?key=1']}", []string{"has a query or fragment"}},
		{"http credentials", "http: {allow: ['https://u:p@example.com/']}", []string{"has a user name or password"}},
		{"http dot segment", "http: {allow: ['https://example.com/api/../admin']}", []string{`its path has a "." or ".." segment`}},
		{"http IPv6 without brackets and port", "http: {allow: ['::1:8080:x']}", []string{"write an IPv6 address with a port in brackets"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeFile(t, "handlers: {"+tc.allow+"}\n"), nil)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}
