package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/store"
)

// from is s as seen from another loopback address: a client elsewhere.
func (s *testServer) from(t *testing.T, ip string) *testServer {
	t.Helper()
	transport := s.http.Transport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
	c := *s
	c.http = &http.Client{Transport: transport, Timeout: s.http.Timeout}
	return &c
}

func jsonBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// tally counts answers by status.
func tally(answers []answer) map[int]int {
	n := map[int]int{}
	for _, a := range answers {
		n[a.status]++
	}
	return n
}

// busy reports whether a is the hashing queue's refusal, which one
// client meets as soon as it holds auth.QueuePerClient places.
func busy(a answer) bool {
	return a.status == http.StatusTooManyRequests && strings.Contains(a.problem.Detail, "busy checking passwords")
}

// sendPatiently is s.send, sent again while the hashing queue is busy:
// a client that sends many at once gets few places and retries.
func (s *testServer) sendPatiently(method, path, contentType string, body []byte, headers map[string]string) answer {
	for {
		a := s.send(method, path, contentType, body, headers)
		if !busy(a) {
			return a
		}
		time.Sleep(10 * time.Millisecond) // a back-off, not a wait for a condition
	}
}

// roomyHashing gives a server enough hashing places (16 slots, 80 in
// the queue) that 50 requests at once are never refused as busy: the
// tests below are about the throttles, which must hold on their own.
func roomyHashing(c *config.Config) { c.PasswordHashes = 16 }

// TestParallelSignInsPassOnlyTheLimit: 50 sign-ins on one account from
// one address at once, the right password 30th. Each takes its place in
// the throttle before its password is hashed, so at most the limit's
// worth are checked and the right one, sent once the others have shown
// the limit reached, opens no session.
func TestParallelSignInsPassOnlyTheLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, roomyHashing)
	resp := s.call(t, http.MethodPost, "/v1/accounts", map[string]any{"email": "target@example.com", "password": testPassword}, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()

	wrong := jsonBody(t, map[string]any{"email": "target@example.com", "password": "not the password at all"})
	right := jsonBody(t, map[string]any{"email": "target@example.com", "password": testPassword})
	const n, rightAt = 50, 29
	answers := make([]answer, n)
	answered := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := wrong
			if i == rightAt {
				// Six answers mean the limit (5) is reached: each is a
				// counted failure or a refusal because it was (busy
				// refusals are sent again).
				for range 6 {
					<-answered
				}
				body = right
			}
			answers[i] = s.sendPatiently(http.MethodPost, "/v1/sessions", "application/json", body, nil)
			answered <- struct{}{}
		})
	}
	wg.Wait()
	for i, a := range answers {
		require.NoError(t, a.err, i)
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusTooManyRequests}, a.status, "%d: %s", i, a.body)
		if a.status == http.StatusTooManyRequests {
			require.Equal(t, "RATE_LIMITED", a.problem.Code)
			require.Contains(t, a.problem.Detail, "too many failed sign-ins for this account from this address")
			require.NotEmpty(t, a.header.Get("Retry-After"))
		}
	}
	counts := tally(answers)
	t.Logf("answers: %v", counts)
	require.LessOrEqual(t, counts[http.StatusUnauthorized], 5, "at most the limit's worth of passwords checked")
	require.Equal(t, http.StatusTooManyRequests, answers[rightAt].status, "the right password, past the limit, opens no session")

	// The owner, signing in from another address, is not locked out.
	owner := s.from(t, "127.0.0.2")
	a := owner.send(http.MethodPost, "/v1/sessions", "application/json", right, nil)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
}

// TestParallelRegistrationsFromOneAddress: 20 registrations at once from
// one address make at most 5 accounts, the hour's limit.
func TestParallelRegistrationsFromOneAddress(t *testing.T) {
	t.Parallel()
	s := startServer(t, roomyHashing)
	ctx := context.Background()
	before, err := s.app.Store().AccountCount(ctx)
	require.NoError(t, err)
	answers := make([]answer, 20)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			body := jsonBody(t, map[string]any{"email": fmt.Sprintf("user%d@example.com", i), "password": testPassword})
			answers[i] = s.sendPatiently(http.MethodPost, "/v1/accounts", "application/json", body, nil)
		})
	}
	wg.Wait()
	for i, a := range answers {
		require.NoError(t, a.err, i)
		require.Contains(t, []int{http.StatusOK, http.StatusTooManyRequests}, a.status, "%d: %s", i, a.body)
		if a.status == http.StatusTooManyRequests {
			require.Contains(t, a.problem.Detail, "too many registrations from this address")
		}
	}
	counts := tally(answers)
	t.Logf("answers: %v", counts)
	require.LessOrEqual(t, counts[http.StatusOK], 5)
	after, err := s.app.Store().AccountCount(ctx)
	require.NoError(t, err)
	require.Equal(t, counts[http.StatusOK], after-before, "an account for each 200, none more")
	require.LessOrEqual(t, after-before, 5)

	// Another address registers as usual.
	a := s.from(t, "127.0.0.3").send(http.MethodPost, "/v1/accounts", "application/json",
		jsonBody(t, map[string]any{"email": "elsewhere@example.com", "password": testPassword}), nil)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
}

// TestParallelBadKeysFromOneAddress: 60 wrong keys at once from one
// address; at most 21 are answered as wrong (more than 20 failures block
// the address), the rest are refused, right key or not, while another
// address is served.
func TestParallelBadKeysFromOneAddress(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	bad := map[string]string{"x-api-key": s.wrongSecret(t)}
	answers := make([]answer, 60)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = s.send(http.MethodGet, "/v1/usage", "", nil, bad) })
	}
	wg.Wait()
	for i, a := range answers {
		require.NoError(t, a.err, i)
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusTooManyRequests}, a.status, "%d: %s", i, a.body)
	}
	counts := tally(answers)
	t.Logf("answers: %v", counts)
	require.LessOrEqual(t, counts[http.StatusUnauthorized], 21)
	require.GreaterOrEqual(t, counts[http.StatusTooManyRequests], 39)

	good := map[string]string{"x-api-key": s.key}
	a := s.send(http.MethodGet, "/v1/usage", "", nil, good)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusTooManyRequests, a.status, "the blocked address is refused before its key is checked")
	a = s.from(t, "127.0.0.2").send(http.MethodGet, "/v1/usage", "", nil, good)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
}

// TestRegistrationSaysWhatToFix: weak passwords and bad emails are
// refused in words that say what to fix, naming the field; spellings of
// one email are one account.
func TestRegistrationSaysWhatToFix(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	register := func(email, password string) answer {
		return s.send(http.MethodPost, "/v1/accounts", "application/json", jsonBody(t, map[string]any{"email": email, "password": password}), nil)
	}
	for _, tt := range []struct{ email, password, param, detail string }{
		{"ann@example.com", "aaaaaaaaaaaa", "password", `the password is "a" repeated; choose another`},
		{"ann@example.com", "password1234", "password", "the password is on a list of common passwords; choose another"},
		{"ann@example.com", strings.Repeat(" ", 12), "password", "the password is only spaces; choose another"},
		{"ann@example.com", "ann@example.com", "password", "the password is your email address; choose another"},
		{"ann@example.com", strings.Repeat("\U0001F600", 5), "password", "the password must be at least 12 characters long (it has 5)"},
		{"evil\u202emoc.elpmaxe@example.com", testPassword, "email", "the email contains an invisible or control character (U+202E)"},
	} {
		a := register(tt.email, tt.password)
		require.NoError(t, a.err)
		require.Equal(t, http.StatusBadRequest, a.status, "%s", a.body)
		require.Equal(t, "INVALID_REGISTRATION", a.problem.Code)
		require.Equal(t, tt.param, a.problem.Param, tt.detail)
		require.Contains(t, a.problem.Detail, tt.detail)
	}
	a := register("Jose\u0301@Example.COM", testPassword)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	var created struct{ Account struct{ Email string } }
	require.NoError(t, json.Unmarshal(a.body, &created))
	require.Equal(t, "Jos\u00e9@example.com", created.Account.Email, "as typed, NFC, the domain as DNS looks it up")
	a = register("JOS\u00c9@example.com", testPassword)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusConflict, a.status, "NFC and NFD, capitals or not: one account")
	token := s.signIn(t, "jos\u00e9@example.com")
	var got struct{ Account struct{ Email string } }
	resp := s.call(t, http.MethodGet, "/v1/account", nil, bearer(token), &got)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "Jos\u00e9@example.com", got.Account.Email, "the account keeps its spelling")
}

// TestAccountsFromBeforeNormalisationSignIn: an account whose email was
// stored as typed, before emails were normalised, still signs in.
func TestAccountsFromBeforeNormalisationSignIn(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	hash, err := auth.HashPassword(testPassword)
	require.NoError(t, err)
	require.NoError(t, s.app.Store().CreateAccount(context.Background(),
		store.Account{ID: "legacy", Email: "Legacy.User@Example.COM", PasswordHash: hash},
		store.APIKey{ID: "legacykey0000000", AccountID: "legacy", SecretHash: []byte{1}}))
	require.NotEmpty(t, s.signIn(t, "legacy.user@example.com"))
	require.NotEmpty(t, s.signIn(t, "Legacy.User@Example.COM"))
}

// TestErasurePasswordChecksAreThrottled: a stolen session cannot guess
// the password at erasure faster than signing in could.
func TestErasurePasswordChecksAreThrottled(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	session := bearer(s.signUpAndIn(t, "erase@example.com"))
	wrong := jsonBody(t, map[string]any{"password": "not the password at all"})
	var statuses []int
	for range 6 {
		a := s.send(http.MethodDelete, "/v1/account", "application/json", wrong, session)
		require.NoError(t, a.err)
		statuses = append(statuses, a.status)
	}
	require.Equal(t, []int{403, 403, 403, 403, 403, 429}, statuses)
	a := s.send(http.MethodDelete, "/v1/account", "application/json", jsonBody(t, map[string]any{"password": testPassword}), session)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusTooManyRequests, a.status, "right or not, the password waits its turn")
}
