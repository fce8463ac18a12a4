package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/smartimage/enhance/internal/access"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/clientaddr"
	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/throttle"
)

// APIKeyHeader is the metadata key (and HTTP header) carrying the key.
const APIKeyHeader = "x-api-key"

// authFailures: failed authentications per client address (its
// clientaddr.Bucket: an IPv6 client's /64). More than 20
// in a minute (the 21st) block the address for five minutes.
var authFailures = throttle.Rule{Name: "auth-address", What: "failed authentications from this address",
	Limit: 21, Window: time.Minute, Block: 5 * time.Minute}

// failTimeout bounds the write that counts a failed authentication, which
// runs even when the request has ended.
const failTimeout = 10 * time.Second

type authenticator struct {
	verifier *auth.Verifier
	store    authStore
	access   access.Table
	throttle *throttle.Throttle
	log      *slog.Logger
	metrics  *Metrics
}

// newAuthenticator returns the authentication interceptor's state.
func newAuthenticator(verifier *auth.Verifier, db authStore, rules access.Table, log *slog.Logger) (*authenticator, error) {
	t, err := throttle.New(db, nil)
	if err != nil {
		return nil, err
	}
	return &authenticator{verifier: verifier, store: db, access: rules, throttle: t, log: log}, nil
}

// authenticate verifies the request's credential. Checking a key costs
// less than a reservation in the database would (an HMAC, at most one
// indexed read), so unlike a password the key is checked first and the
// throttle asked after, in one step each way: a failure is counted only
// if the address may still fail (throttle.Fail), and a success passes
// only if it may still try (throttle.Check). Either way the outcome is
// decided at one point, against counts that every attempt before it has
// already changed, so that requests in flight together learn no more
// than the limit's worth of wrong keys: past it, right and wrong keys
// alike are answered 429. A success costs one read; a failure from a
// blocked address is refused on a read too, before it is logged, audited
// or written, so that a flood from it holds no database lock.
func (a *authenticator) authenticate(ctx context.Context) (context.Context, error) {
	method, _ := grpc.Method(ctx)
	rule, known := a.access.Lookup(method)
	if !known {
		// A method nobody gave a rule is refused, not opened.
		return nil, apierror.New(codes.Unimplemented, apierror.Unimplemented, "unknown method "+method, "", 0).Err()
	}
	client := clientaddr.From(ctx)
	limit := authFailures.On(clientaddr.Bucket(client))
	key, bearer := presented(ctx)
	var (
		p   auth.Principal
		err error
	)
	if key == "" && bearer != "" {
		p, err = a.verifier.VerifySession(ctx, bearer)
	} else {
		p, err = a.verifier.VerifyKey(ctx, key)
	}
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			a.metrics.authFailed(auth.Reason(err))
			if r := recordFrom(ctx); r != nil {
				r.attempted(auth.IDHint(key + bearer))
			}
			if terr := a.throttle.Check(ctx, limit); terr != nil {
				return nil, terr
			}
			a.failed(ctx, client, key+bearer, err)
			// Counted whatever becomes of the request now: a deadline
			// ending between the audit and the count must not leave a
			// failure on record that the throttle never saw.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failTimeout)
			terr := a.throttle.Fail(fctx, limit)
			cancel()
			if terr != nil {
				return nil, terr
			}
		}
		// Unauthenticated or not (a database failure), the error
		// interceptor says only what the caller may know.
		return nil, err
	}
	if err := a.throttle.Check(ctx, limit); err != nil {
		return nil, err
	}
	if r := recordFrom(ctx); r != nil {
		r.principal(p)
	}
	if rule.SessionOnly && p.SessionID == "" {
		a.metrics.authFailed(auth.ReasonMissingScope)
		return nil, auth.ErrSessionRequired
	}
	if rule.Scope != "" && !p.Has(rule.Scope) {
		a.metrics.authFailed(auth.ReasonMissingScope)
		return nil, &auth.ScopeError{Scope: rule.Scope, Session: p.SessionID != ""}
	}
	return auth.WithPrincipal(ctx, p), nil
}

// failed logs and audits a failed authentication. The raw credential is
// never logged: it may be a real key with one typo.
func (a *authenticator) failed(ctx context.Context, client, raw string, reason error) {
	keyID := auth.IDHint(raw)
	a.log.WarnContext(ctx, "authentication failed",
		"request_id", requestid.From(ctx), "client", client, "key_id", keyID, "reason", reason.Error())
	event := store.AuditEvent{
		Time: time.Now().UTC(), Kind: "auth.failed", ClientAddress: client,
		Reason: strings.TrimPrefix(reason.Error(), auth.ErrUnauthenticated.Error()+": "),
	}
	// The owner of a key id sees attempts made with it; attempts naming
	// no known key are kept without an account.
	if keyID != "" && strings.HasPrefix(raw, string(auth.APIKey)+"_") {
		if k, err := a.store.APIKey(ctx, keyID); err == nil {
			event.AccountID, event.KeyID = k.AccountID, keyID
		}
	}
	if err := a.store.RecordAudit(ctx, event); err != nil {
		a.log.ErrorContext(ctx, "audit write failed", "request_id", requestid.From(ctx), "err", err)
	}
}

// presented returns the x-api-key value and the Authorization bearer
// token of the request, either possibly empty.
func presented(ctx context.Context) (key, bearer string) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(APIKeyHeader); len(v) > 0 {
		key = v[0]
	}
	if v := md.Get("authorization"); len(v) > 0 {
		if t, ok := strings.CutPrefix(v[0], "Bearer "); ok {
			bearer = strings.TrimSpace(t)
		}
	}
	return key, bearer
}
