package engine_test

import (
	"context"
	"sync"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

// failingApp is a MemoryApp whose next requests can be made to fail, and
// whose pending failures can be cleared (the application recovers).
type failingApp struct {
	*receiver.MemoryApp
	mu   sync.Mutex
	fail []error
}

func (f *failingApp) FailNext(errs ...error) {
	f.mu.Lock()
	f.fail = append(f.fail, errs...)
	f.mu.Unlock()
}

func (f *failingApp) Recover() {
	f.mu.Lock()
	f.fail = nil
	f.mu.Unlock()
}

func (f *failingApp) Lookup(ctx context.Context, kind sdk.Kind, hubID string) (string, bool, error) {
	return f.MemoryApp.Lookup(ctx, kind, hubID)
}

func (f *failingApp) Handle(ctx context.Context, ev *callback.Event) (string, error) {
	f.mu.Lock()
	if len(f.fail) > 0 && ev.Object != nil {
		err := f.fail[0]
		f.fail = f.fail[1:]
		f.mu.Unlock()
		return "", err
	}
	f.mu.Unlock()
	return f.MemoryApp.Handle(ctx, ev)
}
