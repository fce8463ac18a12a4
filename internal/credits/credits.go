// Package credits is what the service charges: plans and their monthly
// grants, the price of each operation, and the ledger through which every
// request reserves its price before the work, commits it on success and
// gets it back on any failure.
package credits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/smartimage/enhance/internal/store"
)

// Plan is what an account pays for.
type Plan struct {
	Name string
	// MonthlyCredits is granted on the first of every month (UTC); unused
	// credits do not carry over.
	MonthlyCredits int
	// RequestsPerMinute is the default rate limit of each key and of the
	// whole account.
	RequestsPerMinute int
}

// Plans lists every plan by name.
var Plans = map[string]Plan{
	"free":     {Name: "free", MonthlyCredits: 50, RequestsPerMinute: 60},
	"pro":      {Name: "pro", MonthlyCredits: 5000, RequestsPerMinute: 600},
	"business": {Name: "business", MonthlyCredits: 50000, RequestsPerMinute: 3000},
	// enterprise is set by an operator for contracts and internal
	// callers whose volume the others do not fit.
	"enterprise": {Name: "enterprise", MonthlyCredits: 1_000_000, RequestsPerMinute: 60000},
}

func planGrants() map[string]int {
	g := make(map[string]int, len(Plans))
	for name, p := range Plans {
		g[name] = p.MonthlyCredits
	}
	return g
}

// Operations and their prices.
const (
	OpEnhance  = "enhance"
	OpUpscale  = "upscale"
	OpColorize = "colorize"

	PriceEnhance  = 1
	PriceColorize = 1
	// UpscalePixelsPerCredit: an upscale costs one credit per started
	// 8 megapixels of output, so ×2 of a phone snapshot costs 1 and ×4 of
	// a 12 MP photo costs 24.
	UpscalePixelsPerCredit = 8_000_000
)

// UpscalePrice is the price of an upscale to outPixels.
func UpscalePrice(outPixels int) int {
	return max(1, int(math.Ceil(float64(outPixels)/UpscalePixelsPerCredit)))
}

// PeriodOf returns the calendar month (UTC) containing t.
func PeriodOf(t time.Time) (start, end time.Time) {
	t = t.UTC()
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// ErrExhausted is wrapped by every ExhaustedError.
var ErrExhausted = errors.New("out of credits")

// ExhaustedError is a charge refused for want of credits; its message
// says when they renew.
type ExhaustedError struct {
	Needed, Remaining int
	RenewTime         time.Time
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("out of credits: this request costs %d and %d remain; credits renew on %s",
		e.Needed, e.Remaining, e.RenewTime.Format("2006-01-02 15:04 UTC"))
}

// Unwrap makes errors.Is(err, ErrExhausted) hold.
func (e *ExhaustedError) Unwrap() error { return ErrExhausted }

// Store is the part of the database the ledger uses: the ledger itself,
// and the accounts whose plans set the grants.
type Store interface {
	store.Ledger
	store.Accounts
}

// Ledger charges accounts.
type Ledger struct {
	store Store
	now   func() time.Time
	// instance names this server process on its pending charges, so that
	// they are refunded at once if it dies (store.Instances).
	instance string
}

// NewLedger returns a Ledger whose reservations name the server process
// instance ("" for tools that reserve nothing); now is the clock
// (time.Now when nil).
func NewLedger(s Store, instance string, now func() time.Time) (*Ledger, error) {
	if s == nil {
		return nil, errors.New("credits: nil store")
	}
	if now == nil {
		now = time.Now
	}
	return &Ledger{store: s, now: now, instance: instance}, nil
}

// Charge is a reserved price, to be committed or refunded.
type Charge struct {
	entry     store.LedgerEntry
	Remaining int
}

// Amount is the reserved price.
func (c Charge) Amount() int { return c.entry.Amount }

// Operation is what the charge paid for (OpEnhance ...).
func (c Charge) Operation() string { return c.entry.Operation }

// Reserve takes amount from the account's current period before the
// work starts; an *ExhaustedError when the balance does not cover it.
func (l *Ledger) Reserve(ctx context.Context, accountID, keyID, operation, requestID string, amount int) (Charge, error) {
	now := l.now().UTC()
	start, end := PeriodOf(now)
	entry, bal, err := l.store.Reserve(ctx, store.LedgerEntry{
		AccountID: accountID, KeyID: keyID, PeriodStart: start, Amount: amount,
		Operation: operation, RequestID: requestID, Time: now, Instance: l.instance,
	}, planGrants())
	if errors.Is(err, store.ErrInsufficientCredits) {
		return Charge{}, &ExhaustedError{Needed: amount, Remaining: max(0, bal.Remaining()), RenewTime: end}
	}
	if err != nil {
		return Charge{}, err
	}
	return Charge{entry: entry, Remaining: bal.Remaining()}, nil
}

// Commit makes a charge final.
func (l *Ledger) Commit(ctx context.Context, c Charge) error {
	return l.store.Settle(ctx, c.entry.ID, true, l.now().UTC())
}

// Refund returns a charge. It uses its own context: a refund must happen
// even when the request's context is cancelled or past its deadline.
func (l *Ledger) Refund(c Charge) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return l.store.Settle(ctx, c.entry.ID, false, l.now().UTC())
}

// RefundStale refunds charges left pending by a server that died, older
// than maxAge (longer than any request may run).
func (l *Ledger) RefundStale(ctx context.Context, maxAge time.Duration) (int, error) {
	now := l.now().UTC()
	return l.store.RefundStale(ctx, now.Add(-maxAge), now)
}

// RefundInterrupted refunds the pending charges of the server process
// instance, which has died.
func (l *Ledger) RefundInterrupted(ctx context.Context, instance string) (int, error) {
	return l.store.RefundInterrupted(ctx, instance, l.now().UTC())
}

// Usage is an account's current period.
type Usage struct {
	PeriodStart, PeriodEnd time.Time
	Plan                   string
	store.Balance
}

// Usage returns the account's standing in the current period.
func (l *Ledger) Usage(ctx context.Context, accountID string) (Usage, error) {
	start, end := PeriodOf(l.now())
	acct, err := l.store.Account(ctx, accountID)
	if err != nil {
		return Usage{}, err
	}
	bal, err := l.store.Balance(ctx, accountID, start, planGrants())
	if err != nil {
		return Usage{}, err
	}
	return Usage{PeriodStart: start, PeriodEnd: end, Plan: acct.Plan, Balance: bal}, nil
}

// Entries pages through the current period's ledger.
func (l *Ledger) Entries(ctx context.Context, accountID string, after int64, limit int) ([]store.LedgerEntry, error) {
	start, _ := PeriodOf(l.now())
	return l.store.LedgerEntries(ctx, accountID, start, after, limit)
}

// ErrUnknownPlan refuses a plan that is not in Plans.
var ErrUnknownPlan = errors.New("unknown plan")

// SetPlan moves an account to a plan (an operator's action).
func (l *Ledger) SetPlan(ctx context.Context, accountID, plan string) error {
	if _, ok := Plans[plan]; !ok {
		return fmt.Errorf("%w %q", ErrUnknownPlan, plan)
	}
	return l.store.SetPlan(ctx, accountID, plan)
}

// Grant gives an account extra credits for the current period.
func (l *Ledger) Grant(ctx context.Context, accountID string, amount int, reason string) error {
	if amount <= 0 {
		return errors.New("credits: a grant must be positive")
	}
	now := l.now().UTC()
	start, _ := PeriodOf(now)
	return l.store.Grant(ctx, store.LedgerEntry{AccountID: accountID, PeriodStart: start, Amount: amount, Operation: reason, Time: now})
}
