package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/requestid"
)

// The browser session: the dashboard signs in with POST /v1/sessions and
// X-Session-Cookie: true, and the session token then lives in an
// HttpOnly cookie that page scripts cannot read, so no credential is ever
// in reach of a script. The front handler turns the cookie back into the
// bearer token the gRPC server already checks, so the server knows
// nothing of cookies. A second cookie, readable by the page, holds a
// random CSRF token that every state-changing call must repeat in
// X-CSRF-Token (double submit): another site can make a browser send the
// cookies but can neither read this one nor set a custom header without a
// CORS preflight, which this server never grants. The __Host- prefix
// keeps a sibling subdomain from planting either cookie.
const (
	SessionCookie    = "__Host-enhance-session"
	CSRFCookie       = "__Host-enhance-csrf"
	CSRFHeader       = "X-Csrf-Token"
	CookieModeHeader = "X-Session-Cookie"
)

// HSTSValue is sent on every answer: this port only ever speaks HTTPS.
// Subdomains are the operator's to decide, so they are left out.
const HSTSValue = "max-age=31536000"

// tryItKeyLife bounds the key that a dashboard image call runs under:
// longer than any request may run, so that a call never outlives it.
const tryItKeyLife = 10 * time.Minute

// TryItKeyName is the display name of those keys, as the audit log and
// the ledger's key show them.
const TryItKeyName = "dashboard try-it"

// transportSecurity marks every HTTPS answer, API and pages alike: HSTS,
// and nosniff so that a browser never reads an answer (an image, a JSON
// error) as another type than the one it is labelled with.
func transportSecurity(w http.ResponseWriter) {
	w.Header().Set("Strict-Transport-Security", HSTSValue)
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

// browserSession handles the calls a browser makes with the session
// cookie, and reports whether it answered the request itself. A cookie
// sign-in or an image call is answered here; any other call carrying a
// usable cookie and no other credential goes on with the cookie's token
// as its bearer token. A cookie that fails the CSRF checks is not a
// credential: the call goes on without one and is refused (401) by the
// server like any other unauthenticated call, and audited as one.
func (g *Gateway) browserSession(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path == "/v1/sessions" && r.Header.Get(CookieModeHeader) != "" {
		if r.Method != http.MethodPost {
			return false
		}
		g.signInWithCookie(w, r)
		return true
	}
	token, ok := g.cookieToken(r)
	if !ok {
		return false
	}
	if r.URL.Path == "/v1/sessions/current" && r.Method == http.MethodDelete {
		// Signing out clears the cookies whatever the server answers: a
		// session already gone must not leave the browser stuck with it.
		clearCookies(w)
	}
	if r.Method == http.MethodPost && isImageRoute(r.URL.Path) {
		g.tryWithShortKey(w, r, token)
		return true
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return false
}

// cookieToken returns the session cookie's token when the request may use
// it: it carries no other credential, it comes from this server's own
// pages (Sec-Fetch-Site and Origin, where the browser sends them), and a
// state-changing method repeats the CSRF cookie in X-CSRF-Token.
func (g *Gateway) cookieToken(r *http.Request) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" || r.Header.Get("X-Api-Key") != "" || r.Header.Get("Authorization") != "" {
		return "", false
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	if why := crossSite(r, safe); why != "" {
		g.log.WarnContext(r.Context(), "session cookie ignored", "request_id", requestid.From(r.Context()), "why", why)
		return "", false
	}
	if !safe {
		csrf, err := r.Cookie(CSRFCookie)
		sent := r.Header.Get(CSRFHeader)
		if err != nil || csrf.Value == "" || subtle.ConstantTimeCompare([]byte(csrf.Value), []byte(sent)) != 1 {
			g.log.WarnContext(r.Context(), "session cookie ignored", "request_id", requestid.From(r.Context()),
				"why", "X-CSRF-Token missing or not the CSRF cookie's")
			return "", false
		}
	}
	if !printableASCII(c.Value) {
		return "", false
	}
	return c.Value, true
}

// crossSite says why a request does not come from this server's own
// pages, or "" when it may. Browsers send Sec-Fetch-Site and, on every
// state-changing fetch, Origin; a typed address (Sec-Fetch-Site: none)
// may only read.
func crossSite(r *http.Request, safe bool) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin":
	case "none":
		if !safe {
			return "Sec-Fetch-Site: none on a state-changing call"
		}
	default:
		return "Sec-Fetch-Site: " + site
	}
	if o := r.Header.Get("Origin"); o != "" && o != "https://"+r.Host {
		return "Origin " + o + " is not this server's"
	}
	return ""
}

// signInWithCookie is POST /v1/sessions with X-Session-Cookie: true. The
// call goes through the mux like any sign-in (throttles, audit and all);
// a success sets the two cookies and answers the usual body with the
// token left empty, so that a page's script never holds it.
func (g *Gateway) signInWithCookie(w http.ResponseWriter, r *http.Request) {
	if v := r.Header.Get(CookieModeHeader); v != "true" {
		writeProblem(w, r, http.StatusBadRequest, apierror.MalformedRequest, CookieModeHeader,
			CookieModeHeader+" must be true (the session token is then set as a cookie) or left out, not "+v)
		return
	}
	if why := crossSite(r, false); why != "" {
		writeProblem(w, r, http.StatusBadRequest, apierror.InvalidRequest, "Origin",
			"a session cookie is only set for this server's own pages: "+why)
		return
	}
	buf := &bufferedAnswer{header: http.Header{}}
	g.serveAPI(buf, r)
	var answer struct {
		Token      string `json:"token"`
		ExpireTime string `json:"expireTime"`
	}
	if buf.status != http.StatusOK || json.Unmarshal(buf.body.Bytes(), &answer) != nil || answer.Token == "" {
		buf.copyTo(w)
		return
	}
	expires, err := time.Parse(time.RFC3339Nano, answer.ExpireTime)
	if err != nil {
		g.writeStatus(w, r, status.New(codes.Internal, "gateway: unreadable session expiry "+answer.ExpireTime))
		return
	}
	var random [32]byte
	_, _ = rand.Read(random[:])
	age := int(time.Until(expires) / time.Second)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: answer.Token, Path: "/", MaxAge: age,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: base64.RawURLEncoding.EncodeToString(random[:]), Path: "/", MaxAge: age,
		Secure: true, SameSite: http.SameSiteStrictMode})
	answer.Token = ""
	buf.body.Reset()
	_ = json.NewEncoder(&buf.body).Encode(answer)
	buf.header.Del("Content-Length")
	buf.copyTo(w)
}

// clearCookies expires both cookies.
func clearCookies(w http.ResponseWriter) {
	for _, name := range []string{SessionCookie, CSRFCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
			Secure: true, HttpOnly: name == SessionCookie, SameSite: http.SameSiteStrictMode})
	}
}

// tryWithShortKey runs a dashboard image call. Image methods take an API
// key, never a session (a session's scopes are the owner's, not a
// client's), so the session creates a key for this one call, allowed only
// the operation asked for and expiring in minutes, and revokes it when the
// answer is written. The secret goes from the gRPC answer into this
// request's header and nowhere else. The call itself then takes the
// public route like any other: rate limits, credits and the ledger see a
// key of the account (named TryItKeyName), and the answer's
// X-Credits-Charged is what the panel shows.
func (g *Gateway) tryWithShortKey(w http.ResponseWriter, r *http.Request, token string) {
	md := metadata.Join(metadata.Pairs(requestid.Header, requestid.From(r.Context()), "authorization", "Bearer "+token),
		g.cfg.Proof.Metadata(clientIP(r)))
	ctx := metadata.NewOutgoingContext(r.Context(), md)
	keys := enhancev1.NewKeyServiceClient(g.cfg.Conn)
	created, err := keys.CreateKey(ctx, &enhancev1.CreateKeyRequest{
		DisplayName: TryItKeyName,
		Scopes:      []string{imageScopes[r.URL.Path]},
		ExpireTime:  timestamppb.New(time.Now().Add(tryItKeyLife)),
	})
	if err != nil {
		g.writeStatus(w, r, status.Convert(err))
		return
	}
	id := strings.TrimPrefix(created.GetApiKey().GetName(), "keys/")
	defer func() {
		// Revoked even when the caller has gone: the key must not outlive
		// the call by more than it must.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := keys.DeleteKey(dctx, &enhancev1.DeleteKeyRequest{KeyId: id}); err != nil {
			g.log.ErrorContext(r.Context(), "revoking a try-it key failed; it expires by itself",
				"request_id", requestid.From(r.Context()), "key_id", id, "err", err)
		}
	}()
	r.Header.Set("X-Api-Key", created.GetApiKey().GetSecret())
	g.serveAPI(w, r)
}

// imageScopes is the scope each image route's method asks for.
var imageScopes = map[string]string{
	"/v1/enhance":  auth.ScopeImagesEnhance,
	"/v1/upscale":  auth.ScopeImagesUpscale,
	"/v1/colorize": auth.ScopeImagesColorize,
}

// bufferedAnswer holds an answer so that it can be changed before it is
// sent.
type bufferedAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedAnswer) Header() http.Header { return b.header }

func (b *bufferedAnswer) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedAnswer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// copyTo sends the answer; a refusal is noted for the front handler's
// log line as writeProblem would have.
func (b *bufferedAnswer) copyTo(w http.ResponseWriter) {
	if rec, ok := w.(*refusalRecorder); ok && b.status >= 400 {
		var p Problem
		if json.Unmarshal(b.body.Bytes(), &p) == nil {
			rec.code, rec.detail = p.Code, p.Detail
		}
	}
	for k, vs := range b.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// serveDashboard serves the dashboard's pages, and reports whether the
// request was one: / and everything under /dashboard. They are read-only.
func (g *Gateway) serveDashboard(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	if g.cfg.Dashboard == nil || p != "/" && p != "/dashboard" && !strings.HasPrefix(p, "/dashboard/") {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return true
	}
	if !g.cfg.Dashboard.Serve(w, r) {
		writeError(w, r, http.StatusNotFound, apierror.NotFound, "no such page: "+p)
	}
	return true
}
