package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/midstream-io/midstream/sdk/callback"
)

// rawResult is what the raw sender measured.
type rawResult struct {
	requests int
	wall     time.Duration
	failed   int
	// cpu is the sender's CPU time (this process).
	cpu      float64
	firstErr string
}

// sendRaw sends events to url exactly as the callback target does — one
// POST per event, built by sdk/callback's Encoder with the same sealer
// (encryption, signature), over a keep-alive client like the connector's —
// with no engine around it: concurrency requests in flight, and the events
// of one object one after the other, in their order, as the engine's lanes
// have them.
func sendRaw(ctx context.Context, url string, s secrets, concurrency int, events []*callback.Event) (rawResult, error) {
	var sealer callback.Sealer
	if s.encryptionKey != "" || s.signatureKey != "" {
		cfg := callback.SealConfig{}
		if s.encryptionKey != "" {
			k, err := callback.ParseEncryptionKey(s.encryptionKey)
			if err != nil {
				return rawResult{}, err
			}
			cfg.EncryptionKey = k
		}
		if s.signatureKey != "" {
			cfg.HMACKey = []byte(s.signatureKey)
		}
		var err error
		if sealer, err = callback.NewSealer(cfg); err != nil {
			return rawResult{}, err
		}
	}
	enc := &callback.Encoder{URL: url, Token: s.token, Sealer: sealer}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	// Lanes: the events of each object, in order.
	var lanes [][]*callback.Event
	index := map[string]int{}
	for _, ev := range events {
		key := ev.ID
		if ev.Object != nil {
			key = string(ev.Object.Kind) + "\x00" + ev.Object.HubID
		}
		i, ok := index[key]
		if !ok {
			i = len(lanes)
			index[key] = i
			lanes = append(lanes, nil)
		}
		lanes[i] = append(lanes[i], ev)
	}
	work := make(chan []*callback.Event, len(lanes))
	for _, l := range lanes {
		work <- l
	}
	close(work)

	var (
		failed   atomic.Int64
		errOnce  sync.Once
		firstErr string
		wg       sync.WaitGroup
	)
	send := func(ev *callback.Event) error {
		ev.Timestamp = time.Now().UTC().Truncate(time.Millisecond)
		req, err := enc.NewRequest(ctx, ev)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("event %s: HTTP %d", ev.ID, resp.StatusCode)
		}
		return nil
	}
	cpu0 := selfCPU()
	start := time.Now()
	for range max(1, concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lane := range work {
				for _, ev := range lane {
					if err := send(ev); err != nil {
						failed.Add(1)
						errOnce.Do(func() { firstErr = err.Error() })
					}
				}
			}
		}()
	}
	wg.Wait()
	r := rawResult{requests: len(events), wall: time.Since(start), failed: int(failed.Load()), cpu: selfCPU() - cpu0, firstErr: firstErr}
	return r, nil
}

// selfCPU returns this process's CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}
