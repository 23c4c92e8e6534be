package browser_test

import "syscall"

// childAttrs makes trackhook serve die with the test binary: a test run killed by
// its timeout (SIGKILL, no TestMain teardown) leaves no serve behind.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
