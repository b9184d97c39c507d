package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SigningKey is one of the hub's signing keys: a key pair for
// the JWS signatures of callback targets. The store keeps the private key
// as package core/keys sealed it; it never sees it in clear.
type SigningKey struct {
	// KID is the key id (its RFC 7638 thumbprint).
	KID string
	// Alg is "RS256" or "ES256".
	Alg string
	// PublicJWK is the public key as published in the JWKS (JSON).
	PublicJWK string
	// PrivateKey is the sealed private key; empty once the key is retired.
	PrivateKey []byte
	// CreatedAt is when the key was made.
	CreatedAt time.Time
	// RetiredAt is when the key stopped signing; zero while it signs.
	RetiredAt time.Time
	// ExpiresAt is when a retired key stops being published; zero while
	// it signs.
	ExpiresAt time.Time
}

// Active reports whether k signs.
func (k SigningKey) Active() bool { return k.RetiredAt.IsZero() }

// Published reports whether k is in the hub's JWKS at the time now.
func (k SigningKey) Published(now time.Time) bool { return k.Active() || now.Before(k.ExpiresAt) }

// ErrKeyExists is returned by AddSigningKey when the algorithm already has
// an active key.
var ErrKeyExists = errors.New("an active signing key of this algorithm exists")

const signingKeyColumns = `kid, alg, public_jwk, private_key, created_at, retired_at, expires_at`

func scanSigningKey(row interface{ Scan(...any) error }) (SigningKey, error) {
	var (
		k                SigningKey
		created          int64
		retired, expires sql.NullInt64
	)
	if err := row.Scan(&k.KID, &k.Alg, &k.PublicJWK, &k.PrivateKey, &created, &retired, &expires); err != nil {
		return SigningKey{}, err
	}
	k.CreatedAt = time.UnixMilli(created)
	if retired.Valid {
		k.RetiredAt = time.UnixMilli(retired.Int64)
	}
	if expires.Valid {
		k.ExpiresAt = time.UnixMilli(expires.Int64)
	}
	return k, nil
}

// ActiveSigningKey returns the key that signs for alg, and whether there
// is one.
func (s *Store) ActiveSigningKey(ctx context.Context, alg string) (SigningKey, bool, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys WHERE alg = ? AND retired_at IS NULL`, alg)
	k, err := scanSigningKey(row)
	if errors.Is(err, sql.ErrNoRows) {
		return SigningKey{}, false, nil
	}
	if err != nil {
		return SigningKey{}, false, err
	}
	return k, true, nil
}

// AddSigningKey stores k as the active key of its algorithm. It fails with
// ErrKeyExists when the algorithm has one already (another process made it
// first): read that one instead.
func (s *Store) AddSigningKey(ctx context.Context, k SigningKey) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM signing_keys WHERE alg = ? AND retired_at IS NULL`, k.Alg).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrKeyExists
		}
		return insertSigningKey(tx, k, s.Now())
	})
}

func insertSigningKey(tx *sql.Tx, k SigningKey, now time.Time) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now
	}
	_, err := tx.Exec(`INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.KID, k.Alg, k.PublicJWK, k.PrivateKey, k.CreatedAt.UnixMilli())
	return err
}

// RotateSigningKey makes k the active key of its algorithm in one
// transaction: the key that signed until now is retired, its private key
// erased, and it stays published until until. It returns the retired key
// (zero when the algorithm had none).
func (s *Store) RotateSigningKey(ctx context.Context, k SigningKey, until time.Time) (SigningKey, error) {
	var old SigningKey
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.Now()
		row := tx.QueryRow(`SELECT `+signingKeyColumns+` FROM signing_keys WHERE alg = ? AND retired_at IS NULL`, k.Alg)
		prev, err := scanSigningKey(row)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if until.Before(now) {
				until = now
			}
			if _, err := tx.Exec(`UPDATE signing_keys SET retired_at = ?, expires_at = ?, private_key = x'' WHERE kid = ?`,
				now.UnixMilli(), until.UnixMilli(), prev.KID); err != nil {
				return err
			}
			prev.RetiredAt, prev.ExpiresAt, prev.PrivateKey = time.UnixMilli(now.UnixMilli()), time.UnixMilli(until.UnixMilli()), nil
			old = prev
		}
		if err := insertSigningKey(tx, k, now); err != nil {
			return fmt.Errorf("store the new key: %w", err)
		}
		return nil
	})
	return old, err
}

// SigningKeys returns every signing key, the newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at DESC, kid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		k, err := scanSigningKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// PublishedSigningKeys returns the keys of the hub's JWKS at the time now:
// the active ones and the retired ones not yet expired, the newest first.
func (s *Store) PublishedSigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error) {
	all, err := s.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, k := range all {
		if k.Published(now) {
			out = append(out, k)
		}
	}
	return out, nil
}

// PruneSigningKeys deletes the retired keys that expired before now and
// returns how many.
func (s *Store) PruneSigningKeys(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND expires_at <= ?`, now.UnixMilli())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
