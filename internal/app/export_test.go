package app

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the store's driver, to read its file directly
)

// exportJSON is GET /v1/account/export as a client reads it.
type exportJSON struct {
	Account struct {
		Name, Email, Plan string
		CreateTime        time.Time
	}
	APIKeys        []exportedKey `json:"apiKeys"`
	RevokedAPIKeys []exportedKey `json:"revokedApiKeys"`
	Sessions       []struct {
		Name                   string
		CreateTime, ExpireTime time.Time
		ClientAddress          string
	}
	AuditEvents []struct {
		Kind               string
		Time               time.Time
		Key, ClientAddress string
		Reason             string
	}
	LedgerEntries []struct {
		Kind, Key, Operation string
		Credits              int
		State, RequestID     string
		Reason               string
		Time, PeriodStart    time.Time
	}
	IdempotencyRecords []struct {
		Key        string
		CreateTime time.Time
		Done       bool
	}
}

type exportedKey struct {
	Name, DisplayName, Secret string
	Scopes                    []string
	CreateTime                time.Time
	ExpireTime                *time.Time
	RevokeTime                *time.Time
	PreviousSecretExpireTime  *time.Time
}

// micros renders a time as the store keeps it (microseconds since the
// epoch; "0" for none), so export and database rows compare as strings.
func micros(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

// exported says, for every table that holds an account's data, how its
// rows for one account read in the database (query, given the account id
// once) and in the export: both as "|"-joined strings, so that the two
// lists must be equal. A table holding account data that is missing here,
// or a column of one that is not listed, fails
// TestAccountExportHoldsEveryStoredRow: add it to the export (or decide
// why not), then here.
var exported = map[string]struct {
	// columns are all the table's columns, compared or deliberately not,
	// so that a new column needs a decision too.
	columns string
	query   string
	export  func(ex exportJSON) []string
}{
	// The password hash is ours, not the owner's data; email_key is the
	// email case-folded, derived from the email the export holds.
	"accounts": {
		"id email password_hash create_time plan email_key",
		`SELECT id || '|' || email || '|' || plan || '|' || create_time FROM accounts WHERE id = ?`,
		func(ex exportJSON) []string {
			a := ex.Account
			return []string{strings.Join([]string{strings.TrimPrefix(a.Name, "accounts/"), a.Email, a.Plan, micros(&a.CreateTime)}, "|")}
		},
	},
	// Secret hashes are never exported. Last-use times are exported but
	// written in batches, so they are not compared.
	"api_keys": {
		"id account_id display_name secret_hash scopes create_time expire_time revoke_time last_use_time previous_secret_hash previous_expire_time",
		`SELECT id || '|' || display_name || '|' || scopes || '|' || create_time || '|' || coalesce(expire_time, 0) || '|' ||
		 coalesce(revoke_time, 0) || '|' || coalesce(previous_expire_time, 0) FROM api_keys WHERE account_id = ?`,
		func(ex exportJSON) []string {
			var rows []string
			for _, k := range slices.Concat(ex.APIKeys, ex.RevokedAPIKeys) {
				rows = append(rows, strings.Join([]string{strings.TrimPrefix(k.Name, "keys/"), k.DisplayName, strings.Join(k.Scopes, " "),
					micros(&k.CreateTime), micros(k.ExpireTime), micros(k.RevokeTime), micros(k.PreviousSecretExpireTime)}, "|"))
			}
			return rows
		},
	},
	// The secret hash is never exported.
	"sessions": {
		"id account_id secret_hash create_time expire_time client_address",
		`SELECT id || '|' || create_time || '|' || expire_time || '|' || client_address FROM sessions WHERE account_id = ?`,
		func(ex exportJSON) []string {
			var rows []string
			for _, s := range ex.Sessions {
				rows = append(rows, strings.Join([]string{strings.TrimPrefix(s.Name, "sessions/"), micros(&s.CreateTime), micros(&s.ExpireTime), s.ClientAddress}, "|"))
			}
			return rows
		},
	},
	"audit_events": {
		"id account_id time kind key_id client_address reason",
		`SELECT time || '|' || kind || '|' || key_id || '|' || client_address || '|' || reason FROM audit_events WHERE account_id = ?`,
		func(ex exportJSON) []string {
			var rows []string
			for _, e := range ex.AuditEvents {
				rows = append(rows, strings.Join([]string{micros(&e.Time), e.Kind, strings.TrimPrefix(e.Key, "keys/"), e.ClientAddress, e.Reason}, "|"))
			}
			return rows
		},
	},
	// The counters are the ledger's sums per period, which balances are
	// read from: the exported ledger holds them, compared as its sums.
	"balances": {
		"account_id period_start charged refunded granted",
		`SELECT period_start || '|' || charged || '|' || refunded || '|' || granted FROM balances WHERE account_id = ?`,
		func(ex exportJSON) []string {
			sums := map[string]*[3]int{}
			for _, e := range ex.LedgerEntries {
				p := micros(&e.PeriodStart)
				if sums[p] == nil {
					sums[p] = new([3]int)
				}
				sums[p][slices.Index([]string{"charge", "refund", "grant"}, e.Kind)] += e.Credits
			}
			var rows []string
			for p, s := range sums {
				rows = append(rows, strings.Join([]string{p, strconv.Itoa(s[0]), strconv.Itoa(s[1]), strconv.Itoa(s[2])}, "|"))
			}
			return rows
		},
	},
	// Ids are the store's; refund_of is not exported, as a refund names
	// its charge's request; instance_id names one of our processes.
	"ledger": {
		"id account_id key_id period_start kind amount operation request_id state refund_of time instance_id reason",
		`SELECT kind || '|' || key_id || '|' || amount || '|' || operation || '|' || request_id || '|' || state || '|' ||
		 reason || '|' || period_start || '|' || time FROM ledger WHERE account_id = ?`,
		func(ex exportJSON) []string {
			var rows []string
			for _, e := range ex.LedgerEntries {
				rows = append(rows, strings.Join([]string{e.Kind, strings.TrimPrefix(e.Key, "keys/"), strconv.Itoa(e.Credits), e.Operation,
					e.RequestID, e.State, e.Reason, micros(&e.PeriodStart), micros(&e.Time)}, "|"))
			}
			return rows
		},
	},
	// Metadata only: the stored result is the owner's image, already
	// delivered, and the request hash and the process are ours.
	"idempotency": {
		"account_id key request_hash state response header create_time instance_id",
		`SELECT key || '|' || state || '|' || create_time FROM idempotency WHERE account_id = ?`,
		func(ex exportJSON) []string {
			var rows []string
			for _, c := range ex.IdempotencyRecords {
				state := "running"
				if c.Done {
					state = "done"
				}
				rows = append(rows, strings.Join([]string{c.Key, state, micros(&c.CreateTime)}, "|"))
			}
			return rows
		},
	},
}

// TestAccountExportHoldsEveryStoredRow has an account do everything that
// stores something, then checks its export against the database file row
// by row: every table that holds the account id is covered, every row of
// the account is in the export and nothing else is, and no secret, hash
// or stored result is.
func TestAccountExportHoldsEveryStoredRow(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	const email = "portable@example.com"
	var secrets []string // every credential the account was given

	var created struct {
		Account struct{ Name string }
		APIKey  exportedKey `json:"apiKey"`
	}
	resp := s.call(t, http.MethodPost, "/v1/accounts", map[string]any{"email": email, "password": testPassword}, nil, &created)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	accountID := strings.TrimPrefix(created.Account.Name, "accounts/")
	secrets = append(secrets, created.APIKey.Secret)

	// Two sessions, and a failed sign-in.
	token := s.signIn(t, email)
	secrets = append(secrets, token, s.signIn(t, email))
	resp = s.call(t, http.MethodPost, "/v1/sessions", map[string]any{"email": email, "password": "not the password"}, nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp.Body.Close()

	// Keys: one rotated with a grace period (both secrets are stored), one
	// revoked (which then fails, naming the key).
	ci := s.createKey(t, token, "ci", "images:enhance", "usage:read")
	var rotated struct {
		APIKey exportedKey `json:"apiKey"`
	}
	resp = s.call(t, http.MethodPost, "/v1/keys/"+strings.Split(ci, "_")[1]+":rotate", map[string]any{"gracePeriod": "3600s"}, bearer(token), &rotated)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	old := s.createKey(t, token, "old", "images:enhance")
	oldID := strings.Split(old, "_")[1]
	resp = s.call(t, http.MethodDelete, "/v1/keys/"+oldID, nil, bearer(token), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, s.keyWorks(t, old))
	secrets = append(secrets, ci, rotated.APIKey.Secret, old)
	ci = rotated.APIKey.Secret

	// The ledger: a charge, a charge refunded (the image's data is cut),
	// an idempotent call (replayed once, charged once) and a grant.
	png := tinyPNG(t, 16, 16)
	resp = s.post(t, "/v1/enhance", "image/png", png, key(ci))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	bird := testImage(t, "bird.png")
	resp = s.post(t, "/v1/enhance", "image/png", bird[:len(bird)/2], key(ci))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp.Body.Close()
	for range 2 {
		resp = s.post(t, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": ci, "Idempotency-Key": "export-1"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
	}
	require.NoError(t, s.app.ledger.Grant(context.Background(), accountID, 5, "goodwill"))

	// Other accounts' rows, which must stay out of the export.
	resp = s.post(t, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": s.key, "Idempotency-Key": "export-1"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	s.createKey(t, s.signUpAndIn(t, "bystander@example.com"), "theirs", "images:enhance")

	resp = s.call(t, http.MethodGet, "/v1/account/export", nil, bearer(token), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	var ex exportJSON
	require.NoError(t, json.Unmarshal(raw, &ex))

	db := openDB(t, filepath.Join(s.cfg.DataDir, "enhance.db"))
	ctx := context.Background()

	// Every table holding account data (an account_id column, or a
	// reference to accounts) has a mapping that knows all its columns,
	// and every mapping a table.
	tables := map[string]bool{}
	for _, name := range queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`) {
		cols := queryStrings(t, db, `SELECT name FROM pragma_table_info(?)`, name)
		refs := queryStrings(t, db, `SELECT "table" FROM pragma_foreign_key_list(?)`, name)
		if name == "accounts" || slices.Contains(cols, "account_id") || slices.Contains(refs, "accounts") {
			tables[name] = true
			m, ok := exported[name]
			require.True(t, ok, "table %s holds account data but is not in the export test's mapping (nor, probably, in the export)", name)
			known := strings.Fields(m.columns)
			slices.Sort(known)
			slices.Sort(cols)
			require.Equal(t, known, cols, "table %s has columns the export test has not decided on", name)
		}
	}
	for name := range exported {
		require.True(t, tables[name], "the mapping names table %s, which holds no account data", name)
	}

	// Every row of the account, and no other, is in the export.
	for name, m := range exported {
		want := queryStrings(t, db, m.query, accountID)
		got := m.export(ex)
		slices.Sort(want)
		slices.Sort(got)
		require.NotEmpty(t, want, "the test stores something in %s", name)
		require.Equal(t, want, got, "table %s", name)
		if name != "accounts" {
			var n int
			require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM `+name+` WHERE account_id = ?`, accountID).Scan(&n))
			require.Len(t, want, n, "the mapping of %s reads every row of the account", name)
		}
	}
	for _, k := range ex.APIKeys {
		require.Nil(t, k.RevokeTime, "live keys are listed as live")
	}
	for _, k := range ex.RevokedAPIKeys {
		require.NotNil(t, k.RevokeTime, "revoked keys have their revoke time")
	}
	var kinds, states []string
	for _, e := range ex.LedgerEntries {
		kinds, states = append(kinds, e.Kind), append(states, e.State)
	}
	require.ElementsMatch(t, []string{"charge", "charge", "refund", "charge", "grant"}, kinds)
	require.ElementsMatch(t, []string{"final", "refunded", "", "final", ""}, states)
	var events []string
	for _, e := range ex.AuditEvents {
		events = append(events, e.Kind+" "+e.Key)
	}
	require.Contains(t, events, "auth.failed keys/"+oldID, "a failed authentication names its key")
	require.Contains(t, events, "signin.failed ")

	// No secret: the credentials (whole and their secret part), the
	// stored hashes, the password hash, and the idempotent call's request
	// hash and stored result, in any encoding protojson or a client might
	// use.
	for _, k := range slices.Concat(ex.APIKeys, ex.RevokedAPIKeys) {
		require.Empty(t, k.Secret)
	}
	export := string(raw)
	for _, c := range secrets {
		require.NotContains(t, export, c)
		require.NotContains(t, export, strings.Split(c, "_")[2], "the secret part of a credential")
	}
	var blobs [][]byte
	for _, q := range []string{
		`SELECT password_hash FROM accounts WHERE id = ?`,
		`SELECT secret_hash FROM api_keys WHERE account_id = ?`,
		`SELECT previous_secret_hash FROM api_keys WHERE account_id = ? AND previous_secret_hash IS NOT NULL`,
		`SELECT secret_hash FROM sessions WHERE account_id = ?`,
		`SELECT request_hash FROM idempotency WHERE account_id = ?`,
		`SELECT response FROM idempotency WHERE account_id = ?`,
		`SELECT header FROM idempotency WHERE account_id = ?`,
	} {
		found := queryBlobs(t, db, q, accountID)
		require.NotEmpty(t, found, q)
		blobs = append(blobs, found...)
	}
	for _, b := range blobs {
		require.NotEmpty(t, b)
		if len(b) < 16 {
			continue // too short to tell from chance; hashes are 32 bytes
		}
		for _, enc := range []string{string(b), hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
			base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)} {
			require.NotContains(t, export, enc)
		}
	}
	require.NotContains(t, export, "argon2")
}

// openDB opens the server's SQLite file alongside it, as storesqlite
// does, for reading.
func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	var out []string
	for _, b := range queryBlobs(t, db, query, args...) {
		out = append(out, string(b))
	}
	return out
}

func queryBlobs(t *testing.T, db *sql.DB, query string, args ...any) [][]byte {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		require.NoError(t, rows.Scan(&b))
		out = append(out, b)
	}
	require.NoError(t, rows.Err())
	return out
}
