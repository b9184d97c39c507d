package plugins_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midstream-io/midstream/plugins"
	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/plugin"
)

// hostModeEnv makes the test binary act as a host that launches one
// plugin, prints its pid and waits to be killed.
const hostModeEnv = "MIDSTREAM_TEST_HOST_MODE"

func TestMain(m *testing.M) {
	plugin.ServeBuiltin(plugins.Constructors())
	if os.Getenv(hostModeEnv) == "1" {
		p, err := plugins.Launch(context.Background(), plugins.Ref{Name: "csv"}, plugins.DefaultPolicy, nil)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("plugin", p.Pid())
		select {}
	}
	plugin.TestMain(m, nil)
}

func TestBuiltinsRunInTheirOwnProcess(t *testing.T) {
	for _, b := range plugins.Builtins() {
		t.Run(b.Name, func(t *testing.T) {
			m, err := plugins.Launch(context.Background(), plugins.Ref{Name: b.Name}, plugins.DefaultPolicy, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Pid() == 0 || m.Pid() == os.Getpid() {
				t.Fatalf("plugin pid %d, host pid %d: want its own process", m.Pid(), os.Getpid())
			}
			if got := m.Metadata().Name; got != b.Name {
				t.Errorf("plugin says it is %q, want %q", got, b.Name)
			}
		})
	}
}

func TestUnknownBuiltinIsRefused(t *testing.T) {
	_, err := plugins.Launch(context.Background(), plugins.Ref{Name: "nosuch"}, plugins.DefaultPolicy, nil)
	if err == nil || !strings.Contains(err.Error(), `no built-in connector named "nosuch"`) {
		t.Fatalf("got %v", err)
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie has exited; only its parent has not reaped it yet.
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] != "Z"
}

func TestKilledHostLeavesNoPlugin(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(exe, "-test.run=^$")
	host.Env = append(os.Environ(), hostModeEnv+"=1")
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("host printed nothing: %v", err)
	}
	var pid int
	if _, err := fmt.Sscanf(line, "plugin %d", &pid); err != nil {
		t.Fatalf("host said %q", line)
	}
	if !alive(pid) {
		t.Fatalf("plugin %d is not running while its host is", pid)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d outlived its SIGKILLed host by 5s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// buildTemplate builds the out-of-tree template plugin, as its users do.
func buildTemplate(t *testing.T) (path, sum string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "jsonfile-plugin")
	cmd := exec.Command("go", "build", "-o", path, "github.com/midstream-io/midstream/examples/plugin-template")
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return path, hex.EncodeToString(h.Sum(nil))
}

func TestExternalPluginIsPinnedBySHA256(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the template plugin; run without -short")
	}
	path, sum := buildTemplate(t)
	t.Run("match", func(t *testing.T) {
		m, err := plugins.Launch(context.Background(), plugins.Ref{Name: "jsonfile", Path: path, SHA256: sum}, plugins.DefaultPolicy, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if !sdk.CapabilitiesOf(m).Incremental {
			t.Error("the template plugin should report an incremental source")
		}
	})
	t.Run("mismatch", func(t *testing.T) {
		wrong := strings.Repeat("0", 64)
		_, err := plugins.Launch(context.Background(), plugins.Ref{Name: "jsonfile", Path: path, SHA256: wrong}, plugins.DefaultPolicy, nil)
		if err == nil || !strings.Contains(err.Error(), "does not match its pinned sha256") {
			t.Fatalf("a binary with the wrong checksum: %v, want refusal", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := plugins.Launch(context.Background(), plugins.Ref{Name: "jsonfile", Path: path}, plugins.DefaultPolicy, nil)
		if err == nil || !strings.Contains(err.Error(), "sha256") {
			t.Fatalf("an external plugin without a checksum: %v, want refusal", err)
		}
	})
}

func TestCrashedPluginIsRelaunched(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("工号,姓名,部门\n")
	for i := range 60000 {
		fmt.Fprintf(&b, "E%06d,用户%d,集团/研发中心\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := plugins.Launch(context.Background(), plugins.Ref{Name: "csv"}, plugins.DefaultPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg, diags := sdk.NewConfig(m.Schema(), map[string]any{
		"path": "hr.csv", "id_column": "工号", "department_column": "部门", "columns": map[string]any{"姓名": "name"},
	})
	if diags.HasError() {
		t.Fatal(diags.Err())
	}
	var resp sdk.ConfigureResponse
	m.Configure(context.Background(), sdk.ConfigureRequest{Config: cfg, Dir: dir}, &resp)
	if err := resp.Diagnostics.Err(); err != nil {
		t.Fatal(err)
	}
	first := m.Pid()
	var got int
	_, err = m.Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error {
		if got == 0 {
			syscall.Kill(first, syscall.SIGKILL)
			time.Sleep(100 * time.Millisecond)
		}
		got += len(rs)
		return nil
	})
	var crashed *plugin.PluginCrashedError
	if !errors.As(err, &crashed) {
		t.Fatalf("read cut by a kill: %v (%T), want PluginCrashedError", err, err)
	}
	if !sdk.AsError(err).Category.Retryable() {
		t.Errorf("crash is not retryable: %v", err)
	}
	// The next call relaunches and reconfigures the plugin.
	got = 0
	if _, err := m.Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error { got += len(rs); return nil }); err != nil {
		t.Fatal(err)
	}
	if m.Pid() == first || m.Pid() == 0 {
		t.Errorf("plugin pid %d after relaunch, first was %d", m.Pid(), first)
	}
	if want := 60000 + 2; got != want {
		t.Errorf("read after relaunch: %d records, want %d (60000 users and 2 orgs)", got, want)
	}
}

func TestRelaunchIsBounded(t *testing.T) {
	m, err := plugins.Launch(context.Background(), plugins.Ref{Name: "callback"}, plugins.Policy{MaxRestarts: 2, Window: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var last error
	for i := range 4 {
		pid := m.Pid()
		syscall.Kill(pid, syscall.SIGKILL)
		for j := 0; j < 200 && alive(pid); j++ {
			time.Sleep(10 * time.Millisecond)
		}
		// A call may still meet the dying plugin and report its crash; the
		// call after that relaunches it, or refuses to.
		for range 50 {
			var resp sdk.TestConnectionResponse
			m.TestConnection(context.Background(), sdk.TestConnectionRequest{}, &resp)
			last = resp.Diagnostics.Err()
			if last == nil || !strings.Contains(last.Error(), "crashed (signal: killed)") {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if i < 2 && last != nil && strings.Contains(last.Error(), "not relaunching") {
			t.Fatalf("relaunch %d refused within the policy: %v", i+1, last)
		}
	}
	if last == nil || !strings.Contains(last.Error(), "not relaunching") {
		t.Fatalf("after 4 crashes with MaxRestarts 2: %v, want relaunching refused", last)
	}
}
