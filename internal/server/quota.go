package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/store"
)

// commitRetryTimeout bounds the second try of a commit whose first
// failed for want of the database.
const commitRetryTimeout = 5 * time.Second

// Response metadata (REST headers of the same name) reporting a charge.
const (
	CreditsChargedHeader   = "x-credits-charged"
	CreditsRemainingHeader = "x-credits-remaining"
)

// quotaUnary gives every call made with an API key a credits.Meter. The
// handler reserves its price once it knows it; when the handler returns,
// the charge is committed on success and refunded on any failure, panics
// included (the refund runs while the panic unwinds to the recovery
// interceptor).
func quotaUnary(ledger *credits.Ledger, log *slog.Logger, metrics *Metrics) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		p, ok := auth.PrincipalFrom(ctx)
		if !ok || p.KeyID == "" {
			return handler(ctx, req)
		}
		meter := credits.NewMeter(ledger, p.AccountID, p.KeyID, requestid.From(ctx))
		settled := false
		// refundReason is why a charge is refunded, if it is: any
		// failure of the handler (a panic included) unless said below.
		refundReason := refundFailed
		defer func() {
			if settled {
				return
			}
			if c, ok := meter.Charged(); ok {
				if rerr := ledger.Refund(c); rerr != nil {
					log.ErrorContext(ctx, "refund failed; the stale-charge sweep will return it",
						"request_id", requestid.From(ctx), "err", rerr)
				} else {
					metrics.refund(c.Operation(), refundReason, c.Amount())
				}
			}
		}()
		resp, err = handler(credits.WithMeter(ctx, meter), req)
		c, charged := meter.Charged()
		if !charged {
			settled = true
			return resp, err
		}
		if err != nil && ctx.Err() != nil {
			refundReason = refundCanceled
		}
		if err == nil {
			refundReason = refundCommitFailed
			cerr := ledger.Commit(context.WithoutCancel(ctx), c)
			if errors.Is(cerr, store.ErrUnavailable) {
				// The reply may be what was lost, the commit landed: a
				// commit of a final charge succeeds (store.Ledger.Settle),
				// so one more delivers the answer the charge paid for.
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitRetryTimeout)
				cerr = ledger.Commit(cctx, c)
				cancel()
			}
			if cerr != nil {
				// The deferred refund returns the charge; the error
				// interceptor logs the cause and answers INTERNAL.
				return nil, fmt.Errorf("server: commit a charge: %w", cerr)
			}
			settled = true
			metrics.charge(c.Operation(), c.Amount())
			if r := recordFrom(ctx); r != nil {
				r.charged(c.Amount())
			}
			_ = grpc.SetHeader(ctx, metadata.Pairs(
				CreditsChargedHeader, strconv.Itoa(c.Amount()),
				CreditsRemainingHeader, strconv.Itoa(c.Remaining),
			))
		}
		return resp, err
	}
}
