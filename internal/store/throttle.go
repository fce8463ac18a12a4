package store

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"
)

// ThrottleCount is a key's counted attempts, as a Throttles
// implementation stores them. The rules that read and advance it are
// here once, so that every database applies ThrottleLimit alike; only
// storing the count and the attempts in flight is the database's.
type ThrottleCount struct {
	Attempts                  int
	WindowStart, BlockedUntil time.Time
}

// At is c as it stands at now: forgotten once both its window and its
// block are over.
func (c ThrottleCount) At(l ThrottleLimit, now time.Time) ThrottleCount {
	if c.Attempts > 0 && !now.Before(c.WindowStart.Add(l.Window)) && !now.Before(c.BlockedUntil) {
		return ThrottleCount{}
	}
	return c
}

// Refuses reports whether an attempt at now is refused, with pending
// attempts in flight, and for how long. Below the limit, attempts in
// flight count as counted ones; past it (a block that ended inside the
// window), one attempt at a time may pass.
func (c ThrottleCount) Refuses(l ThrottleLimit, pending int, now time.Time) (time.Duration, bool) {
	if now.Before(c.BlockedUntil) {
		return c.BlockedUntil.Sub(now), true
	}
	n := c.Attempts + pending
	if n < l.Limit || c.Attempts >= l.Limit && pending == 0 {
		return 0, false
	}
	// Refused for attempts in flight: say how long their failures would
	// block the key.
	return blockFor(l, n), true
}

// Counted is c with one more attempt counted at now.
func (c ThrottleCount) Counted(l ThrottleLimit, now time.Time) ThrottleCount {
	if c.Attempts == 0 {
		c.WindowStart = now
	}
	c.Attempts++
	if c.Attempts >= l.Limit {
		c.BlockedUntil = now.Add(blockFor(l, c.Attempts))
	}
	return c
}

// Expiry is when c says nothing any more, so that its row may be swept.
func (c ThrottleCount) Expiry(l ThrottleLimit) time.Time {
	end := c.WindowStart.Add(l.Window)
	if c.BlockedUntil.After(end) {
		return c.BlockedUntil
	}
	return end
}

// blockFor is how long the n-th counted attempt (n ≥ Limit) blocks.
func blockFor(l ThrottleLimit, n int) time.Duration {
	d := l.Block
	for i := l.Limit; i < n && d < l.MaxBlock; i++ {
		d *= 2
	}
	if l.MaxBlock > l.Block {
		d = min(d, l.MaxBlock)
	}
	return d
}

// CheckThrottleLimits refuses limits the rules cannot apply: a Throttles
// implementation checks them before it reads or writes anything.
func CheckThrottleLimits(limits []ThrottleLimit) error {
	seen := map[string]bool{}
	for _, l := range limits {
		if l.Key == "" || l.Limit < 1 || l.Window <= 0 || l.Block <= 0 || seen[l.Key] {
			return fmt.Errorf("store: bad throttle limit %+v (keys are unique, limits and durations positive)", l)
		}
		seen[l.Key] = true
	}
	return nil
}

// NewThrottleReservation is a random positive reservation id:
// reservations are made by every process sharing the database, and one
// settled late must never match another's.
func NewThrottleReservation() (int64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b[:]) >> 1), nil
}
