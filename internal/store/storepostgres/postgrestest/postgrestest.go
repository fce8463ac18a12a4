// Package postgrestest gives tests a real PostgreSQL: an empty schema of
// their own on the server named by ENHANCE_TEST_POSTGRES_URL (CI sets
// it), or a skip that says how to get one, so that the suites need
// nothing but Go where it is unset.
package postgrestest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that holds the test server's URL, e.g.
// postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable.
const EnvURL = "ENHANCE_TEST_POSTGRES_URL"

// URL returns the test server's URL, or skips t when none is set.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Skip("no PostgreSQL to test against: set " + EnvURL + " (e.g. postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable)")
	}
	return u
}

// Schema creates an empty schema, dropped when t ends, and returns the
// server's URL with it as the search path and params added: each test
// gets a database of its own on one server.
func Schema(t testing.TB, params map[string]string) string {
	t.Helper()
	base := URL(t)
	name := "enhance_test_" + strings.ToLower(rand.Text()[:12])
	exec(t, base, "CREATE SCHEMA "+name)
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA "+name+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgrestest: %s is not a URL: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(t testing.TB, url, sql string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("postgrestest: the PostgreSQL at %s does not answer: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("postgrestest: %s: %v", sql, err)
	}
}
