package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/smartimage/enhance/internal/throttle"
)

// Argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, one
// lane).
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// HashMemory is what one hash holds while it runs.
const HashMemory = argonMemoryKiB << 10

// MinPasswordLen is the shortest password accepted at registration, in
// Unicode code points.
const MinPasswordLen = 12

// MaxPasswordLen is the longest, in code points; MaxPasswordBytes bounds
// its UTF-8 encoding too (four bytes a code point), checked before
// anything else looks at it.
const (
	MaxPasswordLen   = 256
	MaxPasswordBytes = 4 * MaxPasswordLen
)

// ErrPasswordMismatch means a password does not match its stored hash.
var ErrPasswordMismatch = errors.New("auth: password mismatch")

// NormalizePassword is the form of a password that is checked and hashed:
// NFKC, as NIST SP 800-63B asks, so that a password typed on another
// keyboard (a precomposed é, a full-width digit) is the same password.
func NormalizePassword(password string) string {
	return norm.NFKC.String(password)
}

// Hasher computes password hashes under a bound: at most its slots at
// once, each holding HashMemory and one core, so that a flood of
// sign-ins or registrations costs a short queue, not the server's memory
// or its cores. Four requests per slot may wait for one (as images wait
// for a worker), each while it still has time to be answered; beyond
// that a request is refused at once with a *BusyError, and so is one
// whose time runs short while it waits. Waiting requests are few on purpose: each holds a call
// open, and the REST gateway's calls share one connection to the gRPC
// server, whose streams a long queue would take from image calls.
type Hasher struct {
	cost  Cost
	slots chan struct{}
	// queue holds a token for every turn: a request hashing, or waiting
	// to, or about to ask for a slot.
	queue chan struct{}
	// held counts the turns of each client (QueueFor), so that one client
	// cannot fill the queue and make everyone else's sign-in busy.
	mu   sync.Mutex
	held map[string]int
}

// QueuePerClient is how many places in the queue one client may hold at
// once: enough for a person's retry beside a sign-in still running.
const QueuePerClient = 2

// QueuePerSlot is how many requests may wait for each hashing slot.
const QueuePerSlot = 4

// Cost is what one argon2id hash takes: memory and passes.
type Cost struct {
	MemoryKiB, Passes uint32
}

// DefaultCost is OWASP's recommended minimum for argon2id, which the
// server always uses. Only tests that are not about hashing lower it:
// under the race detector a default hash takes most of a second.
var DefaultCost = Cost{MemoryKiB: argonMemoryKiB, Passes: argonTime}

// NewHasher returns a Hasher running at most slots hashes at once
// (DefaultHashSlots(0), by CPUs alone, when slots is 0), at DefaultCost.
func NewHasher(slots int) (*Hasher, error) {
	return NewHasherCost(slots, DefaultCost)
}

// NewHasherCost is NewHasher at another cost. Hashes record their cost,
// so a hash made at one cost is checked at that cost by any Hasher.
func NewHasherCost(slots int, cost Cost) (*Hasher, error) {
	if slots < 0 {
		return nil, errors.New("auth: password hash slots must not be negative")
	}
	if cost.MemoryKiB < 8 || cost.MemoryKiB > maxHashMemoryKiB || cost.Passes < 1 || cost.Passes > 10 {
		return nil, errors.New("auth: argon2 cost outside what this server runs")
	}
	if slots == 0 {
		slots = DefaultHashSlots(0)
	}
	return &Hasher{cost: cost, slots: make(chan struct{}, slots), queue: make(chan struct{}, slots*(1+QueuePerSlot)), held: map[string]int{}}, nil
}

// Dummy is a hash of a random password at the Hasher's cost, made
// without a turn: what a sign-in with an unknown email is checked
// against, so that it costs what a known one does.
func (h *Hasher) Dummy() (string, error) {
	return hashPassword(rand.Text(), h.cost)
}

// Slots is how many hashes may run at once.
func (h *Hasher) Slots() int { return cap(h.slots) }

// DefaultHashSlots is half of GOMAXPROCS, which follows a container's CPU
// limit where NumCPU would count the node's cores (a hash holds a core;
// image work and everything else keep the rest), at least one, and no more than keeps
// hashes under an eighth of memoryLimit, the bytes this process may use
// (admission.MemoryLimit reads it; 0 when unknown).
func DefaultHashSlots(memoryLimit int64) int {
	n := max(1, runtime.GOMAXPROCS(0)/2)
	if memoryLimit > 0 {
		n = min(n, max(1, int(memoryLimit/8/HashMemory)))
	}
	return n
}

// answerMargin is the time a request keeps, of its deadline, for the hash
// itself and its answer: a slot found later than that is no use to it.
const answerMargin = 500 * time.Millisecond

// BusyError refuses a password check that found every hashing slot taken
// for as long as its request could wait. Callers see it as a throttle
// refusal: 429 with Retry-After.
type BusyError struct{ RetryAfter time.Duration }

func (e *BusyError) Error() string {
	return "the server is busy checking passwords; try again in a few seconds"
}

// RetryDelay is when the caller may try again.
func (e *BusyError) RetryDelay() time.Duration { return e.RetryAfter }

// Is makes errors.Is(err, throttle.ErrThrottled) hold, so that the error
// table answers it as it answers other refusals to come back later.
func (e *BusyError) Is(target error) bool { return target == throttle.ErrThrottled }

// Turn is a place in the hashing queue, taken at once or refused
// (Queue), then used for one hash or check, which waits for a slot, or
// left unused. A Turn belongs to one request.
type Turn struct {
	h      *Hasher
	client string
	done   bool
}

// Queue takes a place in the queue, or refuses at once with a *BusyError
// when it is full. Callers take it before anything that costs (a throttle
// reservation is a database write), so that a flood is turned away for
// nothing.
func (h *Hasher) Queue() (*Turn, error) { return h.QueueFor("") }

// QueueFor is Queue for a request of client (its address's throttle
// bucket, or another name for who asks), who may hold at most
// QueuePerClient places at once: one client's flood is refused as busy
// while others still find room. An empty client is not counted (the
// operator's own calls).
func (h *Hasher) QueueFor(client string) (*Turn, error) {
	if client != "" {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.held[client] >= QueuePerClient {
			return nil, &BusyError{RetryAfter: time.Second}
		}
	}
	select {
	case h.queue <- struct{}{}:
	default:
		return nil, &BusyError{RetryAfter: time.Second}
	}
	if client != "" {
		h.held[client]++
	}
	return &Turn{h: h, client: client}, nil
}

// Leave gives the place up; after Hash or Check it does nothing.
func (t *Turn) Leave() {
	if t == nil || t.done {
		return
	}
	t.done = true
	if t.client != "" {
		t.h.mu.Lock()
		if t.h.held[t.client]--; t.h.held[t.client] <= 0 {
			delete(t.h.held, t.client)
		}
		t.h.mu.Unlock()
	}
	<-t.h.queue
}

// slot waits for a hashing slot until ctx's deadline, less answerMargin.
// The turn keeps its place in the queue until release, so that the queue
// bounds every request a Hasher holds, hashing or waiting; a refusal ends
// the turn at once.
func (t *Turn) slot(ctx context.Context) (release func(), err error) {
	if t.done {
		return nil, errors.New("auth: a hashing turn used twice")
	}
	release = func() { <-t.h.slots; t.Leave() }
	// A request already ended, or with too little time left to be
	// answered, is refused before it costs a hash, slot free or not: a
	// hash it cannot use is paid for nothing, and the caller's short
	// deadline must not buy a hash that nobody counts.
	if err := ctx.Err(); err != nil {
		t.Leave()
		return nil, err
	}
	wait := time.Duration(-1)
	if deadline, ok := ctx.Deadline(); ok {
		if wait = time.Until(deadline) - answerMargin; wait <= 0 {
			t.Leave()
			return nil, &BusyError{RetryAfter: time.Second}
		}
	}
	select {
	case t.h.slots <- struct{}{}:
		return release, nil
	default:
	}
	var timeout <-chan time.Time
	if wait >= 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case t.h.slots <- struct{}{}:
		return release, nil
	case <-timeout:
		err = &BusyError{RetryAfter: time.Second}
	case <-ctx.Done():
		err = ctx.Err()
	}
	t.Leave()
	return nil, err
}

// Hash returns an argon2id hash of the normalised password in PHC string
// format, taking a turn in the queue for it.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	t, err := h.Queue()
	if err != nil {
		return "", err
	}
	return t.Hash(ctx, password)
}

// Check reports whether password matches hash, as Turn.Check, taking a
// turn in the queue for it.
func (h *Hasher) Check(ctx context.Context, hash, password string) error {
	if len(password) > MaxPasswordBytes {
		return ErrPasswordMismatch
	}
	t, err := h.Queue()
	if err != nil {
		return err
	}
	return t.Check(ctx, hash, password)
}

// Hash is Hasher.Hash on this turn.
func (t *Turn) Hash(ctx context.Context, password string) (string, error) {
	release, err := t.slot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return hashPassword(NormalizePassword(password), t.h.cost)
}

// Check reports whether password matches hash (ErrPasswordMismatch when
// not, and at once for one over MaxPasswordBytes), honouring the
// parameters recorded in the hash. The normalised password is tried
// first, then the password as typed if it differs: accounts made before
// passwords were normalised were hashed as typed.
func (t *Turn) Check(ctx context.Context, hash, password string) error {
	if len(password) > MaxPasswordBytes {
		// No account has one: not worth a slot.
		t.Leave()
		return ErrPasswordMismatch
	}
	release, err := t.slot(ctx)
	if err != nil {
		return err
	}
	defer release()
	normal := NormalizePassword(password)
	err = checkPassword(hash, normal)
	if errors.Is(err, ErrPasswordMismatch) && normal != password {
		err = checkPassword(hash, password)
	}
	return err
}

// HashPassword hashes password as Hasher.Hash does, without a bound: for
// tools and tests, never on a request's path.
func HashPassword(password string) (string, error) {
	return hashPassword(NormalizePassword(password), DefaultCost)
}

func hashPassword(password string, cost Cost) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	sum := argon2.IDKey([]byte(password), salt, cost.Passes, cost.MemoryKiB, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, cost.MemoryKiB, cost.Passes, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(sum)), nil
}

// CheckPassword checks password against hash as Hasher.Check does,
// without a bound: for tools and tests, never on a request's path.
func CheckPassword(hash, password string) error {
	normal := NormalizePassword(password)
	err := checkPassword(hash, normal)
	if errors.Is(err, ErrPasswordMismatch) && normal != password {
		err = checkPassword(hash, password)
	}
	return err
}

// maxHashMemoryKiB bounds the memory a stored hash may ask for: a hash
// is ours, but one written by a future version with bigger parameters
// must not slip past the slots' memory budget unnoticed.
const maxHashMemoryKiB = 64 * 1024

func checkPassword(hash, password string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("auth: unsupported password hash")
	}
	var version int
	var mem, iter uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("auth: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iter, &threads); err != nil {
		return fmt.Errorf("auth: bad argon2 parameters: %w", err)
	}
	if mem > maxHashMemoryKiB || iter > 10 || threads == 0 || threads > 4 {
		return fmt.Errorf("auth: argon2 parameters m=%d,t=%d,p=%d are beyond what this server runs", mem, iter, threads)
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return fmt.Errorf("auth: bad salt: %w", err)
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil {
		return fmt.Errorf("auth: bad hash: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, iter, mem, threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrPasswordMismatch
	}
	return nil
}
