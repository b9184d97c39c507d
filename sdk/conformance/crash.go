package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/plugin"
)

// killPid SIGKILLs a plugin process and waits until the launcher has seen
// it end.
func killPid(t *testing.T, p *plugin.Plugin) {
	if p.Exited() {
		return
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
		t.Errorf("kill plugin %d: %v", p.Pid(), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !p.Exited() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// checkCrashError checks the error a crash surfaced as: retryable, and a
// PluginCrashedError when a real process died.
func checkCrashError(t *testing.T, mode Mode, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("work cut by a crash reported no error")
	}
	if !sdk.AsError(err).Category.Retryable() {
		t.Errorf("crash error is not retryable: %v", err)
	}
	if mode == Subprocess {
		var pc *plugin.PluginCrashedError
		if !errors.As(err, &pc) {
			t.Fatalf("crash error is %T (%v), want *plugin.PluginCrashedError", err, err)
		}
		if pc.ExitStatus != "signal: killed" {
			t.Errorf("crash exit status %q, want \"signal: killed\"", pc.ExitStatus)
		}
	}
}

func (s Suite) survivesPluginCrash(t *testing.T, mode Mode) {
	caps := sdk.CapabilitiesOf(s.New())
	if caps.Source {
		t.Run("Read", func(t *testing.T) { s.crashRead(t, mode) })
	}
	if caps.Target {
		t.Run("Apply", func(t *testing.T) { s.crashApply(t, mode) })
	}
}

func (s Suite) crashRead(t *testing.T, mode Mode) {
	fx := s.fixture(t)
	if fx.Large == nil {
		t.Fatal("a source's fixture must set Large")
	}
	config, count := fx.Large(t)
	if count < 50000 {
		t.Fatalf("Large yields %d records, want at least 50000 so a read can be cut", count)
	}
	c := s.open(t, mode, fx, config)
	if mode == Subprocess && c.pid == 0 {
		t.Fatal("plugin has no process id")
	}
	var got int
	_, err := c.Connector.(sdk.Source).Read(context.Background(), sdk.ReadRequest{}, func(rs ...sdk.Record) error {
		if got == 0 {
			c.kill()
		}
		got += len(rs)
		return nil
	})
	checkCrashError(t, mode, err)
	if got >= count {
		t.Fatalf("the cut read delivered all %d records: the crash was not in the middle", got)
	}
	// A relaunched plugin completes the work.
	c = c.restart(t)
	all, _ := readAll(t, c.Connector)
	if len(all) != count {
		t.Fatalf("read after relaunch delivered %d records, want %d", len(all), count)
	}
}

func (s Suite) crashApply(t *testing.T, mode Mode) {
	fx := s.fixture(t)
	if fx.Peer == nil {
		t.Fatal("a target's fixture must set Peer")
	}
	c := s.open(t, mode, fx, fx.Config)
	if cl, ok := c.Connector.(interface{ SetConcurrency(int) }); ok {
		cl.SetConcurrency(8)
	}
	const n = 200
	ops := make([]sdk.Operation, n)
	for i := range ops {
		ops[i] = newOp(sdk.OpCreate, sdk.KindUser, fmt.Sprintf("crash-user-%03d", i), "", map[string]string{"name": fmt.Sprintf("用户%d", i)})
	}
	errs := make([]error, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     int
		killOnce sync.Once
	)
	sem := make(chan struct{}, 16)
	for i := range ops {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, errs[i] = applyErr(c.Connector, ops[i])
			mu.Lock()
			done++
			cut := done == 20
			mu.Unlock()
			if cut {
				killOnce.Do(c.kill)
			}
		}()
	}
	wg.Wait()
	var failed []int
	for i, err := range errs {
		if err != nil {
			failed = append(failed, i)
		}
	}
	if len(failed) == 0 {
		t.Fatal("no operation failed: the crash did not cut the apply stream")
	}
	checkCrashError(t, mode, errs[failed[0]])
	// The host retries every failed event, same event id, on a relaunched
	// plugin: nothing may be lost and nothing created twice.
	c = c.restart(t)
	for _, i := range failed {
		apply(t, c.Connector, ops[i])
	}
	for _, op := range ops {
		if got := len(peerByHub(fx, op.HubID)); got != 1 {
			t.Errorf("the application holds %d objects for %s, want 1", got, op.HubID)
		}
	}
}
