// Command dueq is a task scheduler daemon backed by Redis, and the client
// that talks to it. Run `dueq --help`.
package main

import (
	"os"

	"github.com/dueq/dueq/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
