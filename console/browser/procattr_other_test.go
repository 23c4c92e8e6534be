//go:build !linux

package browser_test

import "syscall"

// childAttrs: only Linux can tie a child's life to its parent's (see the Linux file).
func childAttrs() *syscall.SysProcAttr { return nil }
