package callback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/midstream-io/midstream/sdk"
	wire "github.com/midstream-io/midstream/sdk/callback"
)

// batcher gathers concurrent Apply calls into batch requests (batch_size
// above 1). Each caller waits for its own result; a request is sent when
// it is full, or when its oldest event has waited batch_wait.
//
// It also bounds the requests in flight: a request is sent only while
// fewer than ⌈events held / batch_size⌉ are. The host holds at most
// concurrency × batch_size events at the target, so the application never
// sees more than concurrency requests at once, as without batching; and
// while they are in flight, the next batches fill.
type batcher struct {
	c    *Connector
	size int
	// limit is the most events the next request carries: size, halved
	// each time the application refuses a batch as too large (413) or
	// does not answer one in time, doubled back after each answered one.
	// The requests in flight stay bounded by size, as the host's window
	// is.
	limit int
	wait  time.Duration
	// ctx is the requests' context: one caller giving up must not cancel
	// the request that carries other callers' events. Close ends it.
	ctx  context.Context
	stop context.CancelFunc

	mu       sync.Mutex
	queue    []*pending      // waiting, in arrival order
	busy     map[string]bool // objects with an event in a request in flight
	held     int             // events queued or in flight
	inflight int             // requests in flight
	timer    *time.Timer
	timerAt  time.Time
	closed   bool
}

// pending is one Apply call's event.
type pending struct {
	op    sdk.Operation
	ev    *wire.Event
	key   string
	since time.Time
	sent  bool         // taken into a request (under batcher.mu)
	done  chan outcome // buffered: the sender never blocks on a caller gone
}

type outcome struct {
	res sdk.Result
	err error
}

func newBatcher(c *Connector, size int, wait time.Duration) *batcher {
	ctx, stop := context.WithCancel(context.Background())
	return &batcher{c: c, size: size, limit: size, wait: wait, ctx: ctx, stop: stop, busy: map[string]bool{}}
}

// errClosed is the answer to an event still waiting when the target
// closes: it was never sent.
var errClosed = &sdk.Error{Category: sdk.CategoryRetryable, Message: "the callback target was closed before the event was sent"}

// apply queues ev and waits for its result or for ctx to end.
func (b *batcher) apply(ctx context.Context, op sdk.Operation, ev *wire.Event) (sdk.Result, error) {
	p := &pending{op: op, ev: ev, key: string(op.Kind) + "\x00" + op.HubID, since: time.Now(), done: make(chan outcome, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return sdk.Result{}, errClosed
	}
	b.queue = append(b.queue, p)
	b.held++
	b.dispatch()
	b.mu.Unlock()

	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if !p.sent {
		b.remove(p)
	}
	b.mu.Unlock()
	// A result that arrived meanwhile is still the truth.
	select {
	case o := <-p.done:
		return o.res, o.err
	default:
	}
	// Sent or not, the event may be sent again: its event id makes that
	// safe.
	return sdk.Result{}, transportError(ctx.Err(), b.c.cfg.timeout)
}

// remove takes a waiting event out of the queue (under mu).
func (b *batcher) remove(p *pending) {
	for i, q := range b.queue {
		if q == p {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			b.held--
			return
		}
	}
}

// dispatch sends what may be sent, and arms the timer for what must wait
// (under mu).
func (b *batcher) dispatch() {
	for !b.closed && b.inflight < (b.held+b.size-1)/b.size {
		batch, oldest := b.ready()
		if len(batch) == 0 {
			return
		}
		if len(batch) < b.limit {
			if due := oldest.Add(b.wait); time.Now().Before(due) {
				b.arm(due)
				return
			}
		}
		b.take(batch)
		b.inflight++
		go b.send(batch)
	}
}

// ready returns the events the next request would carry: the first
// batch_size waiting ones, in order, of objects with no event in flight
// and at most one event per object (the later ones follow in a later
// request, after the earlier one is answered), and when the first of
// them arrived.
func (b *batcher) ready() ([]*pending, time.Time) {
	var (
		batch  []*pending
		oldest time.Time
		keys   = map[string]bool{}
	)
	for _, p := range b.queue {
		if b.busy[p.key] || keys[p.key] {
			// Keep the object's order: its later events wait for it.
			keys[p.key] = true
			continue
		}
		keys[p.key] = true
		if len(batch) == 0 {
			oldest = p.since
		}
		batch = append(batch, p)
		if len(batch) == b.limit {
			break
		}
	}
	return batch, oldest
}

// take moves batch from the queue into flight (under mu).
func (b *batcher) take(batch []*pending) {
	in := make(map[*pending]bool, len(batch))
	for _, p := range batch {
		in[p] = true
		p.sent = true
		b.busy[p.key] = true
	}
	q := b.queue[:0]
	for _, p := range b.queue {
		if !in[p] {
			q = append(q, p)
		}
	}
	clear(b.queue[len(q):])
	b.queue = q
}

// arm makes sure dispatch runs again by at.
func (b *batcher) arm(at time.Time) {
	if b.timer != nil && !b.timerAt.After(at) {
		return
	}
	if b.timer != nil {
		b.timer.Stop()
	}
	b.timerAt = at
	b.timer = time.AfterFunc(time.Until(at), func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.timer = nil
		b.dispatch()
	})
}

// send delivers batch and hands each caller its result.
func (b *batcher) send(batch []*pending) {
	// Every event of a request carries the time it is sent.
	at := b.c.now().UTC().Truncate(time.Millisecond)
	for _, p := range batch {
		p.ev.Timestamp = at
	}
	var outs []outcome
	if len(batch) == 1 {
		// Alone, an event goes as a single request: today's format, with
		// its Idempotency-Key, which every receiver reads.
		outs = []outcome{b.c.deliverOne(b.ctx, batch[0].op, batch[0].ev)}
	} else {
		evs := make([]*wire.Event, len(batch))
		for i, p := range batch {
			evs[i] = p.ev
		}
		req, n, err := b.c.enc.NewBatchRequest(b.ctx, evs)
		if err == nil && n < len(batch) {
			b.requeue(batch[n:])
			batch = batch[:n]
		}
		switch {
		case err != nil:
			for range batch {
				outs = append(outs, outcome{err: transportError(err, b.c.cfg.timeout)})
			}
		case n == 1:
			outs = []outcome{b.c.deliverOne(b.ctx, batch[0].op, batch[0].ev)}
		default:
			var overload bool
			outs, overload = b.c.deliverBatch(req, batch)
			b.mu.Lock()
			if overload {
				b.limit = max(1, len(batch)/2)
			} else {
				b.limit = min(b.size, b.limit*2)
			}
			b.mu.Unlock()
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for i, p := range batch {
		delete(b.busy, p.key)
		b.held--
		p.done <- outs[i]
	}
	b.inflight--
	b.dispatch()
}

// requeue puts back at the head of the queue the events of a batch that
// did not fit its request's byte limit, before that request is sent, so
// that they may go alongside it.
func (b *batcher) requeue(rest []*pending) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range rest {
		delete(b.busy, p.key)
		if b.closed {
			b.held--
			p.done <- outcome{err: errClosed}
			continue
		}
		p.sent = false
	}
	if !b.closed {
		b.queue = append(slices.Clone(rest), b.queue...)
	}
	b.dispatch()
}

// close ends the requests in flight and answers every waiting event.
func (b *batcher) close() {
	b.stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
	}
	for _, p := range b.queue {
		b.held--
		p.done <- outcome{err: errClosed}
	}
	b.queue = nil
}

// deliverOne sends ev as a single request and classifies the answer.
func (c *Connector) deliverOne(ctx context.Context, op sdk.Operation, ev *wire.Event) outcome {
	a, err := c.send(ctx, ev)
	if err != nil {
		return outcome{err: transportError(err, c.cfg.timeout)}
	}
	res, err := c.result(op, a)
	return outcome{res, err}
}

// deliverBatch sends the batch request req carrying the events of batch
// and gives each its result: a non-2xx answer fails them all, as it would
// fail a single request; a 200 answers each event on its own. overload
// reports a batch too large (413) or too slow (no answer within timeout)
// for the application: its events are retried, in smaller batches.
func (c *Connector) deliverBatch(req *http.Request, batch []*pending) (outs []outcome, overload bool) {
	outs = make([]outcome, len(batch))
	a, err := c.doLimit(req, maxBatchAnswerBytes)
	if err != nil {
		for i := range outs {
			outs[i].err = transportError(err, c.cfg.timeout)
		}
		return outs, isTimeout(err)
	}
	if a.status == http.StatusRequestEntityTooLarge {
		// Each event may well fit alone: not the events' failure.
		for i := range outs {
			outs[i].err = &sdk.Error{Category: sdk.CategoryRetryable, HTTPStatus: a.status, BodyExcerpt: bodyExcerpt(a.body),
				Message: fmt.Sprintf("the application refused a batch of %d events as too large (HTTP 413); it is retried in smaller batches", len(batch))}
		}
		return outs, true
	}
	if a.status < 200 || a.status > 299 {
		for i, p := range batch {
			outs[i].res, outs[i].err = c.result(p.op, a)
			if hint := batchHint(a); hint != "" {
				var e *sdk.Error
				if errors.As(outs[i].err, &e) {
					e.Message += "; " + hint
				}
			}
		}
		return outs, false
	}
	ids := make([]string, len(batch))
	for i, p := range batch {
		ids[i] = p.ev.ID
	}
	results, err := wire.UnmarshalBatchResponse(a.body, ids)
	if err != nil {
		for i := range outs {
			outs[i].err = &sdk.Error{Category: sdk.CategoryPermanent, HTTPStatus: a.status, BodyExcerpt: bodyExcerpt(a.body),
				Message: fmt.Sprintf("the application answered a batch of %d events with HTTP %d, but not with one result per event (%v); %s",
					len(batch), a.status, err, acceptBatches)}
		}
		return outs, false
	}
	for i, r := range results {
		if r == nil {
			// Left out, perhaps not applied: a receiver short of time may
			// answer part of a batch.
			outs[i].err = &sdk.Error{Category: sdk.CategoryRetryable, HTTPStatus: a.status, BodyExcerpt: bodyExcerpt(a.body),
				Message: fmt.Sprintf("the application's answer to a batch of %d events has no result for this event", len(batch))}
			continue
		}
		item, _ := json.Marshal(r)
		h := a.header
		if r.RetryAfter > 0 {
			h = a.header.Clone()
			h.Set(wire.HeaderRetryAfter, strconv.FormatInt(r.RetryAfter, 10))
		}
		outs[i].res, outs[i].err = c.result(batch[i].op, &answer{status: r.StatusCode(), header: h, body: item, elapsed: a.elapsed})
	}
	return outs, false
}

// acceptBatches says what a receiver must do to take batches.
const acceptBatches = "the application must accept batch requests (X-Midstream-Event: batch) to use batch_size above 1, as sdk/receiver does: see the callback target's README, \"Batches\"; or set batch_size = 1"

// batchHint explains a refused batch that a receiver without batch
// support would answer: a 400 not from the security checks, or the
// statuses of an endpoint that does not read such requests.
func batchHint(a *answer) string {
	switch a.status {
	case http.StatusBadRequest:
		var r wire.Response
		if json.Unmarshal(a.body, &r) == nil {
			if _, _, known := rejectionCategory(r.Code); known {
				return ""
			}
		}
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity, http.StatusNotImplemented:
	default:
		return ""
	}
	return "if the application does not read batches, " + acceptBatches
}
