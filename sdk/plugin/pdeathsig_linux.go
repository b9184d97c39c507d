package plugin

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the plugin when the host dies,
// even by SIGKILL, when nothing in the host could clean up.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
