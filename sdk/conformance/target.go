package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/midstream-io/midstream/sdk"
)

var opSeq atomic.Int64

// newOp returns an operation with a fresh event id.
func newOp(op sdk.Op, kind sdk.Kind, hubID, targetID string, attrs map[string]string) sdk.Operation {
	o := sdk.Operation{
		ID: fmt.Sprintf("evt-%d-%d", time.Now().UnixNano(), opSeq.Add(1)), Op: op, Kind: kind,
		HubID: hubID, TargetID: targetID, DisplayName: hubID,
	}
	if attrs != nil {
		o.Attributes = sdk.Attributes{}
		for k, v := range attrs {
			o.Attributes[k] = sdk.String(v)
		}
	}
	return o
}

func apply(t *testing.T, c sdk.Connector, op sdk.Operation) sdk.Result {
	t.Helper()
	res, err := applyErr(c, op)
	if err != nil {
		t.Fatalf("%s %s %s: %v", op.Op, op.Kind, op.HubID, err)
	}
	return res
}

func applyErr(c sdk.Connector, op sdk.Operation) (sdk.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return sdk.Apply(ctx, c.(sdk.Target), op)
}

func peerGet(fx *Fixture, id string) (PeerObject, bool) {
	for _, o := range fx.Peer.Objects() {
		if o.ID == id {
			return o, true
		}
	}
	return PeerObject{}, false
}

func peerByHub(fx *Fixture, hubID string) []PeerObject {
	var out []PeerObject
	for _, o := range fx.Peer.Objects() {
		if o.HubID == hubID {
			out = append(out, o)
		}
	}
	return out
}

// expect checks what the application holds under id.
func expect(t *testing.T, fx *Fixture, step, id string, want PeerObject) {
	t.Helper()
	got, ok := peerGet(fx, id)
	if !ok {
		t.Fatalf("%s: the application holds no object %q", step, id)
	}
	want.ID = id
	if want.Attributes != nil {
		// Compare only the attributes the test set; an application may add
		// its own.
		sub := map[string]string{}
		for k := range want.Attributes {
			if v, ok := got.Attributes[k]; ok {
				sub[k] = v
			}
		}
		got.Attributes = sub
	} else {
		got.Attributes = nil
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: application object (-want +got):\n%s", step, diff)
	}
}

func (s Suite) target(t *testing.T, mode Mode) (*Fixture, *conn) {
	t.Helper()
	fx := s.fixture(t)
	if fx.Peer == nil {
		t.Fatal("a target's fixture must set Peer")
	}
	return fx, s.open(t, mode, fx, fx.Config)
}

func (s Suite) targetCreateUpdateDisableDelete(t *testing.T, mode Mode) {
	fx, c := s.target(t, mode)
	hq := apply(t, c.Connector, newOp(sdk.OpCreate, sdk.KindOrg, "org-hq", "", map[string]string{"name": "总部"}))
	if hq.TargetID == "" || hq.Outcome != sdk.OutcomeCreated {
		t.Fatalf("create org: got %+v, want an id and outcome created", hq)
	}
	expect(t, fx, "create org", hq.TargetID, PeerObject{Kind: sdk.KindOrg, HubID: "org-hq", Active: true, Attributes: map[string]string{"name": "总部"}})

	rd := newOp(sdk.OpCreate, sdk.KindOrg, "org-rd", "", map[string]string{"name": "研发中心"})
	rd.Parent = &sdk.Ref{HubID: "org-hq", TargetID: hq.TargetID}
	rdRes := apply(t, c.Connector, rd)
	expect(t, fx, "create child org", rdRes.TargetID, PeerObject{Kind: sdk.KindOrg, HubID: "org-rd", Active: true, Parent: hq.TargetID, Attributes: map[string]string{"name": "研发中心"}})

	attrs := map[string]string{"name": "张伟", "email": "zhang.wei@example.com"}
	u := newOp(sdk.OpCreate, sdk.KindUser, "user-1", "", attrs)
	u.Parent = &sdk.Ref{HubID: "org-hq", TargetID: hq.TargetID}
	u.Orgs = []sdk.Ref{*u.Parent}
	ur := apply(t, c.Connector, u)
	uid := ur.TargetID
	expect(t, fx, "create user", uid, PeerObject{Kind: sdk.KindUser, HubID: "user-1", Active: true, Parent: hq.TargetID, Attributes: attrs})

	up := newOp(sdk.OpUpdate, sdk.KindUser, "user-1", uid, map[string]string{"email": "wei.zhang@example.com"})
	apply(t, c.Connector, up)
	expect(t, fx, "update user", uid, PeerObject{Kind: sdk.KindUser, HubID: "user-1", Active: true, Parent: hq.TargetID,
		Attributes: map[string]string{"name": "张伟", "email": "wei.zhang@example.com"}})

	apply(t, c.Connector, newOp(sdk.OpDisable, sdk.KindUser, "user-1", uid, nil))
	expect(t, fx, "disable user", uid, PeerObject{Kind: sdk.KindUser, HubID: "user-1", Active: false, Parent: hq.TargetID})
	apply(t, c.Connector, newOp(sdk.OpEnable, sdk.KindUser, "user-1", uid, nil))
	expect(t, fx, "enable user", uid, PeerObject{Kind: sdk.KindUser, HubID: "user-1", Active: true, Parent: hq.TargetID})

	mv := newOp(sdk.OpMove, sdk.KindUser, "user-1", uid, nil)
	mv.Parent = &sdk.Ref{HubID: "org-rd", TargetID: rdRes.TargetID}
	mv.Orgs = []sdk.Ref{*mv.Parent}
	apply(t, c.Connector, mv)
	expect(t, fx, "move user", uid, PeerObject{Kind: sdk.KindUser, HubID: "user-1", Active: true, Parent: rdRes.TargetID})

	apply(t, c.Connector, newOp(sdk.OpDelete, sdk.KindUser, "user-1", uid, nil))
	if o, ok := peerGet(fx, uid); ok && o.Active {
		t.Fatalf("delete user: the application still holds %q active", uid)
	}
	apply(t, c.Connector, newOp(sdk.OpDelete, sdk.KindOrg, "org-rd", rdRes.TargetID, nil))
	apply(t, c.Connector, newOp(sdk.OpDelete, sdk.KindOrg, "org-hq", hq.TargetID, nil))
	for _, id := range []string{rdRes.TargetID, hq.TargetID} {
		if o, ok := peerGet(fx, id); ok && o.Active {
			t.Fatalf("delete org: the application still holds %q active", id)
		}
	}
}

func (s Suite) targetIdempotentRetry(t *testing.T, mode Mode) {
	fx, c := s.target(t, mode)
	create := newOp(sdk.OpCreate, sdk.KindUser, "user-retry", "", map[string]string{"name": "李娜", "email": "li.na@example.com"})
	first := apply(t, c.Connector, create)
	if first.Outcome != sdk.OutcomeCreated {
		t.Fatalf("first create: outcome %q, want created", first.Outcome)
	}
	// The same event again: the answer to the first was lost.
	again := apply(t, c.Connector, create)
	if again.TargetID != first.TargetID {
		t.Fatalf("re-applied create answered id %q, want %q", again.TargetID, first.TargetID)
	}
	if again.Outcome != sdk.OutcomeMatched && again.Outcome != sdk.OutcomeMatchedStale {
		t.Fatalf("re-applied create: outcome %q, want matched", again.Outcome)
	}
	// A later create of the same object (a retry derived afresh, with a
	// new event id and newer values) must leave the newer values.
	newer := newOp(sdk.OpCreate, sdk.KindUser, "user-retry", "", map[string]string{"name": "李娜", "email": "na.li@example.com"})
	third := apply(t, c.Connector, newer)
	if third.TargetID != first.TargetID {
		t.Fatalf("create with a new event id answered id %q, want %q", third.TargetID, first.TargetID)
	}
	if n := len(peerByHub(fx, "user-retry")); n != 1 {
		t.Fatalf("the application holds %d objects for one hub id, want 1", n)
	}
	if third.Outcome == sdk.OutcomeMatched {
		expect(t, fx, "matched create", first.TargetID, PeerObject{Kind: sdk.KindUser, HubID: "user-retry", Active: true,
			Attributes: map[string]string{"email": "na.li@example.com"}})
	}
}

func (s Suite) targetReportsVendorError(t *testing.T, mode Mode) {
	fx, c := s.target(t, mode)
	u := apply(t, c.Connector, newOp(sdk.OpCreate, sdk.KindUser, "user-err", "", map[string]string{"name": "王芳"}))
	cases := []struct {
		name    string
		failure Failure
		check   func(*sdk.Error) error
	}{
		{"unavailable", FailUnavailable, func(e *sdk.Error) error {
			if e.Category != sdk.CategoryRetryable {
				return fmt.Errorf("category %q, want retryable", e.Category)
			}
			return nil
		}},
		{"rate limited", FailRateLimited, func(e *sdk.Error) error {
			if e.Category != sdk.CategoryRateLimited || e.RetryAfter != 7*time.Second {
				return fmt.Errorf("category %q retry-after %v, want rate_limited after 7s", e.Category, e.RetryAfter)
			}
			return nil
		}},
		{"rejected", FailRejected, func(e *sdk.Error) error {
			if e.Category != sdk.CategoryPermanent || e.HTTPStatus < 400 || e.HTTPStatus > 499 || e.BodyExcerpt == "" {
				return fmt.Errorf("category %q status %d excerpt %q, want permanent 4xx with the body", e.Category, e.HTTPStatus, e.BodyExcerpt)
			}
			return nil
		}},
	}
	for _, tc := range cases {
		fx.Peer.FailNext(tc.failure)
		_, err := applyErr(c.Connector, newOp(sdk.OpUpdate, sdk.KindUser, "user-err", u.TargetID, map[string]string{"name": "王芳芳"}))
		var e *sdk.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: error %v (%T), want *sdk.Error", tc.name, err, err)
		}
		if err := tc.check(e); err != nil {
			t.Errorf("%s: %v (error: %v)", tc.name, err, e)
		}
	}
	// The application recovered: the next request goes through.
	apply(t, c.Connector, newOp(sdk.OpUpdate, sdk.KindUser, "user-err", u.TargetID, map[string]string{"name": "王芳芳"}))
	expect(t, fx, "after failures", u.TargetID, PeerObject{Kind: sdk.KindUser, HubID: "user-err", Active: true, Attributes: map[string]string{"name": "王芳芳"}})
}
