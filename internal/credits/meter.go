package credits

import (
	"context"
	"errors"
	"sync"
)

// Meter is one request's account with the ledger. The handler reserves
// the price once it knows it (an upscale's depends on the image size);
// the quota interceptor, which made the Meter, commits or refunds it when
// the handler returns, whatever happened.
type Meter struct {
	ledger                      *Ledger
	accountID, keyID, requestID string

	mu       sync.Mutex
	charge   Charge
	reserved bool
}

// NewMeter returns a Meter charging accountID through keyID.
func NewMeter(l *Ledger, accountID, keyID, requestID string) *Meter {
	return &Meter{ledger: l, accountID: accountID, keyID: keyID, requestID: requestID}
}

// ErrChargedTwice refuses a second reservation in one request.
var ErrChargedTwice = errors.New("credits: a request is charged once")

// Reserve takes the price of operation before the work starts.
func (m *Meter) Reserve(ctx context.Context, operation string, amount int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reserved {
		return ErrChargedTwice
	}
	c, err := m.ledger.Reserve(ctx, m.accountID, m.keyID, operation, m.requestID, amount)
	if err != nil {
		return err
	}
	m.charge, m.reserved = c, true
	return nil
}

// Charged returns the reservation, if the handler made one.
func (m *Meter) Charged() (Charge, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.charge, m.reserved
}

type meterKey struct{}

// WithMeter returns a context carrying m.
func WithMeter(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// MeterFrom returns the request's Meter.
func MeterFrom(ctx context.Context) (*Meter, bool) {
	m, ok := ctx.Value(meterKey{}).(*Meter)
	return m, ok
}
