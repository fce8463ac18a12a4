package app

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/dashboard"
	"github.com/smartimage/enhance/internal/gateway"
)

// TestDashboardPagesAndHeaders: every page is served with the security
// headers and holds no inline script, style or event handler (which the
// CSP would block anyway); every answer, API and pages, has HSTS; the
// dashboard's paths only read.
func TestDashboardPagesAndHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	scripts := regexp.MustCompile(`(?i)<script[^>]*>[^<]*</script>`)
	inline := regexp.MustCompile(`(?i)\son[a-z]+\s*=|\sstyle\s*=|<style|javascript:`)
	for _, page := range dashboard.Pages {
		a := s.send(http.MethodGet, "/dashboard/"+page, "", nil, nil)
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status, page)
		require.Equal(t, "text/html; charset=utf-8", a.header.Get("Content-Type"), page)
		require.Equal(t, dashboard.ContentSecurityPolicy, a.header.Get("Content-Security-Policy"), page)
		require.Contains(t, a.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		require.NotContains(t, a.header.Get("Content-Security-Policy"), "unsafe-")
		require.Equal(t, "nosniff", a.header.Get("X-Content-Type-Options"), page)
		require.Equal(t, "DENY", a.header.Get("X-Frame-Options"), page)
		require.Equal(t, "no-referrer", a.header.Get("Referrer-Policy"), page)
		require.Equal(t, gateway.HSTSValue, a.header.Get("Strict-Transport-Security"), page)
		require.NotRegexp(t, inline, string(a.body), "%s: inline style or event handler", page)
		require.Equal(t, []string{`<script type="module" src="/dashboard/assets/js/main.js"></script>`},
			scripts.FindAllString(string(a.body), -1), "%s: one script, from a file", page)
		require.Equal(t, 1, strings.Count(strings.ToLower(string(a.body)), "<script"), page)
	}
	for _, asset := range []string{"/dashboard/assets/js/main.js", "/dashboard/assets/style.css"} {
		a := s.send(http.MethodGet, asset, "", nil, nil)
		require.Equal(t, http.StatusOK, a.status, asset)
		require.Equal(t, "nosniff", a.header.Get("X-Content-Type-Options"))
		// Revalidated by its ETag, so a new build never meets an old script.
		etag := a.header.Get("ETag")
		require.NotEmpty(t, etag)
		again := s.send(http.MethodGet, asset, "", nil, map[string]string{"If-None-Match": etag})
		require.Equal(t, http.StatusNotModified, again.status, asset)
	}
	require.Equal(t, "text/javascript; charset=utf-8", s.send(http.MethodGet, "/dashboard/assets/js/main.js", "", nil, nil).header.Get("Content-Type"))

	// / and /dashboard lead to the keys page.
	noRedirect := *s.http
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, p := range []string{"/", "/dashboard", "/dashboard/"} {
		resp, err := noRedirect.Get(s.base + p)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode, p)
		require.Equal(t, "/dashboard/keys", resp.Header.Get("Location"), p)
	}

	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/dashboard/nothing"},
		{http.MethodGet, "/dashboard/assets/keys.html"}, // pages only by their own path
		{http.MethodGet, "/dashboard/assets/js/nothing.js"},
	} {
		a := s.send(tt.method, tt.path, "", nil, nil)
		require.Equal(t, http.StatusNotFound, a.status, tt.path)
		require.Equal(t, "NOT_FOUND", a.problem.Code, tt.path)
	}
	a := s.send(http.MethodPost, "/dashboard/keys", "text/plain", []byte("x"), nil)
	require.Equal(t, http.StatusMethodNotAllowed, a.status)
	require.Equal(t, "GET, HEAD", a.header.Get("Allow"))

	// HSTS and nosniff on API answers too, successes and refusals.
	for _, path := range []string{"/healthz", "/v1/usage", "/v1/nothing"} {
		a := s.send(http.MethodGet, path, "", nil, nil)
		require.Equal(t, gateway.HSTSValue, a.header.Get("Strict-Transport-Security"), path)
		require.Equal(t, "nosniff", a.header.Get("X-Content-Type-Options"), path)
	}
}

// browser is what a browser sends with the dashboard's cookies.
type browser struct {
	session, csrf string
	origin        string
}

func (b browser) headers(extra map[string]string) map[string]string {
	h := map[string]string{
		"Cookie":         gateway.SessionCookie + "=" + b.session + "; " + gateway.CSRFCookie + "=" + b.csrf,
		"Origin":         b.origin,
		"Sec-Fetch-Site": "same-origin",
		"X-CSRF-Token":   b.csrf,
	}
	for k, v := range extra {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

// signInBrowser signs in as the dashboard does and checks the cookies.
func (s *testServer) signInBrowser(t *testing.T, email string) browser {
	t.Helper()
	body, err := json.Marshal(map[string]string{"email": email, "password": testPassword})
	require.NoError(t, err)
	a := s.send(http.MethodPost, "/v1/sessions", "application/json", body,
		map[string]string{gateway.CookieModeHeader: "true", "Origin": s.base, "Sec-Fetch-Site": "same-origin"})
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	var out struct {
		Token      string `json:"token"`
		ExpireTime string `json:"expireTime"`
	}
	require.NoError(t, json.Unmarshal(a.body, &out))
	require.Empty(t, out.Token, "the token is in the HttpOnly cookie, out of scripts' reach")
	require.NotEmpty(t, out.ExpireTime)
	b := browser{origin: s.base}
	resp := http.Response{Header: a.header}
	for _, c := range resp.Cookies() {
		require.True(t, c.Secure, c.Name)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite, c.Name)
		require.Equal(t, "/", c.Path, c.Name)
		require.Empty(t, c.Domain, c.Name)
		require.Greater(t, c.MaxAge, 3000, c.Name)
		switch c.Name {
		case gateway.SessionCookie:
			require.True(t, c.HttpOnly, "scripts cannot read the session cookie")
			b.session = c.Value
		case gateway.CSRFCookie:
			require.False(t, c.HttpOnly, "the page's script reads the CSRF cookie to repeat it")
			b.csrf = c.Value
		}
	}
	require.NotEmpty(t, b.session)
	require.Len(t, b.csrf, 43, "32 random bytes, base64url")
	return b
}

// TestSessionCookieAndCSRF: the cookie is a session for the API, but only
// from this server's own pages, and a state-changing call only with the
// CSRF token repeated in its header; anything else is answered as a call
// with no credential. Bearer tokens and keys are unaffected.
func TestSessionCookieAndCSRF(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.signUpAndIn(t, "browser@example.com")
	b := s.signInBrowser(t, "browser@example.com")
	create, err := json.Marshal(map[string]any{"displayName": "from the browser", "scopes": []string{"usage:read"}})
	require.NoError(t, err)

	a := s.send(http.MethodGet, "/v1/keys", "", nil, b.headers(map[string]string{"X-CSRF-Token": ""}))
	require.Equal(t, http.StatusOK, a.status, "a read needs no CSRF token: %s", a.body)
	a = s.send(http.MethodPost, "/v1/keys", "application/json", create, b.headers(nil))
	require.Equal(t, http.StatusOK, a.status, string(a.body))

	for _, tt := range []struct {
		name   string
		method string
		extra  map[string]string
	}{
		{"no CSRF header", http.MethodPost, map[string]string{"X-CSRF-Token": ""}},
		{"a wrong CSRF header", http.MethodPost, map[string]string{"X-CSRF-Token": strings.Repeat("A", 43)}},
		{"no CSRF cookie", http.MethodPost, map[string]string{"Cookie": gateway.SessionCookie + "=" + b.session}},
		{"another origin", http.MethodPost, map[string]string{"Origin": "https://evil.example"}},
		{"a cross-site fetch", http.MethodPost, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"a cross-site read", http.MethodGet, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"a same-site read", http.MethodGet, map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"a typed address that changes state", http.MethodPost, map[string]string{"Sec-Fetch-Site": "none"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.method == http.MethodPost {
				body = create
			}
			a := s.send(tt.method, "/v1/keys", "application/json", body, b.headers(tt.extra))
			require.NoError(t, a.err)
			require.Equal(t, http.StatusUnauthorized, a.status, string(a.body))
			require.Equal(t, "UNAUTHENTICATED", a.problem.Code)
		})
	}

	// A bearer token or a key wins over the cookie, and needs no CSRF token.
	token := s.signIn(t, "browser@example.com")
	a = s.send(http.MethodPost, "/v1/keys", "application/json", create, b.headers(map[string]string{"Authorization": "Bearer " + token, "X-CSRF-Token": ""}))
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	a = s.send(http.MethodPost, "/v1/keys", "application/json", create, b.headers(map[string]string{"Authorization": "Bearer sie_wrong", "X-CSRF-Token": ""}))
	require.Equal(t, http.StatusUnauthorized, a.status, "a bad bearer token is not rescued by the cookie")

	// Cookie mode is asked for exactly, and only from this server's pages.
	signin, err := json.Marshal(map[string]string{"email": "browser@example.com", "password": testPassword})
	require.NoError(t, err)
	a = s.send(http.MethodPost, "/v1/sessions", "application/json", signin, map[string]string{gateway.CookieModeHeader: "yes"})
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Equal(t, gateway.CookieModeHeader, a.problem.Param)
	a = s.send(http.MethodPost, "/v1/sessions", "application/json", signin, map[string]string{gateway.CookieModeHeader: "true", "Origin": "https://evil.example"})
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Empty(t, a.header.Values("Set-Cookie"))
	wrong, err := json.Marshal(map[string]string{"email": "browser@example.com", "password": "not the password at all"})
	require.NoError(t, err)
	a = s.send(http.MethodPost, "/v1/sessions", "application/json", wrong, map[string]string{gateway.CookieModeHeader: "true"})
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, "BAD_CREDENTIALS", a.problem.Code)
	require.Empty(t, a.header.Values("Set-Cookie"))

	// Signing out ends the session and clears both cookies.
	a = s.send(http.MethodDelete, "/v1/sessions/current", "", nil, b.headers(nil))
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	cleared := map[string]bool{}
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		require.Equal(t, -1, c.MaxAge, c.Name)
		cleared[c.Name] = true
	}
	require.Equal(t, map[string]bool{gateway.SessionCookie: true, gateway.CSRFCookie: true}, cleared)
	a = s.send(http.MethodGet, "/v1/keys", "", nil, b.headers(nil))
	require.Equal(t, http.StatusUnauthorized, a.status, "the session is over on the server too")
}

// TestDashboardTryItChargesLikeAKey: an image call made with the cookie
// runs under a key made for it (allowed that one operation, named
// gateway.TryItKeyName) and revoked after, is charged to the account and
// named in its ledger, and never shows the key's secret.
func TestDashboardTryItChargesLikeAKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	token := s.signUpAndIn(t, "tryit@example.com")
	b := s.signInBrowser(t, "tryit@example.com")
	png := tinyPNG(t, 32, 32)

	a := s.send(http.MethodPost, "/v1/enhance?outputFormat=png", "image/png", png, b.headers(map[string]string{"X-CSRF-Token": ""}))
	require.Equal(t, http.StatusUnauthorized, a.status, "an image call changes state: it needs the CSRF token")

	a = s.send(http.MethodPost, "/v1/enhance?outputFormat=png", "image/png", png, b.headers(nil))
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	require.Equal(t, "image/png", a.header.Get("Content-Type"))
	require.Equal(t, "1", a.header.Get("X-Credits-Charged"))
	require.Equal(t, "49", a.header.Get("X-Credits-Remaining"))
	for name, vs := range a.header {
		for _, v := range vs {
			require.NotContains(t, v, "sie_", "header %s shows a key", name)
		}
	}

	var usage struct {
		CreditsUsed int `json:"creditsUsed"`
		Entries     []struct {
			Key, Operation, State string
			Credits               int
		} `json:"entries"`
	}
	resp := s.call(t, http.MethodGet, "/v1/usage", nil, bearer(token), &usage)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, usage.CreditsUsed)
	require.Len(t, usage.Entries, 1)
	require.Equal(t, "enhance", usage.Entries[0].Operation)
	require.Equal(t, "final", usage.Entries[0].State)
	keyID := strings.TrimPrefix(usage.Entries[0].Key, "keys/")
	require.NotEmpty(t, keyID)

	// The key is gone from the live list, revoked in the store, and was
	// allowed only enhance.
	var keys struct {
		APIKeys []apiKey `json:"apiKeys"`
	}
	s.call(t, http.MethodGet, "/v1/keys", nil, bearer(token), &keys).Body.Close()
	for _, k := range keys.APIKeys {
		require.NotEqual(t, "keys/"+keyID, k.Name)
	}
	k, err := s.app.Store().APIKey(context.Background(), keyID)
	require.NoError(t, err)
	require.Equal(t, gateway.TryItKeyName, k.DisplayName)
	require.Equal(t, []string{"images:enhance"}, k.Scopes)
	require.False(t, k.RevokeTime.IsZero(), "revoked once the answer is written")
	require.WithinDuration(t, k.CreateTime, k.ExpireTime, 11*60e9, "and it expires by itself within minutes")

	// A refused call (a bad option) is not charged, and its key is revoked too.
	a = s.send(http.MethodPost, "/v1/upscale?scaleFactor=9", "image/png", png, b.headers(nil))
	require.Equal(t, http.StatusBadRequest, a.status)
	s.call(t, http.MethodGet, "/v1/usage", nil, bearer(token), &usage).Body.Close()
	require.Equal(t, 1, usage.CreditsUsed)
	all, err := s.app.Store().AllAPIKeys(context.Background(), k.AccountID)
	require.NoError(t, err)
	for _, k := range all {
		if k.DisplayName == gateway.TryItKeyName {
			require.False(t, k.RevokeTime.IsZero(), "try-it key %s left live", k.ID)
		}
	}
}
