package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/idempotency"
	"github.com/smartimage/enhance/internal/store"
)

func (s *testServer) devBalance(t *testing.T) store.Balance {
	t.Helper()
	acct, err := s.app.Store().AccountByEmail(context.Background(), DevEmail)
	require.NoError(t, err)
	u, err := s.app.ledger.Usage(context.Background(), acct.ID)
	require.NoError(t, err)
	return u.Balance
}

func TestCreditsAreChargedAndReported(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	png := testImage(t, "bird.png")
	key := map[string]string{"x-api-key": s.key}

	resp := s.post(t, "/v1/enhance", "image/png", png, key)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, "1", resp.Header.Get("X-Credits-Charged"))
	require.Equal(t, "49", resp.Header.Get("X-Credits-Remaining"))

	// Upscale is priced by its output: 288×288 ×4 is 1.3 MP, one credit.
	resp = s.post(t, "/v1/upscale?scaleFactor=4", "image/png", png, key)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, "1", resp.Header.Get("X-Credits-Charged"))
	require.Equal(t, "48", resp.Header.Get("X-Credits-Remaining"))

	// Rejected and failed requests cost nothing: a bad option, an
	// unreadable image, an image whose header reads but whose data is cut.
	for name, send := range map[string]func() *http.Response{
		"bad option":     func() *http.Response { return s.post(t, "/v1/enhance?outputFormat=gif", "image/png", png, key) },
		"not an image":   func() *http.Response { return s.post(t, "/v1/enhance", "image/png", []byte("hello"), key) },
		"truncated data": func() *http.Response { return s.post(t, "/v1/enhance", "image/png", png[:len(png)/2], key) },
	} {
		resp := send()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
		require.Empty(t, resp.Header.Get("X-Credits-Charged"), name)
		readProblem(t, resp)
	}
	require.Equal(t, store.Balance{Granted: 50, Used: 2}, s.devBalance(t), "the truncated image was reserved, then refunded")

	// gRPC reports the same in response metadata.
	var header metadata.MD
	_, err := enhancev1.NewImageServiceClient(s.grpc).Enhance(withKey(s.key), &enhancev1.EnhanceRequest{Image: png}, grpc.Header(&header))
	require.NoError(t, err)
	require.Equal(t, []string{"1"}, header.Get("x-credits-charged"))
	require.Equal(t, []string{"47"}, header.Get("x-credits-remaining"))
}

func TestOutOfCreditsUnderConcurrency(t *testing.T) {
	t.Parallel()
	// Room for all 200 to queue: this test is about credits, not the gate.
	s := startServer(t, func(c *config.Config) { c.Queue = 200 })
	// A tiny image, so the 50 that are served finish quickly even under
	// the race detector on a loaded machine: the work is not the point.
	png := tinyPNG(t, 16, 16)
	// The case: 50 credits left, 200 simultaneous requests (on a
	// plan whose rate limit lets 200 through).
	s.setDevPlan(t, "pro")
	acct, err := s.app.Store().AccountByEmail(context.Background(), DevEmail)
	require.NoError(t, err)
	c, err := s.app.ledger.Reserve(context.Background(), acct.ID, "k", credits.OpEnhance, "setup", credits.Plans["pro"].MonthlyCredits-50)
	require.NoError(t, err)
	require.NoError(t, s.app.ledger.Commit(context.Background(), c))

	// Each goroutine only records its answer; the checks run here.
	answers := make([]answer, 200)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			answers[i] = s.send(http.MethodPost, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": s.key})
		})
	}
	wg.Wait()
	statuses := map[int]int{}
	for _, a := range answers {
		require.NoError(t, a.err)
		statuses[a.status]++
		if a.status == http.StatusPaymentRequired {
			require.Equal(t, "CREDITS_EXHAUSTED", a.problem.Code)
			require.Contains(t, a.problem.Detail, "credits renew on")
		}
	}
	require.Equal(t, map[int]int{http.StatusOK: 50, http.StatusPaymentRequired: 150}, statuses)
	require.Zero(t, s.devBalance(t).Remaining(), "never below zero")

	_, err = enhancev1.NewImageServiceClient(s.grpc).Enhance(withKey(s.key), &enhancev1.EnhanceRequest{Image: png})
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	require.Equal(t, "CREDITS_EXHAUSTED", reasonOf(err))
}

func TestStaleChargesAreRefundedAfterARestart(t *testing.T) {
	t.Parallel()
	first := startServer(t, nil)
	acct, err := first.app.Store().AccountByEmail(context.Background(), DevEmail)
	require.NoError(t, err)
	// A request that was running when its server was killed: its charge is
	// pending and older than any request can run.
	long := time.Now().Add(-first.cfg.RequestTimeout - 2*time.Minute)
	start, _ := credits.PeriodOf(time.Now())
	_, _, err = first.app.Store().Reserve(context.Background(), store.LedgerEntry{
		AccountID: acct.ID, KeyID: "k", PeriodStart: start, Amount: 3, Operation: credits.OpUpscale, RequestID: "killed", Time: long,
	}, map[string]int{"free": 50})
	require.NoError(t, err)
	require.Equal(t, 3, first.devBalance(t).Used)
	first.stop(t)

	second := startServer(t, func(c *config.Config) { c.DataDir = first.cfg.DataDir })
	require.Zero(t, second.devBalance(t).Used, "refunded on start")
	third := startServer(t, func(c *config.Config) { c.DataDir = first.cfg.DataDir })
	require.Zero(t, third.devBalance(t).Used, "and only once")
	resp := second.post(t, "/v1/enhance", "image/png", testImage(t, "bird.png"), map[string]string{"x-api-key": first.key})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, strconv.Itoa(49), resp.Header.Get("X-Credits-Remaining"))
}

func TestUsageAndPricing(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	png := testImage(t, "bird.png")
	key := map[string]string{"x-api-key": s.key}
	for range 3 {
		resp := s.post(t, "/v1/enhance", "image/png", png, key)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
	}
	resp := s.post(t, "/v1/enhance", "image/png", png[:len(png)/2], key) // charged, then refunded
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp.Body.Close()

	type entry struct {
		Kind, Key, Operation, State, RequestID string
		Credits                                int
	}
	var usage struct {
		PeriodStart, PeriodEnd                        time.Time
		Plan                                          string
		CreditsGranted, CreditsUsed, CreditsRemaining int
		Entries                                       []entry
		NextPageToken                                 string
	}
	resp = s.call(t, http.MethodGet, "/v1/usage?pageSize=3", nil, key, &usage)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	start, end := credits.PeriodOf(time.Now())
	require.Equal(t, start, usage.PeriodStart.UTC())
	require.Equal(t, end, usage.PeriodEnd.UTC())
	require.Equal(t, "free", usage.Plan)
	require.Equal(t, [3]int{50, 3, 47}, [3]int{usage.CreditsGranted, usage.CreditsUsed, usage.CreditsRemaining})
	require.Len(t, usage.Entries, 3)
	require.NotEmpty(t, usage.NextPageToken)
	all, next := usage.Entries, usage.NextPageToken
	usage.NextPageToken, usage.Entries = "", nil // protojson omits empty fields
	resp = s.call(t, http.MethodGet, "/v1/usage?pageToken="+next, nil, key, &usage)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	all = append(all, usage.Entries...)
	require.Empty(t, usage.NextPageToken)
	// The ledger adds up to the balance, and names the key.
	net := 0
	for _, e := range all {
		require.Regexp(t, `^keys/`, e.Key)
		require.NotEmpty(t, e.RequestID)
		switch e.Kind {
		case "charge":
			net += e.Credits
		case "refund":
			net -= e.Credits
		}
	}
	require.Len(t, all, 5, "three charges, one charge refunded, one refund")
	require.Equal(t, usage.CreditsUsed, net)

	// Sessions may read usage too; keys without usage:read may not.
	token := s.signUpAndIn(t, "reader@example.com")
	resp = s.call(t, http.MethodGet, "/v1/usage", nil, bearer(token), &usage)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 50, usage.CreditsRemaining)
	upscaleOnly := s.createKey(t, token, "upscale", "images:upscale")
	resp = s.call(t, http.MethodGet, "/v1/usage", nil, map[string]string{"x-api-key": upscaleOnly}, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, readProblem(t, resp).Detail, "usage:read")

	// Pricing is public.
	var pricing struct {
		Plans []struct {
			Name                              string
			MonthlyCredits, RequestsPerMinute int
		}
		Prices []struct {
			Operation, Unit string
			Credits         int
		}
	}
	resp = s.call(t, http.MethodGet, "/v1/pricing", nil, nil, &pricing)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "free", pricing.Plans[0].Name)
	require.Equal(t, 50, pricing.Plans[0].MonthlyCredits)
	require.Len(t, pricing.Prices, 3)
}

func TestRateLimitsPerKeyWithHeaders(t *testing.T) {
	t.Parallel()
	// Time stands still, so no quota comes back however slow the machine.
	frozen := time.Now()
	s := startServer(t, nil, WithClock(func() time.Time { return frozen }))
	key := map[string]string{"x-api-key": s.key}
	// The free plan allows 60 requests a minute.
	for n := range 60 {
		resp := s.call(t, http.MethodGet, "/v1/usage", nil, key, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "request %d", n)
		if n == 0 {
			require.Equal(t, `"minute";q=60;w=60`, resp.Header.Get("RateLimit-Policy"))
			require.Equal(t, "60", resp.Header.Get("X-RateLimit-Limit"))
			require.Equal(t, "59", resp.Header.Get("X-RateLimit-Remaining"))
			require.Equal(t, `"minute";r=59;t=1`, resp.Header.Get("RateLimit"))
		}
		resp.Body.Close()
	}
	refused := s.call(t, http.MethodGet, "/v1/usage", nil, key, nil)
	require.Equal(t, http.StatusTooManyRequests, refused.StatusCode)
	require.Equal(t, "1", refused.Header.Get("Retry-After"))
	require.Equal(t, "0", refused.Header.Get("X-RateLimit-Remaining"))
	p := readProblem(t, refused)
	require.Equal(t, "RATE_LIMITED", p.Code)
	require.Contains(t, p.Detail, "60 requests a minute")

	// gRPC gets the same refusal; image calls draw on their own quota;
	// another account is not affected.
	_, err := enhancev1.NewUsageServiceClient(s.grpc).GetUsage(withKey(s.key), &enhancev1.GetUsageRequest{})
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	require.Equal(t, "RATE_LIMITED", reasonOf(err))
	resp := s.post(t, "/v1/enhance", "image/png", tinyPNG(t, 8, 8), key)
	require.Equal(t, http.StatusOK, resp.StatusCode, "image calls have their own bucket")
	require.Equal(t, "59", resp.Header.Get("X-RateLimit-Remaining"))
	resp.Body.Close()
	token := s.signUpAndIn(t, "calm@example.com")
	calm := s.createKey(t, token, "calm", "usage:read")
	resp = s.call(t, http.MethodGet, "/v1/usage", nil, map[string]string{"x-api-key": calm}, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
}

// TestBusyAnswersCostNoQuota: a caller refused because the server is busy
// keeps its whole quota, so that backing off and retrying is free.
func TestBusyAnswersCostNoQuota(t *testing.T) {
	t.Parallel()
	frozen := time.Now()
	s := startServer(t, func(c *config.Config) { c.Workers, c.Queue = 1, 0 }, WithClock(func() time.Time { return frozen }))
	key := map[string]string{"x-api-key": s.key}
	png := tinyPNG(t, 8, 8)
	// An origin that holds the server's one place until released.
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		w.Write(png)
	}))
	t.Cleanup(slow.Close)
	held := make(chan answer, 1)
	go func() {
		held <- s.send(http.MethodPost, "/v1/enhance", "application/json", []byte(`{"imageUrl": "`+slow.URL+`/x.png"}`), key)
	}()
	<-arrived
	for range 80 {
		a := s.send(http.MethodPost, "/v1/enhance", "image/png", png, key)
		require.NoError(t, a.err)
		require.Equal(t, http.StatusTooManyRequests, a.status)
		require.Contains(t, a.problem.Detail, "busy")
	}
	close(release)
	require.Equal(t, http.StatusOK, (<-held).status)
	resp := s.post(t, "/v1/enhance", "image/png", png, key)
	require.Equal(t, http.StatusOK, resp.StatusCode, "80 busy answers later, the quota is intact")
	require.Equal(t, "58", resp.Header.Get("X-RateLimit-Remaining"), "only the two served calls counted")
	resp.Body.Close()
}

// holdIdempotencyKey records an Enhance of req under key as still running
// for the development account, as a request in flight would.
func (s *testServer) holdIdempotencyKey(t *testing.T, key string, req *enhancev1.EnhanceRequest) {
	t.Helper()
	acct, err := s.app.Store().AccountByEmail(context.Background(), DevEmail)
	require.NoError(t, err)
	hash, err := idempotency.RequestHash(enhancev1.ImageService_Enhance_FullMethodName, req)
	require.NoError(t, err)
	_, _, err = s.app.Store().BeginIdempotent(context.Background(),
		store.IdempotentCall{AccountID: acct.ID, Key: key, RequestHash: hash, CreateTime: time.Now()},
		time.Now().Add(-time.Hour), time.Now().Add(-time.Hour))
	require.NoError(t, err)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	png := testImage(t, "bird.png")
	with := func(k string) map[string]string { return map[string]string{"x-api-key": s.key, "Idempotency-Key": k} }
	read := func(resp *http.Response) []byte {
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return b
	}

	first := s.post(t, "/v1/enhance", "image/png", png, with("order-1"))
	require.Equal(t, http.StatusOK, first.StatusCode)
	firstBody := read(first)
	require.Equal(t, "1", first.Header.Get("X-Credits-Charged"))

	again := s.post(t, "/v1/enhance", "image/png", png, with("order-1"))
	require.Equal(t, http.StatusOK, again.StatusCode)
	require.Equal(t, firstBody, read(again), "the first result, not a new run")
	require.Equal(t, "0", again.Header.Get("X-Credits-Charged"))
	require.Equal(t, "true", again.Header.Get("X-Idempotent-Replay"))
	require.Equal(t, first.Header.Get("X-Enhancement-Steps"), again.Header.Get("X-Enhancement-Steps"))
	require.Equal(t, 1, s.devBalance(t).Used, "charged once")

	// The same key with another request is refused.
	resp := s.post(t, "/v1/enhance?outputFormat=jpeg", "image/png", png, with("order-1"))
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Equal(t, "IDEMPOTENCY_KEY_REUSED", readProblem(t, resp).Code)

	// A request still running under the key: 409.
	s.holdIdempotencyKey(t, "order-2", &enhancev1.EnhanceRequest{Image: png})
	resp = s.post(t, "/v1/enhance", "image/png", png, with("order-2"))
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "IDEMPOTENCY_KEY_IN_USE", readProblem(t, resp).Code)

	// A failed request is forgotten: its retry runs (and fails) again.
	for range 2 {
		resp = s.post(t, "/v1/enhance", "image/png", png[:len(png)/2], with("order-3"))
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "INVALID_IMAGE", readProblem(t, resp).Code)
	}
	resp = s.post(t, "/v1/enhance", "image/png", png, with(strings.Repeat("k", 256)))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "INVALID_IDEMPOTENCY_KEY", readProblem(t, resp).Code)
	require.Equal(t, 1, s.devBalance(t).Used)

	// gRPC: the same key in metadata.
	ctx := metadata.AppendToOutgoingContext(withKey(s.key), "idempotency-key", "grpc-1")
	client := enhancev1.NewImageServiceClient(s.grpc)
	a, err := client.Enhance(ctx, &enhancev1.EnhanceRequest{Image: png})
	require.NoError(t, err)
	var header metadata.MD
	b, err := client.Enhance(ctx, &enhancev1.EnhanceRequest{Image: png}, grpc.Header(&header))
	require.NoError(t, err)
	require.Equal(t, a.GetImage().GetData(), b.GetImage().GetData())
	require.Equal(t, []string{"0"}, header.Get("x-credits-charged"))
	require.Equal(t, 2, s.devBalance(t).Used)
}

func TestDryRunQuotesWithoutCharging(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	png := testImage(t, "bird.png")
	type quote struct {
		DryRun                    bool
		Operation                 string
		Credits                   int
		WidthPixels, HeightPixels int
		Steps                     []string
	}
	var q quote
	resp := s.call(t, http.MethodPost, "/v1/upscale", map[string]any{"imageBase64": png, "scaleFactor": 4, "dryRun": true},
		map[string]string{"x-api-key": s.key}, &q)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, quote{DryRun: true, Operation: "upscale", Credits: 1, WidthPixels: 1152, HeightPixels: 1152, Steps: []string{"upscale"}}, q)

	resp = s.post(t, "/v1/enhance?dryRun=true&enhancementType=landscape", "image/png", png, map[string]string{"x-api-key": s.key})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	q = quote{}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&q))
	resp.Body.Close()
	require.Equal(t, 1, q.Credits)
	require.Contains(t, q.Steps, "dehaze")
	require.Equal(t, "288", resp.Header.Get("X-Image-Width"))

	resp = s.post(t, "/v1/enhance?dryRun=maybe", "image/png", png, map[string]string{"x-api-key": s.key})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	readProblem(t, resp)
	resp = s.post(t, "/v1/enhance?dryRun=true", "image/png", []byte("not an image"), map[string]string{"x-api-key": s.key})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a quote still needs a readable image")
	readProblem(t, resp)
	require.Zero(t, s.devBalance(t).Used, "quotes are free")
}
