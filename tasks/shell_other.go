//go:build !unix

package tasks

import "os/exec"

// killGroupOnCancel leaves cmd as it is: without Unix process groups,
// canceling the context kills the program only, not what it started.
func killGroupOnCancel(*exec.Cmd) {}
