package testutil

import (
	"os/exec"
	"syscall"
)

// DieWithTests makes cmd's process get SIGKILL when the test binary
// exits, even by a panic or a timeout that runs no cleanup, so no server a
// test started outlives it.
func DieWithTests(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
