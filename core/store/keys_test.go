package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/mattn/go-sqlite3"

	"github.com/midstream-io/midstream/core/store"
)

func TestSigningKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return now }

	if _, ok, err := st.ActiveSigningKey(ctx, "RS256"); ok || err != nil {
		t.Fatalf("a new store has an active key: %t, %v", ok, err)
	}
	k1 := store.SigningKey{KID: "k1", Alg: "RS256", PublicJWK: `{"kid":"k1"}`, PrivateKey: []byte("sealed-1")}
	if err := st.AddSigningKey(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if err := st.AddSigningKey(ctx, store.SigningKey{KID: "k1b", Alg: "RS256", PublicJWK: "{}", PrivateKey: []byte("x")}); !errors.Is(err, store.ErrKeyExists) {
		t.Errorf("a second active RS256 key: %v, want ErrKeyExists", err)
	}
	if err := st.AddSigningKey(ctx, store.SigningKey{KID: "e1", Alg: "ES256", PublicJWK: `{"kid":"e1"}`, PrivateKey: []byte("sealed-e")}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := st.ActiveSigningKey(ctx, "RS256")
	k1.CreatedAt = now
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if diff := cmp.Diff(k1, got); diff != "" {
		t.Errorf("active key (-want +got):\n%s", diff)
	}

	// Rotate with a day of overlap.
	now = now.Add(time.Hour)
	k2 := store.SigningKey{KID: "k2", Alg: "RS256", PublicJWK: `{"kid":"k2"}`, PrivateKey: []byte("sealed-2")}
	old, err := st.RotateSigningKey(ctx, k2, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if old.KID != "k1" || !old.RetiredAt.Equal(now) || !old.ExpiresAt.Equal(now.Add(24*time.Hour)) || old.PrivateKey != nil {
		t.Errorf("retired key %+v", old)
	}
	if a, _, _ := st.ActiveSigningKey(ctx, "RS256"); a.KID != "k2" {
		t.Errorf("active key after rotation: %s", a.KID)
	}
	kids := func(at time.Time) []string {
		keys, err := st.PublishedSigningKeys(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range keys {
			out = append(out, k.KID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"k2", "e1", "k1"}, kids(now)); diff != "" {
		t.Errorf("published during the overlap (-want +got):\n%s", diff)
	}
	later := now.Add(25 * time.Hour)
	if diff := cmp.Diff([]string{"k2", "e1"}, kids(later)); diff != "" {
		t.Errorf("published after the overlap (-want +got):\n%s", diff)
	}
	all, _ := st.SigningKeys(ctx)
	for _, k := range all {
		if k.KID == "k1" && len(k.PrivateKey) != 0 {
			t.Errorf("the retired key kept its private key")
		}
	}
	if n, err := st.PruneSigningKeys(ctx, later); n != 1 || err != nil {
		t.Errorf("prune: %d, %v", n, err)
	}
	if all, _ := st.SigningKeys(ctx); len(all) != 2 {
		t.Errorf("%d keys after pruning, want 2", len(all))
	}

	// A rotation of an algorithm without a key just adds one.
	if old, err := st.RotateSigningKey(ctx, store.SigningKey{KID: "x", Alg: "PS256", PublicJWK: "{}", PrivateKey: []byte("s")}, later); err != nil || old.KID != "" {
		t.Errorf("rotate without a key: %+v, %v", old, err)
	}
}

// TestMigrationToVersion2 opens a store of version 1 (as the previous
// release left it) and checks it gains the signing keys table.
func TestMigrationToVersion2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TABLE signing_keys; DROP TABLE manager_waits; UPDATE schema_version SET version = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AddSigningKey(context.Background(), store.SigningKey{KID: "k", Alg: "ES256", PublicJWK: "{}", PrivateKey: []byte("s")}); err != nil {
		t.Errorf("after migrating from version 1: %v", err)
	}
}
