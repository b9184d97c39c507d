package quickstart_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunScript runs the README's quickstart command as a new user would:
// it builds the binaries, starts the receiver, syncs, and shows what the
// application holds; then the month-later export.
func TestRunScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds midstream and the receiver; run without -short")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed to run run.sh")
	}
	work := t.TempDir()
	// A free port, so a receiver someone left running cannot get in the way.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("bash", append([]string{"run.sh"}, args...)...)
		cmd.Env = append(os.Environ(), "QUICKSTART_WORK="+work, "QUICKSTART_ADDR="+addr)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	first := run()
	for _, out := range []string{"failure", "error"} {
		if strings.Contains(first, " "+out) {
			t.Errorf("run.sh reports a %s:\n%s", out, first)
		}
	}
	for _, want := range []string{
		"target app", "400 changes",
		"75 departments, 321 users (4 disabled)",
		// Two people named 朱雅琴: the unique account name takes a suffix.
		"zhu.yaqin ", "zhu.yaqin2 ",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("run.sh output lacks %q:\n%s", want, first)
		}
	}
	second := run("v2")
	for _, want := range []string{
		"2 created, 5 updated, 2 moved, 0 enabled, 1 disabled, 2 deleted",
		"12 changes",
		"75 departments, 321 users (5 disabled)",
	} {
		if !strings.Contains(second, want) {
			t.Errorf("run.sh v2 output lacks %q:\n%s", want, second)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "receiver.pid")); err == nil {
		t.Error("run.sh left the receiver running without --keep")
	}
}
