// Package admission bounds the image work a server takes on, by count and
// by memory. A request first takes a place (Admit): workers+queue places
// exist, and a request that finds none is turned away at once instead of
// piling up memory and latency. Once its source is read and its weight
// known, it waits its turn (Ticket.Start) for a worker and for its weight
// in bytes out of the memory budget; the images being worked on never
// hold more than the budget together, however many workers are free.
// Turns are strictly first come, first served, so a large image is never
// starved by a stream of small ones; an image heavier than the whole
// budget is refused (ErrTooHeavy) rather than left waiting forever.
package admission

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy: every worker is taken and the queue is full. Retrying after a
// moment is the right answer.
var ErrBusy = errors.New("the server is busy")

// BusyError says how full the server was when it refused a request.
type BusyError struct {
	Workers, Queue int
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%v: all %d image workers are taken and %d requests are already waiting; retry shortly", ErrBusy, e.Workers, e.Queue)
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// RetryDelay is a fair first guess for a retry: a worker frees up within
// an image's time, and a second spreads the retries out.
func (e *BusyError) RetryDelay() time.Duration { return time.Second }

// ErrTooHeavy: an image needs more memory than the whole budget, so no
// amount of waiting would let it run. Retrying will not help.
var ErrTooHeavy = errors.New("the image needs more memory than the server may use for images")

// TooHeavyError names the weight and the budget it exceeds, in words a
// caller can act on (a smaller image, a smaller scale factor).
type TooHeavyError struct {
	Weight, Budget int64
}

func (e *TooHeavyError) Error() string {
	return fmt.Sprintf("processing it needs about %s of memory; the memory budget for images is %s", Bytes(e.Weight), Bytes(e.Budget))
}

// Is makes errors.Is(err, ErrTooHeavy) true.
func (e *TooHeavyError) Is(target error) bool { return target == ErrTooHeavy }

// Config sizes a Gate.
type Config struct {
	// Workers is how many images are worked on at once.
	Workers int
	// Queue is how many more admitted requests may wait.
	Queue int
	// Budget is the memory, in bytes, that the images being worked on may
	// hold together (the sum of their weights).
	Budget int64
}

// Gate admits image requests. A request first takes a place (Admit),
// which is refused when workers+queue places are all held, and then waits
// for a worker and its weight (Ticket.Start) only when it is ready to
// spend CPU and memory, so a request still downloading its source holds a
// place but neither a worker nor memory.
type Gate struct {
	cfg    Config
	places chan struct{}

	mu       sync.Mutex
	working  int
	reserved int64
	waiting  list.List // of *turn, first come first served

	refused atomic.Int64
	// queued, when set (by tests), is called each time a Start joins the
	// line, after it has.
	queued func()
}

// turn is one Start waiting for a worker and weight bytes; ready is
// closed when both are granted to it.
type turn struct {
	weight int64
	ready  chan struct{}
}

// New returns a Gate after checking cfg.
func New(cfg Config) (*Gate, error) {
	if cfg.Workers <= 0 || cfg.Queue < 0 {
		return nil, errors.New("admission: workers must be positive and queue not negative")
	}
	if cfg.Budget <= 0 {
		return nil, errors.New("admission: the memory budget must be positive")
	}
	return &Gate{cfg: cfg, places: make(chan struct{}, cfg.Workers+cfg.Queue)}, nil
}

// Ticket is one admitted request. Done must be called exactly once.
type Ticket struct {
	gate    *Gate
	weight  int64
	working bool
	done    bool
}

// Admit takes a place for a request, or returns a *BusyError at once.
func (g *Gate) Admit() (*Ticket, error) {
	select {
	case g.places <- struct{}{}:
		return &Ticket{gate: g}, nil
	default:
		g.refused.Add(1)
		return nil, &BusyError{Workers: g.cfg.Workers, Queue: g.cfg.Queue}
	}
}

// Check returns a *TooHeavyError when weight bytes could never be granted,
// so a caller can refuse a request before spending anything on it.
func (g *Gate) Check(weight int64) error {
	if weight > g.cfg.Budget {
		return &TooHeavyError{Weight: weight, Budget: g.cfg.Budget}
	}
	return nil
}

// Start waits for a worker and weight bytes of the budget, in turn behind
// the requests that started waiting earlier, or until ctx ends (a client
// that left, or a deadline). A weight over the whole budget is refused at
// once with a *TooHeavyError. Calling it again once started is a no-op.
func (t *Ticket) Start(ctx context.Context, weight int64) error {
	if t.working {
		return nil
	}
	weight = max(weight, 0)
	if err := t.gate.Check(weight); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w, queued := t.gate.enqueue(weight)
	if queued && t.gate.queued != nil {
		t.gate.queued()
	}
	select {
	case <-w.ready:
	case <-ctx.Done():
		if t.gate.leave(w) {
			return ctx.Err()
		}
		// Granted as ctx ended: take it, so that Done gives it back.
	}
	t.working, t.weight = true, weight
	return ctx.Err()
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// enqueue joins the line for a worker and weight bytes. When nobody is
// ahead and both are free, the turn is granted at once (its ready channel
// closed) and queued is false.
func (g *Gate) enqueue(weight int64) (w *turn, queued bool) {
	w = &turn{weight: weight, ready: make(chan struct{})}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.waiting.Len() == 0 && g.fits(weight) {
		g.grant(w)
		return w, false
	}
	g.waiting.PushBack(w)
	return w, true
}

// leave takes w out of the line; false means it was granted meanwhile.
func (g *Gate) leave(w *turn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if isClosed(w.ready) {
		return false
	}
	for e := g.waiting.Front(); e != nil; e = e.Next() {
		if e.Value.(*turn) == w {
			g.waiting.Remove(e)
			break
		}
	}
	// Those behind w may fit where w did not.
	g.next()
	return true
}

// fits reports whether a worker and weight bytes are free. g.mu is held.
func (g *Gate) fits(weight int64) bool {
	return g.working < g.cfg.Workers && g.reserved+weight <= g.cfg.Budget
}

// grant hands a worker and w's weight to w. g.mu is held.
func (g *Gate) grant(w *turn) {
	g.working++
	g.reserved += w.weight
	close(w.ready)
}

// next grants turns from the front of the line while they fit, stopping
// at the first that does not, so nobody is overtaken. g.mu is held.
func (g *Gate) next() {
	for e := g.waiting.Front(); e != nil; e = g.waiting.Front() {
		w := e.Value.(*turn)
		if !g.fits(w.weight) {
			return
		}
		g.waiting.Remove(e)
		g.grant(w)
	}
}

// release gives back a worker and weight bytes.
func (g *Gate) release(weight int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.working--
	g.reserved -= weight
	g.next()
}

// Done gives back the worker and memory (if started) and the place.
func (t *Ticket) Done() {
	if t == nil || t.done {
		return
	}
	t.done = true
	if t.working {
		t.gate.release(t.weight)
	}
	<-t.gate.places
}

// Stats is a snapshot for metrics.
type Stats struct {
	// Working is how many requests hold a worker.
	Working int
	// Waiting is how many admitted requests hold no worker: in line for
	// one (or for memory), or still reading their source.
	Waiting int
	// Reserved is the bytes of the budget the working requests hold.
	Reserved int64
	// Refused counts requests turned away since New.
	Refused int64
}

// Stats reports the gate's current load.
func (g *Gate) Stats() Stats {
	g.mu.Lock()
	working, reserved := g.working, g.reserved
	g.mu.Unlock()
	return Stats{Working: working, Waiting: max(len(g.places)-working, 0), Reserved: reserved, Refused: g.refused.Load()}
}

// Workers is the number of concurrent workers.
func (g *Gate) Workers() int { return g.cfg.Workers }

// Queue is the number of requests that may wait.
func (g *Gate) Queue() int { return g.cfg.Queue }

// Budget is the memory, in bytes, the working requests may hold together.
func (g *Gate) Budget() int64 { return g.cfg.Budget }
