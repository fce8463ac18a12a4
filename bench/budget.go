package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smartimage/enhance/internal/admission"
	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/engine/enginetest"
)

// The memory budget (internal/admission) weighs each image request by
// engine.Plan's Memory estimate. budget measures what that estimate
// stands for: the peak resident memory one operation adds to a fresh
// process, on photos of every kind the decoders produce, next to the
// estimate. Run it with `go run -tags nodynamic ./bench -only budget,burst`
// (about 45 minutes on 2 cores); memory.go in the engine cites its table.

// budgetCase is one measured operation on one file.
type budgetCase struct {
	file string // under the temporary folder
	op   string // decode, encode, enhance:<type>, upscale:<factor>, colorize, colorize-ref
	out  engine.Format
}

// budgetResult is what a child reports.
type budgetResult struct {
	PeakBytes  int64 `json:"peakBytes"`
	Estimate   int64 `json:"estimate"`
	WorkPixels int   `json:"workPixels"`
	Millis     int64 `json:"millis"`
}

func (h *harness) budget(b *strings.Builder) {
	dir, err := os.MkdirTemp("", "budget")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	photo := h.load(filepath.Join(h.images, "camera", "Kleiber_by_Lukas_Baubkus.jpg"))
	cores := runtime.NumCPU()
	write := func(name string, img *engine.Image, f engine.Format) {
		data, err := h.engine.Encode(img, engine.EncodeOptions{Format: f, Quality: 92})
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			fail(err)
		}
		progress("budget: wrote %s (%d bytes)", name, len(data))
	}
	// Every kind of image the decoders hand over: YCbCr (JPEG), gray,
	// 8-bit RGB, 16-bit RGBA (the case), and WebP through libwebp.
	for _, size := range []struct {
		name string
		w, h int
	}{{"12mp", 4000, 3000}, {"3mp", 2000, 1500}} {
		rgb := engine.Resize(photo, size.w, size.h, engine.Lanczos3, cores)
		gray := engine.Resize(photo, size.w, size.h, engine.Lanczos3, cores)
		gray.Planes = [][]float32{gray.Luma(cores)}
		rgba16 := engine.Resize(photo, size.w, size.h, engine.Lanczos3, cores)
		rgba16.HighDepth = true
		rgba16.Alpha = make([]float32, size.w*size.h)
		for i := range rgba16.Alpha {
			rgba16.Alpha[i] = 0.5 + 0.5*float32(i%size.w)/float32(size.w)
		}
		write("rgb-"+size.name+".jpg", rgb, engine.JPEG)
		write("gray-"+size.name+".jpg", gray, engine.JPEG)
		write("rgb-"+size.name+".png", rgb, engine.PNG)
		write("rgba16-"+size.name+".png", rgba16, engine.PNG)
		write("rgb-"+size.name+".webp", rgb, engine.WebP)
	}
	ref := engine.Resize(photo, 1000, 750, engine.Lanczos3, cores)
	write("reference.jpg", ref, engine.JPEG)

	rgba := engine.Resize(photo, 4000, 3000, engine.Lanczos3, cores)
	rgba.Alpha = make([]float32, 4000*3000)
	for i := range rgba.Alpha {
		rgba.Alpha[i] = 0.5 + 0.5*float32(i%4000)/4000
	}
	write("rgba-12mp.webp", rgba, engine.WebP)

	// Files whose headers understate what Go's JPEG decoder allocates
	// unless the model reads them as the decoder does (engine/memory.go):
	// a progressive frame behind a stray byte, and the colour models the
	// decoder converts to a second image (RGB to RGBA; CMYK, with a black
	// plane). Flat, as an attacker would send them; image/jpeg writes none
	// of these kinds.
	writeRaw := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			fail(err)
		}
		progress("budget: wrote %s (%d bytes)", name, len(data))
	}
	writeRaw("progressive-hidden-12mp.jpg", enginetest.JPEGPadded(enginetest.FlatJPEG(4000, 3000, "\x01\x02\x03", true, -1), 1, 0x00))
	writeRaw("rgb-ids-12mp.jpg", enginetest.FlatJPEG(4000, 3000, "RGB", false, -1))
	writeRaw("cmyk-12mp.jpg", enginetest.FlatJPEG(4000, 3000, "CMYK", false, 0))

	// Noisy content, at every size: uniform noise on every channel, which
	// Denoise runs on (a noisy 1600x1200 JPEG once peaked at three times
	// its weight) and the JPEG encoder compresses least; and flat files of
	// the small sizes, where Dehaze's reduced copy (up to 1 MP) is most of
	// the work.
	noiseSizes := []struct {
		name string
		w, h int
	}{{"05mp", 816, 612}, {"2mp", 1600, 1200}, {"6mp", 3000, 2000}, {"12mp", 4000, 3000}}
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, size := range noiseSizes {
		noisy := engine.NewImage(size.w, size.h, 3, false)
		for _, p := range noisy.Planes {
			for i := range p {
				p[i] = rnd.Float32()
			}
		}
		write("noisy-"+size.name+".jpg", noisy, engine.JPEG)
	}
	writeRaw("flat-05mp.jpg", enginetest.FlatJPEG(816, 612, "\x01\x02\x03", false, -1))
	writeRaw("flat-2mp.jpg", enginetest.FlatJPEG(1600, 1200, "\x01\x02\x03", false, -1))

	// The phases alone: decoding (to float planes) and encoding, then
	// every operation with JPEG output (the cheapest encoder), then the
	// other outputs.
	var cases []budgetCase
	for _, f := range []string{"rgb-12mp.jpg", "gray-12mp.jpg", "rgb-12mp.png", "rgba16-12mp.png", "rgb-12mp.webp", "rgba-12mp.webp"} {
		cases = append(cases, budgetCase{file: f, op: "decode"})
	}
	for _, f := range []string{"rgb-12mp.jpg", "gray-12mp.jpg", "rgba16-12mp.png", "rgba-12mp.webp"} {
		for _, out := range []engine.Format{engine.JPEG, engine.PNG, engine.WebP} {
			cases = append(cases, budgetCase{file: f, op: "encode", out: out})
		}
	}
	for _, f := range []string{"rgb-12mp.jpg", "gray-12mp.jpg", "rgba16-12mp.png"} {
		for _, op := range []string{"enhance:general", "enhance:portrait", "enhance:landscape", "colorize", "colorize-ref"} {
			cases = append(cases, budgetCase{file: f, op: op, out: engine.JPEG})
		}
	}
	for _, f := range []string{"rgb-3mp.jpg", "gray-3mp.jpg", "rgba16-3mp.png"} {
		for _, op := range []string{"upscale:2", "upscale:4"} {
			cases = append(cases, budgetCase{file: f, op: op, out: engine.JPEG}, budgetCase{file: f, op: op, out: engine.PNG})
		}
	}
	for _, f := range []string{"rgb-12mp.jpg", "rgb-12mp.png", "rgba16-12mp.png", "gray-12mp.jpg", "rgb-12mp.webp", "rgba-12mp.webp"} {
		for _, op := range []string{"enhance:general", "enhance:portrait", "enhance:landscape"} {
			cases = append(cases, budgetCase{file: f, op: op})
		}
	}
	for _, f := range []string{"rgb-3mp.png", "rgba16-3mp.png", "rgb-3mp.webp"} {
		cases = append(cases, budgetCase{file: f, op: "upscale:2"}, budgetCase{file: f, op: "upscale:4"})
	}
	for _, f := range []string{"gray-12mp.jpg", "rgb-12mp.png", "rgba16-12mp.png"} {
		cases = append(cases, budgetCase{file: f, op: "colorize"}, budgetCase{file: f, op: "colorize-ref"})
	}
	cases = append(cases,
		budgetCase{file: "rgb-12mp.jpg", op: "enhance:general", out: engine.WebP},
		budgetCase{file: "rgb-12mp.jpg", op: "enhance:portrait", out: engine.WebP},
		budgetCase{file: "rgba16-12mp.png", op: "enhance:general", out: engine.WebP},
		budgetCase{file: "rgb-3mp.jpg", op: "upscale:4", out: engine.WebP},
		budgetCase{file: "rgba16-3mp.png", op: "upscale:4", out: engine.WebP},
		budgetCase{file: "gray-12mp.jpg", op: "colorize", out: engine.WebP},
		budgetCase{file: "rgba16-12mp.png", op: "colorize", out: engine.WebP},
	)
	for _, f := range []string{"progressive-hidden-12mp.jpg", "rgb-ids-12mp.jpg", "cmyk-12mp.jpg"} {
		cases = append(cases, budgetCase{file: f, op: "decode"}, budgetCase{file: f, op: "enhance:general", out: engine.JPEG})
	}
	for _, f := range []string{"noisy-05mp.jpg", "noisy-2mp.jpg", "noisy-6mp.jpg", "noisy-12mp.jpg", "flat-05mp.jpg", "flat-2mp.jpg"} {
		for _, op := range []string{"enhance:general", "enhance:portrait", "enhance:landscape"} {
			cases = append(cases, budgetCase{file: f, op: op, out: engine.JPEG})
		}
	}
	cases = append(cases, budgetCase{file: "noisy-2mp.jpg", op: "encode", out: engine.JPEG})
	raw, err := os.Create(filepath.Join(os.TempDir(), "budget-raw.jsonl"))
	if err != nil {
		fail(err)
	}
	defer raw.Close()

	fmt.Fprintf(b, "\n## Memory per image\n\nPeak resident memory one operation adds to a fresh process (VmHWM after the operation minus VmRSS before it, GOGC=100, GOMEMLIMIT unset, %d cores), against engine.Plan's estimate (the weight the memory budget reserves). Megapixels are the work size: the output for upscale.\n\n", cores)
	b.WriteString("| file | operation | output | work MP | peak MB | MB per work MP | estimate MB | estimate ÷ peak | time |\n|---|---|---|---|---|---|---|---|---|\n")
	minRatio, maxRatio := 1e9, 0.0
	for _, c := range cases {
		{
			cmd := exec.Command(os.Args[0], "-images", h.images, "-only", "budget-child",
				"-child-input", filepath.Join(dir, c.file), "-child-type", c.op+":"+string(c.out), "-child-ref", filepath.Join(dir, "reference.jpg"))
			cmd.Env = append(os.Environ(), "GOMEMLIMIT=", "GOGC=")
			out, err := cmd.Output()
			if err != nil {
				fail(fmt.Errorf("budget child %v: %v: %s", c, err, out))
			}
			var r budgetResult
			if err := json.Unmarshal(out, &r); err != nil {
				fail(fmt.Errorf("budget child %v: %v: %s", c, err, out))
			}
			outName := string(c.out)
			if outName == "" {
				outName = "source"
			}
			ratio := float64(r.Estimate) / float64(r.PeakBytes)
			if c.op != "decode" && c.op != "encode" {
				minRatio, maxRatio = min(minRatio, ratio), max(maxRatio, ratio)
			}
			mp := float64(r.WorkPixels) / 1e6
			fmt.Fprintf(b, "| %s | %s | %s | %.1f | %.0f | %.1f | %.0f | %.2f | %.1f s |\n", c.file, c.op, outName, mp,
				float64(r.PeakBytes)/1e6, float64(r.PeakBytes)/1e6/mp, float64(r.Estimate)/1e6, ratio, float64(r.Millis)/1000)
			progress("budget: %s %s %s: peak %d MB, estimate %d MB", c.file, c.op, outName, r.PeakBytes>>20, r.Estimate>>20)
			fmt.Fprintf(raw, "{\"file\":%q,\"op\":%q,\"out\":%q,\"result\":%s}\n", c.file, c.op, outName, strings.TrimSpace(string(out)))
		}
	}
	fmt.Fprintf(b, "\nEstimate ÷ peak over the whole operations: %.2f to %.2f. The decode and encode rows are each phase alone, which the estimate counts in separate parts (decoder, planes, encoder); their estimate column is the operation's.\n", minRatio, maxRatio)
}

// budgetChild runs one operation and prints a budgetResult.
func (h *harness) budgetChild(path, spec, refPath string) {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	parts := strings.Split(spec, ":")
	op, arg, out := parts[0], parts[1], engine.Format(parts[len(parts)-1])
	if len(parts) == 2 {
		arg = ""
	}
	var ref []byte
	if op == "colorize-ref" {
		if ref, err = os.ReadFile(refPath); err != nil {
			fail(err)
		}
	}
	cfg, _, err := h.engine.DecodeConfig(data)
	if err != nil {
		fail(err)
	}
	hints := []engine.ColorHint{
		{Points: [][2]int{{10, 10}, {cfg.Width / 2, cfg.Height / 2}}, R: 0.8, G: 0.2, B: 0.2, Width: 9},
		{Points: [][2]int{{cfg.Width - 10, 10}, {cfg.Width / 3, cfg.Height - 10}}, R: 0.2, G: 0.7, B: 0.3, Width: 9},
	}
	planOpts := engine.PlanOptions{Hints: hints, Output: out}
	switch op {
	case "decode", "encode":
		planOpts.Operation = engine.OpEnhance
	case "enhance":
		planOpts.Operation = engine.OpEnhance
		planOpts.Pipeline = engine.EnhancementType(arg)
	case "upscale":
		planOpts.Operation = engine.OpUpscale
		planOpts.Factor, _ = strconv.Atoi(arg)
	case "colorize", "colorize-ref":
		planOpts.Operation = engine.OpColorize
		planOpts.Reference = ref
	}
	plan, err := h.engine.Plan(data, planOpts)
	if err != nil {
		fail(err)
	}
	var decoded *engine.Image
	if op == "encode" {
		if decoded, _, err = h.engine.Decode(data); err != nil {
			fail(err)
		}
	}
	debug.FreeOSMemory()
	base := procStatus("VmRSS:")
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		fail(err)
	}
	start := time.Now()
	enc := engine.EncodeOptions{Format: out}
	switch op {
	case "decode":
		_, _, err = h.engine.Decode(data)
	case "encode":
		_, err = h.engine.Encode(decoded, enc)
	case "enhance":
		_, err = h.engine.Enhance(context.Background(), data, engine.EnhanceOptions{Type: engine.EnhancementType(arg), EncodeOptions: enc})
	case "upscale":
		_, err = h.engine.UpscaleBytes(context.Background(), data, engine.UpscaleOptions{Factor: planOpts.Factor, EncodeOptions: enc})
	case "colorize", "colorize-ref":
		_, err = h.engine.ColorizeBytes(context.Background(), data, engine.ColorizeOptions{Hints: hints, Reference: ref, EncodeOptions: enc})
	default:
		err = fmt.Errorf("unknown operation %q", op)
	}
	if err != nil {
		fail(err)
	}
	took := time.Since(start)
	peak := procStatus("VmHWM:")
	json.NewEncoder(os.Stdout).Encode(budgetResult{
		PeakBytes: peak - base, Estimate: plan.Memory, WorkPixels: plan.Width * plan.Height, Millis: took.Milliseconds(),
	})
}

// procStatus reads one kB field of /proc/self/status, in bytes.
func procStatus(field string) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				fail(err)
			}
			return kb << 10
		}
	}
	fail(fmt.Errorf("no %s in /proc/self/status", field))
	return 0
}

// burst is the attack on the real binary, with and without the
// memory budget: six 25 MP 16-bit RGBA PNGs of zeros (194 KB each) sent at
// once to a server with six workers, its peak resident memory (VmHWM),
// answers and time. Without a budget flag the server would take half the
// machine's memory, so "unbounded" names a budget larger than six weights.
func (h *harness) burst(b *strings.Builder) {
	dir, err := os.MkdirTemp("", "burst")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "enhanced")
	if out, err := exec.Command("go", "build", "-tags", "nodynamic", "-o", bin, "./cmd/enhanced").CombinedOutput(); err != nil {
		fail(fmt.Errorf("build: %v: %s", err, out))
	}
	src := enginetest.PNGOfZeros(5000, 5000, 16, 6)
	plan, err := h.engine.Plan(src, engine.PlanOptions{Operation: engine.OpEnhance})
	if err != nil {
		fail(err)
	}
	w := plan.Memory
	fmt.Fprintf(b, "\n## A burst of large images\n\nSix 25 MP 16-bit RGBA PNGs of zeros (%d bytes each; weight %s each) sent at once to `enhanced --workers 6 --queue 6` on %d cores, GOMEMLIMIT set to the budget.\n\n", len(src), admission.Bytes(w), runtime.NumCPU())
	b.WriteString("| budget | answers | time | peak RSS |\n|---|---|---|---|\n")
	for _, c := range []struct {
		name   string
		budget int64
	}{{"one at a time (1.5 weights)", w + w/2}, {"two at a time (2.5 weights)", 2*w + w/2}, {"unbounded (7 weights)", 7 * w}} {
		statuses, took, peak := burstRun(bin, filepath.Join(dir, fmt.Sprint(c.budget)), src, c.budget)
		fmt.Fprintf(b, "| %s: %s | %v | %.0f s | %s |\n", c.name, admission.Bytes(c.budget), statuses, took.Seconds(), admission.Bytes(peak))
		progress("burst: %s: %v in %v, peak %s", c.name, statuses, took, admission.Bytes(peak))
	}
}

// burstRun starts bin with budget, sends src six times at once and
// reports the answers' statuses, the time and the server's VmHWM.
func burstRun(bin, dataDir string, src []byte, budget int64) (statuses []int, took time.Duration, peak int64) {
	cmd := exec.Command(bin, "--dev-account", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0",
		"--metrics-addr", "", "--workers", "6", "--queue", "6", "--request-timeout", "9m", "--memory-budget", fmt.Sprint(budget))
	cmd.Env = append(os.Environ(), fmt.Sprintf("GOMEMLIMIT=%d", budget))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		fail(err)
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	base := ""
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := regexp.MustCompile(`REST:\s+(https://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
		}
		if strings.Contains(sc.Text(), "msg=serving") {
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	key, err := os.ReadFile(filepath.Join(dataDir, "dev-api-key"))
	if err != nil {
		fail(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dataDir, "tls", "ca.pem"))
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	statuses = make([]int, 6)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range statuses {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, base+"/v1/enhance", bytes.NewReader(src))
			req.Header.Set("Content-Type", "image/png")
			req.Header.Set("x-api-key", strings.TrimSpace(string(key)))
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	took = time.Since(start)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		fail(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			peak = kb << 10
		}
	}
	return statuses, took, peak
}
