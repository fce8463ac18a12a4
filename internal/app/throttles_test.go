package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/throttle"
)

// TestShortDeadlinesBuyNoHashes: registrations sent with a deadline too
// short to be answered are refused before their hash, so none makes an
// account, and, having cost nothing, none counts against the address.
func TestShortDeadlinesBuyNoHashes(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	client := enhancev1.NewAccountServiceClient(s.grpc)
	ctx := context.Background()
	before, err := s.app.Store().AccountCount(ctx)
	require.NoError(t, err)
	for i := range 8 {
		short, cancel := context.WithTimeout(ctx, 40*time.Millisecond)
		_, err := client.CreateAccount(short, &enhancev1.CreateAccountRequest{Email: fmt.Sprintf("hurried%d@example.com", i), Password: testPassword})
		cancel()
		require.Contains(t, []codes.Code{codes.ResourceExhausted, codes.DeadlineExceeded}, status.Code(err), "%d: %v", i, err)
	}
	after, err := s.app.Store().AccountCount(ctx)
	require.NoError(t, err)
	require.Equal(t, before, after, "no registration was worked on past its time")
	a := s.send(http.MethodPost, "/v1/accounts", "application/json",
		jsonBody(t, map[string]any{"email": "patient@example.com", "password": testPassword}), nil)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
}

// TestSignInFailuresAreCappedPerAccount: 20 addresses, each under its own
// limits, together get 100 wrong passwords at one account, then every
// address is refused on that account, and only on it.
func TestSignInFailuresAreCappedPerAccount(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	resp := s.call(t, http.MethodPost, "/v1/accounts", map[string]any{"email": "target@example.com", "password": testPassword}, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	wrong := jsonBody(t, map[string]any{"email": "target@example.com", "password": "not the password at all"})
	for i := range 20 {
		c := s.from(t, fmt.Sprintf("127.0.1.%d", i+1))
		for j := range 5 {
			a := c.send(http.MethodPost, "/v1/sessions", "application/json", wrong, nil)
			require.NoError(t, a.err)
			require.Equal(t, http.StatusUnauthorized, a.status, "%d/%d: %s", i, j, a.body)
		}
	}
	fresh := s.from(t, "127.0.2.1")
	a := fresh.send(http.MethodPost, "/v1/sessions", "application/json", wrong, nil)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusTooManyRequests, a.status, "%s", a.body)
	require.Contains(t, a.problem.Detail, "too many failed sign-ins for this account")
	a = fresh.send(http.MethodPost, "/v1/sessions", "application/json",
		jsonBody(t, map[string]any{"email": "other@example.com", "password": "not the password at all"}), nil)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusUnauthorized, a.status, "other accounts are not affected")
}

// TestBlockedAddressMakesNobodyBusy: a blocked address flooding sign-ins
// is refused on a read, before it takes a place in the hashing queue or
// waits for a turn to write, so that the owner, elsewhere, is served.
func TestBlockedAddressMakesNobodyBusy(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) { c.PasswordHashes = 2 })
	owner := s.from(t, "127.0.0.2")
	a := owner.send(http.MethodPost, "/v1/accounts", "application/json",
		jsonBody(t, map[string]any{"email": "owner@example.com", "password": testPassword}), nil)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	for i := range 25 { // 20 failures across accounts block the address
		a := s.send(http.MethodPost, "/v1/sessions", "application/json",
			jsonBody(t, map[string]any{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "not the password at all"}), nil)
		require.NoError(t, a.err)
	}
	flood := jsonBody(t, map[string]any{"email": "owner@example.com", "password": "not the password at all"})
	a = s.send(http.MethodPost, "/v1/sessions", "application/json", flood, nil)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Contains(t, a.problem.Detail, "too many failed sign-ins from this address")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s.send(http.MethodPost, "/v1/sessions", "application/json", flood, nil)
			}
		})
	}
	right := jsonBody(t, map[string]any{"email": "owner@example.com", "password": testPassword})
	var statuses []int
	for range 10 {
		a := owner.send(http.MethodPost, "/v1/sessions", "application/json", right, nil)
		require.NoError(t, a.err)
		statuses = append(statuses, a.status)
	}
	close(stop)
	wg.Wait()
	require.Equal(t, slices.Repeat([]int{http.StatusOK}, 10), statuses)
}

// TestRequestTimeoutStaysUnderTheThrottlesHold: a request may not run so
// long that its attempt in flight stops counting.
func TestRequestTimeoutStaysUnderTheThrottlesHold(t *testing.T) {
	t.Parallel()
	load := func(timeout string) error {
		_, err := config.Load([]string{"--data-dir", t.TempDir(), "--request-timeout", timeout}, func(string) string { return "" }, io.Discard)
		return err
	}
	err := load(throttle.Hold.String())
	require.Error(t, err)
	require.Contains(t, err.Error(), "--request-timeout must be under 10m0s")
	require.Error(t, load("1h"))
	require.NoError(t, load("9m"))
}
