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
	requests int // HTTP requests
	events   int
	wall     time.Duration
	failed   int // events
	// cpu is the sender's CPU time (this process).
	cpu      float64
	firstErr string
}

// sendRaw sends events to url exactly as the callback target does — one
// POST per event, or with batch above 1 batches of up to that many events
// of different objects (a lone event as a single request), built by
// sdk/callback's Encoder with the same sealer (encryption, signature),
// over a keep-alive client like the connector's — with no engine around
// it: concurrency requests in flight, and the events of one object one
// after the other, in their order, as the engine's lanes have them.
func sendRaw(ctx context.Context, url string, s secrets, concurrency, batch int, events []*callback.Event) (rawResult, error) {
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
		requests atomic.Int64
		errOnce  sync.Once
		firstErr string
		wg       sync.WaitGroup
	)
	fail := func(n int, err error) {
		failed.Add(int64(n))
		errOnce.Do(func() { firstErr = err.Error() })
	}
	// send delivers the first events of heads in one request and returns
	// how many it carried.
	send := func(heads []*callback.Event) int {
		now := time.Now().UTC().Truncate(time.Millisecond)
		for _, ev := range heads {
			ev.Timestamp = now
		}
		var (
			req *http.Request
			n   = 1
			err error
		)
		if len(heads) == 1 {
			req, err = enc.NewRequest(ctx, heads[0])
		} else {
			req, n, err = enc.NewBatchRequest(ctx, heads)
		}
		if err != nil {
			fail(len(heads), err)
			return len(heads)
		}
		requests.Add(1)
		resp, err := client.Do(req)
		if err != nil {
			fail(n, err)
			return n
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			fail(n, fmt.Errorf("event %s: HTTP %d", heads[0].ID, resp.StatusCode))
			return n
		}
		if req.Header.Get(callback.HeaderEvent) != callback.EventBatch {
			return n
		}
		ids := make([]string, n)
		for i, ev := range heads[:n] {
			ids[i] = ev.ID
		}
		results, err := callback.UnmarshalBatchResponse(body, ids)
		if err != nil {
			fail(n, err)
			return n
		}
		for i, r := range results {
			switch {
			case r == nil:
				fail(1, fmt.Errorf("event %s: no result in the batch answer", ids[i]))
			case r.StatusCode()/100 != 2:
				fail(1, fmt.Errorf("event %s: HTTP %d in the batch answer: %s", ids[i], r.StatusCode(), r.Message))
			}
		}
		return n
	}
	cpu0 := selfCPU()
	start := time.Now()
	for range max(1, concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The lanes this sender works on: each request carries the next
			// event of up to batch of them, so an object's events keep their
			// order and never share a request.
			var active [][]*callback.Event
			for {
				for len(active) < max(1, batch) {
					l, ok := <-work
					if !ok {
						break
					}
					active = append(active, l)
				}
				if len(active) == 0 {
					return
				}
				heads := make([]*callback.Event, len(active))
				for i, l := range active {
					heads[i] = l[0]
				}
				n := send(heads)
				kept := active[:0]
				for i, l := range active {
					if i < n {
						l = l[1:]
					}
					if len(l) > 0 {
						kept = append(kept, l)
					}
				}
				active = kept
			}
		}()
	}
	wg.Wait()
	r := rawResult{requests: int(requests.Load()), events: len(events), wall: time.Since(start), failed: int(failed.Load()),
		cpu: selfCPU() - cpu0, firstErr: firstErr}
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
