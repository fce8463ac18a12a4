package app

import (
	"encoding/base64"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/engine/enginetest"
)

// weight is what the server's gate reserves for opts on src: engine.Plan's
// estimate under the server's limits.
func (s *testServer) weight(t *testing.T, src []byte, opts engine.PlanOptions) int64 {
	t.Helper()
	e, err := engine.New(engine.Config{MaxSourcePixels: s.cfg.MaxSourcePixels, MaxOutputPixels: s.cfg.MaxOutputPixels, Workers: 1})
	require.NoError(t, err)
	p, err := e.Plan(src, opts)
	require.NoError(t, err)
	return p.Memory
}

// TestOutputLimitComesBeforeCredits is the case: ×4 of a
// 5000×5000 PNG would be 400 MP, over the 64 MP limit, and would cost 50
// credits. On an account with 48 left it is refused as too large, not as
// unpaid, through both doors, and its dry run is refused the same way
// instead of quoting 50 credits; nothing is charged.
func TestOutputLimitComesBeforeCredits(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	key := map[string]string{"x-api-key": s.key}
	for range 2 { // 50 − 2 = 48 credits left
		a := s.send(http.MethodPost, "/v1/enhance", "image/png", tinyPNG(t, 16, 16), key)
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status)
	}
	require.Equal(t, 48, s.devBalance(t).Remaining())
	big := enginetest.PNGOfZeros(5000, 5000, 8, 2)
	const detail = "the output would be 20000x20000 (400.0 megapixels); the limit is 64.0 megapixels"

	for _, path := range []string{"/v1/upscale?scaleFactor=4", "/v1/upscale?scaleFactor=4&dryRun=true"} {
		a := s.send(http.MethodPost, path, "image/png", big, key)
		require.NoError(t, a.err, path)
		require.Equal(t, http.StatusBadRequest, a.status, path)
		require.Equal(t, "IMAGE_TOO_LARGE", a.problem.Code, path)
		require.Contains(t, a.problem.Detail, detail, path)
		require.Empty(t, a.header.Get("X-Credits-Charged"), path)
	}
	a := s.send(http.MethodPost, "/v1/upscale", "application/json",
		[]byte(`{"imageBase64": "`+base64.StdEncoding.EncodeToString(big)+`", "scaleFactor": 4, "dryRun": true}`), key)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusBadRequest, a.status, "the documented JSON request too")
	require.Equal(t, "IMAGE_TOO_LARGE", a.problem.Code)

	client := enhancev1.NewImageServiceClient(s.grpc)
	for _, dry := range []bool{false, true} {
		_, err := client.Upscale(withKey(s.key), &enhancev1.UpscaleRequest{Image: big, ScaleFactor: 4, DryRun: dry})
		require.Equal(t, codes.InvalidArgument, status.Code(err), "dryRun %v", dry)
		require.Equal(t, "IMAGE_TOO_LARGE", reasonOf(err), "dryRun %v", dry)
		require.Contains(t, status.Convert(err).Message(), detail)
	}
	require.Equal(t, 2, s.devBalance(t).Used, "nothing charged, not even for a moment's reservation")

	// ×2 is 100 MP, still too large; a ×2 of a quarter of it (25 MP) is
	// quoted, priced by its output, and affordable.
	_, err := client.Upscale(withKey(s.key), &enhancev1.UpscaleRequest{Image: big, ScaleFactor: 2, DryRun: true})
	require.Equal(t, "IMAGE_TOO_LARGE", reasonOf(err))
	resp, err := client.Upscale(withKey(s.key), &enhancev1.UpscaleRequest{Image: enginetest.PNGOfZeros(2500, 2500, 8, 2), ScaleFactor: 2, DryRun: true})
	require.NoError(t, err)
	require.Equal(t, int32(5000), resp.GetWidthPixels())
	require.Contains(t, string(resp.GetImage().GetData()), `"credits":4`)
}

// TestImageHeavierThanTheBudgetIsRefused: an image whose work would need
// more memory than the whole budget can never run, so it is refused as
// too large, naming the budget, before any charge and in its dry run too.
func TestImageHeavierThanTheBudgetIsRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) { c.MemoryBudget = 8 << 20 })
	key := map[string]string{"x-api-key": s.key}
	heavy := enginetest.PNGOfZeros(1000, 1000, 16, 6) // 1 MP of 16-bit RGBA: 8 MB decoded, far more at work
	require.Greater(t, s.weight(t, heavy, engine.PlanOptions{Operation: engine.OpEnhance}), int64(8<<20))
	const detail = "the memory budget for images is 8 MiB"

	for _, path := range []string{"/v1/enhance", "/v1/enhance?dryRun=true", "/v1/upscale?scaleFactor=2"} {
		a := s.send(http.MethodPost, path, "image/png", heavy, key)
		require.NoError(t, a.err, path)
		require.Equal(t, http.StatusBadRequest, a.status, path)
		require.Equal(t, "IMAGE_TOO_LARGE", a.problem.Code, path)
		require.Contains(t, a.problem.Detail, detail, path)
		require.Contains(t, a.problem.Detail, "image too large: processing it needs about", path)
	}
	_, err := enhancev1.NewImageServiceClient(s.grpc).Enhance(withKey(s.key), &enhancev1.EnhanceRequest{Image: heavy})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Equal(t, "IMAGE_TOO_LARGE", reasonOf(err))
	require.Contains(t, status.Convert(err).Message(), detail)
	require.Zero(t, s.devBalance(t).Used, "nothing charged")

	// A small image fits the same budget and is served.
	a := s.send(http.MethodPost, "/v1/enhance", "image/png", tinyPNG(t, 64, 64), key)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, float64(8<<20), s.gauge(t, "enhance_image_memory_budget_bytes"))
	require.Zero(t, s.gauge(t, "enhance_image_memory_reserved_bytes"), "given back")
}

// TestImagesWaitTheirTurnForMemory: with room for one image's weight but
// not two, and workers for both, requests through both doors at once are
// all served, one after the other, and the memory comes back.
func TestImagesWaitTheirTurnForMemory(t *testing.T) {
	t.Parallel()
	src := tinyPNG(t, 400, 300)
	probe := startServer(t, nil)
	w := probe.weight(t, src, engine.PlanOptions{Operation: engine.OpEnhance})
	s := startServer(t, func(c *config.Config) { c.Workers, c.Queue, c.MemoryBudget = 4, 8, w+w/2 })

	const each = 3
	rest := make([]answer, each)
	grpcErrs := make([]error, each)
	var wg sync.WaitGroup
	for i := range each {
		wg.Go(func() {
			rest[i] = s.send(http.MethodPost, "/v1/enhance", "image/png", src, map[string]string{"x-api-key": s.key})
		})
		wg.Go(func() {
			_, grpcErrs[i] = enhancev1.NewImageServiceClient(s.grpc).Enhance(withKey(s.key), &enhancev1.EnhanceRequest{Image: src})
		})
	}
	wg.Wait()
	for i := range each {
		require.NoError(t, rest[i].err)
		require.Equal(t, http.StatusOK, rest[i].status, rest[i].problem.Detail)
		require.NoError(t, grpcErrs[i])
	}
	require.Equal(t, 2*each, s.devBalance(t).Used)
	require.Zero(t, s.gauge(t, "enhance_image_memory_reserved_bytes"))
	require.Zero(t, s.gauge(t, "enhance_image_workers_busy"))
	require.Equal(t, float64(w+w/2), s.gauge(t, "enhance_image_memory_budget_bytes"))
}

// TestDefaultBudgetIsExported: without --memory-budget the server takes a
// share of the machine's memory and says how much.
func TestDefaultBudgetIsExported(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	require.Positive(t, s.gauge(t, "enhance_image_memory_budget_bytes"))
	require.Contains(t, s.logs.String(), "image memory budget")
}
