// Package admission bounds the image work a server takes on: a fixed
// number of workers run images, a bounded queue holds the requests
// waiting for one, and a request that finds the queue full is turned away
// at once instead of piling up memory and latency.
package admission

import (
	"context"
	"errors"
	"fmt"
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

// Gate admits image requests. A request first takes a place (Admit),
// which is refused when workers+queue places are all held, and then waits
// for a worker (Ticket.Start) only when it is ready to spend CPU, so a
// request still downloading its source holds a place but no worker.
type Gate struct {
	workers, queue int
	places         chan struct{}
	slots          chan struct{}
	refused        atomic.Int64
}

// New returns a Gate with workers concurrent workers and room for queue
// waiting requests.
func New(workers, queue int) (*Gate, error) {
	if workers <= 0 || queue < 0 {
		return nil, errors.New("admission: workers must be positive and queue not negative")
	}
	return &Gate{
		workers: workers, queue: queue,
		places: make(chan struct{}, workers+queue),
		slots:  make(chan struct{}, workers),
	}, nil
}

// Ticket is one admitted request. Done must be called exactly once.
type Ticket struct {
	gate    *Gate
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
		return nil, &BusyError{Workers: g.workers, Queue: g.queue}
	}
}

// Start waits for a worker, or for ctx to end (a client that left while
// queued). Calling it twice is a no-op.
func (t *Ticket) Start(ctx context.Context) error {
	if t.working {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case t.gate.slots <- struct{}{}:
		t.working = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done gives back the worker (if started) and the place.
func (t *Ticket) Done() {
	if t == nil || t.done {
		return
	}
	t.done = true
	if t.working {
		<-t.gate.slots
	}
	<-t.gate.places
}

// Stats is a snapshot for metrics.
type Stats struct {
	// Working is how many requests hold a worker.
	Working int
	// Waiting is how many admitted requests hold no worker: queued for one,
	// or still reading their source.
	Waiting int
	// Refused counts requests turned away since New.
	Refused int64
}

// Stats reports the gate's current load.
func (g *Gate) Stats() Stats {
	working := len(g.slots)
	return Stats{Working: working, Waiting: max(len(g.places)-working, 0), Refused: g.refused.Load()}
}

// Workers is the number of concurrent workers.
func (g *Gate) Workers() int { return g.workers }

// Queue is the number of requests that may wait.
func (g *Gate) Queue() int { return g.queue }
