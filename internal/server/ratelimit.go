package server

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/ratelimit"
)

// rateLimitUnary limits every call made with an API key, per key and per
// account, at the account plan's requests per minute. Every answer says
// where the caller stands, in the IETF draft's RateLimit-Policy and
// RateLimit fields and the common X-RateLimit-Limit, -Remaining and
// -Reset (seconds until the quota is whole); a refusal is
// RESOURCE_EXHAUSTED / 429 with Retry-After.
func rateLimitUnary(l ratelimit.Limiter) grpc.UnaryServerInterceptor {
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
		d, err := l.Allow(ctx, "key:"+p.KeyID, limit)
		scope := "key"
		if err == nil && d.Allowed {
			var acct ratelimit.Decision
			if acct, err = l.Allow(ctx, "account:"+p.AccountID, limit); err == nil && (!acct.Allowed || acct.Remaining < d.Remaining) {
				d, scope = acct, "account"
			}
		}
		if err != nil {
			return nil, err
		}
		_ = grpc.SetHeader(ctx, rateLimitHeaders(d))
		if !d.Allowed {
			return nil, &ratelimit.LimitedError{Limit: limit, Per: scope, Plan: plan.Name, RetryAfter: max(d.RetryAfter, time.Second)}
		}
		return handler(ctx, req)
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
