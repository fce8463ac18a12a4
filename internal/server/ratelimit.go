package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/smartimage/enhance/internal/access"
	"github.com/smartimage/enhance/internal/admission"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/ratelimit"
)

// rateLimitUnary limits every call made with an API key, per key and per
// account, at the account plan's requests per minute, in two buckets:
// image calls, and the rest (usage, pricing, keys), so that a client
// backing off from images can still read its balance. Every answer says
// where the caller stands, in the IETF draft's RateLimit-Policy and
// RateLimit fields and the common X-RateLimit-Limit, -Remaining and
// -Reset (seconds until the quota is whole); a refusal is
// RESOURCE_EXHAUSTED / 429 with Retry-After. A refusal costs no quota:
// neither the limiter's own, nor a busy server's (admission.ErrBusy).
func rateLimitUnary(l ratelimit.Limiter, rules access.Table) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p, ok := auth.PrincipalFrom(ctx)
		if !ok || p.KeyID == "" {
			return handler(ctx, req)
		}
		plan, ok := credits.Plans[p.Plan]
		if !ok {
			plan = credits.Plans["free"]
		}
		limit := plan.RequestsPerMinute
		rule, _ := rules.Lookup(info.FullMethod)
		bucket := rule.BucketOf()
		keyQuota, acctQuota := "key:"+p.KeyID+":"+bucket, "account:"+p.AccountID+":"+bucket
		d, err := l.Allow(ctx, keyQuota, limit)
		if err != nil {
			return nil, err
		}
		scope := "key"
		if d.Allowed {
			acct, err := l.Allow(ctx, acctQuota, limit)
			if err != nil {
				_ = l.Undo(ctx, keyQuota, limit)
				return nil, err
			}
			if !acct.Allowed || acct.Remaining < d.Remaining {
				d, scope = acct, "account"
			}
			if !acct.Allowed {
				// Refused after all: the key's share goes back. Giving
				// back is best effort here and below: a lost undo costs
				// the caller one request of quota, never a wrong answer.
				_ = l.Undo(ctx, keyQuota, limit)
			}
		}
		_ = grpc.SetHeader(ctx, rateLimitHeaders(d))
		if !d.Allowed {
			return nil, &ratelimit.LimitedError{Limit: limit, Per: scope, Plan: plan.Name, RetryAfter: max(d.RetryAfter, time.Second)}
		}
		resp, err := handler(ctx, req)
		if errors.Is(err, admission.ErrBusy) {
			// The server, not the caller, was short: its retry is free.
			_ = l.Undo(ctx, keyQuota, limit)
			_ = l.Undo(ctx, acctQuota, limit)
		}
		return resp, err
	}
}

func rateLimitHeaders(d ratelimit.Decision) metadata.MD {
	reset := strconv.Itoa(int((d.Reset + time.Second - 1) / time.Second))
	window := strconv.Itoa(int(ratelimit.Window / time.Second))
	return metadata.Pairs(
		"ratelimit-policy", fmt.Sprintf(`"minute";q=%d;w=%s`, d.Limit, window),
		"ratelimit", fmt.Sprintf(`"minute";r=%d;t=%s`, d.Remaining, reset),
		"x-ratelimit-limit", strconv.Itoa(d.Limit),
		"x-ratelimit-remaining", strconv.Itoa(d.Remaining),
		"x-ratelimit-reset", reset,
	)
}
