package main

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midstream-io/midstream/sdk"
	"github.com/midstream-io/midstream/sdk/callback"
	"github.com/midstream-io/midstream/sdk/receiver"
)

func TestLinksCommands(t *testing.T) {
	app := receiver.NewMemoryApp()
	h, err := receiver.New(receiver.Options{Token: "t0ken", App: app})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	dir := t.TempDir()
	writeExport(t, dir, 12, srv.URL)
	db := filepath.Join(dir, "midstream.db")
	run := func(args ...string) (string, error) {
		t.Helper()
		out, err := midstream(t, append(args, "--db", db)...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("sync", dir); err != nil {
		t.Fatalf("sync: %v\n%s", err, out)
	}
	idOf := func(name string) string {
		for _, o := range app.Objects() {
			if o.Kind == sdk.KindUser && o.DisplayName == name {
				return o.ID
			}
		}
		return ""
	}
	out, err := run("links", "show", "E000003")
	if err != nil || !strings.Contains(out, "user 员工3") || !strings.Contains(out, "app  ") || !strings.Contains(out, idOf("员工3")) {
		t.Fatalf("links show E000003: %v\n%s", err, out)
	}
	if out, err := run("links", "show", "nobody"); err == nil || !strings.Contains(out, `no object in the directory has the hub id, external id or display name "nobody"`) {
		t.Errorf("links show of an unknown object: %v\n%s", err, out)
	}
	if out, err := run("links", "set", "app", "E000003", idOf("员工4")); err == nil || !strings.Contains(out, "already linked to 员工4") {
		t.Errorf("links set to another object's account: %v\n%s", err, out)
	}

	// An account the application made itself, which 员工3 should be.
	ev, err := callback.NewEvent(sdk.Operation{ID: "x1", Op: sdk.OpCreate, Kind: sdk.KindUser, HubID: "outside",
		DisplayName: "旧账号", Attributes: sdk.Attributes{"name": sdk.String("旧账号")}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	outside, err := app.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	out, err = run("links", "set", "app", "员工3", outside)
	if err != nil || !strings.Contains(out, "is linked to "+outside+" in app") {
		t.Fatalf("links set: %v\n%s", err, out)
	}
	out, err = run("links", "show", "员工3")
	if err != nil || !strings.Contains(out, outside) || !strings.Contains(out, "unknown") {
		t.Fatalf("links show after set: %v\n%s; want the new id, its attributes unknown", err, out)
	}
	if out, err := run("sync", dir); err != nil {
		t.Fatalf("sync: %v\n%s", err, out)
	}
	found := false
	for _, o := range app.Objects() {
		if o.ID == outside {
			found = true
			if o.Attributes.String("name") != "员工3" {
				t.Errorf("the linked account holds %v after the sync, want 员工3's values", o.Attributes)
			}
		}
	}
	if !found {
		t.Errorf("the linked account %s is gone after the sync", outside)
	}
}
