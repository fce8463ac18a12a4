package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/quality"
)

// learned scores the trained networks against the classical methods,
// side by side in one run (docs/learned.md): super-resolution on Set5 and
// Set14 and its speed, and automatic colorization on kodim13-24, which no
// network was trained on.
func (h *harness) learned(b *strings.Builder) {
	classical, err := engine.New(engine.Config{MaxSourcePixels: 30_000_000, MaxOutputPixels: 200_000_000, Workers: runtime.NumCPU(), Classical: true})
	if err != nil {
		fail(err)
	}
	h.learnedSR(b)
	h.learnedSpeed(b)
	h.learnedColor(b, classical)
}

func (h *harness) learnedSR(b *strings.Builder) {
	b.WriteString("## Super-resolution\n\nHR cropped to a multiple of the scale, shrunk with the engine's antialiased bicubic (MATLAB's kernel), rounded to 8 bits, enlarged, compared on BT.601 luma (MATLAB's `rgb2ycbcr`, from 8-bit RGB) with the scale cropped from each border.\n\n")
	b.WriteString("| set | scale | bicubic | classical (back-projection) | learned | learned − classical |\n|---|---|---|---|---|---|\n")
	for _, set := range []string{"set5", "set14"} {
		names := h.glob(set)
		for _, s := range []int{2, 3, 4} {
			var sum [3]float64
			for _, n := range names {
				hr := modcrop(h.load(n), s)
				lr := quantize(engine.Resize(hr, hr.Width/s, hr.Height/s, engine.Bicubic, 2))
				outs := []*engine.Image{engine.Resize(lr, hr.Width, hr.Height, engine.Bicubic, 2)}
				for _, m := range []engine.UpscaleMode{engine.ModeClassical, engine.ModeLearned} {
					o, err := h.engine.UpscaleWith(lr, s, m)
					if err != nil {
						fail(err)
					}
					outs = append(outs, o)
				}
				for k, o := range outs {
					p, _ := quality.PSNRY(hr, quantize(o), s)
					sum[k] += p
				}
			}
			n := float64(len(names))
			fmt.Fprintf(b, "| %s | ×%d | %.2f dB | %.2f dB | **%.2f dB** | %+.2f dB |\n", set, s, sum[0]/n, sum[1]/n, sum[2]/n, (sum[2]-sum[1])/n)
			progress("learned sr %s x%d done", set, s)
		}
	}
	b.WriteString("\n")
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func (h *harness) learnedSpeed(b *strings.Builder) {
	img := h.load(filepath.Join(h.images, "kodak", "kodim05.png"))
	outMP := 4 * float64(img.Width*img.Height) / 1e6
	var load [3]float64
	if avg, err := readLoad(); err == nil {
		load = avg
	}
	fmt.Fprintf(b, "## Upscale speed\n\nkodim05 (768×512) ×2 to %.2f MP, %d workers, best of 3 runs per mode, modes alternated in one process; load average at the start %.1f. CPU seconds are the process's user+system time, which another tenant's load inflates far less than wall time.\n\n| mode | wall s per output MP | CPU s per output MP |\n|---|---|---|\n", outMP, runtime.NumCPU(), load[0])
	best := map[engine.UpscaleMode][2]float64{}
	for range 3 {
		for _, m := range []engine.UpscaleMode{engine.ModeClassical, engine.ModeLearned} {
			runtime.GC()
			c0, t0 := cpuSeconds(), time.Now()
			if _, err := h.engine.UpscaleWith(img, 2, m); err != nil {
				fail(err)
			}
			wall, cpu := time.Since(t0).Seconds()/outMP, (cpuSeconds()-c0)/outMP
			if v, ok := best[m]; !ok || wall < v[0] {
				best[m] = [2]float64{wall, cpu}
			}
		}
	}
	for _, m := range []engine.UpscaleMode{engine.ModeClassical, engine.ModeLearned} {
		fmt.Fprintf(b, "| %s | %.2f | %.2f |\n", m, best[m][0], best[m][1])
	}
	fmt.Fprintf(b, "\nLearned / classical: %.1f× the wall time, %.1f× the CPU time.\n\n", best[engine.ModeLearned][0]/best[engine.ModeClassical][0], best[engine.ModeLearned][1]/best[engine.ModeClassical][1])
	progress("learned speed done")
}

func readLoad() ([3]float64, error) {
	var l [3]float64
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l, err
	}
	_, err = fmt.Sscan(string(data), &l[0], &l[1], &l[2])
	return l, err
}

// colourfulness is Hasler and Süsstrunk's (2003) measure on 0..255 RGB.
func colourfulness(m *engine.Image) float64 {
	if m.Gray() {
		return 0
	}
	var srg, syb, qrg, qyb float64
	n := float64(m.Width * m.Height)
	for i := range m.Planes[0] {
		r, g, bl := 255*float64(m.Planes[0][i]), 255*float64(m.Planes[1][i]), 255*float64(m.Planes[2][i])
		rg, yb := r-g, 0.5*(r+g)-bl
		srg += rg
		syb += yb
		qrg += rg * rg
		qyb += yb * yb
	}
	mrg, myb := srg/n, syb/n
	sdrg, sdyb := math.Sqrt(max(qrg/n-mrg*mrg, 0)), math.Sqrt(max(qyb/n-myb*myb, 0))
	return math.Hypot(sdrg, sdyb) + 0.3*math.Hypot(mrg, myb)
}

// learnedHints is the sparse guidance of the hint comparisons: 16 random
// points, 5 pixels wide, each with the original's colour there.
func learnedHints(orig *engine.Image, seed uint64) []engine.ColorHint {
	r := rand.New(rand.NewPCG(seed, 21))
	var hints []engine.ColorHint
	for range 16 {
		x, y := r.IntN(orig.Width), r.IntN(orig.Height)
		i := y*orig.Width + x
		hints = append(hints, engine.ColorHint{Points: [][2]int{{x, y}}, R: orig.Planes[0][i], G: orig.Planes[1][i], B: orig.Planes[2][i], Width: 5})
	}
	return hints
}

func (h *harness) learnedColor(b *strings.Builder, classical *engine.Engine) {
	type score struct{ psnr, de, colour float64 }
	rows := []string{"gray image as it is", "16 point hints (hint solver)", "automatic, no hints (learned)"}
	sums := make([]score, len(rows))
	var origColour float64
	var cells []*engine.Image
	names := h.glob("kodak")
	var eval []string
	for _, n := range names {
		var k int
		if _, err := fmt.Sscanf(filepath.Base(n), "kodim%d.png", &k); err == nil && k >= 13 {
			eval = append(eval, n)
		}
	}
	for k, n := range eval {
		orig := h.load(n)
		g := image.NewGray(image.Rect(0, 0, orig.Width, orig.Height))
		for i := range g.Pix {
			y := 0.299*orig.Planes[0][i] + 0.587*orig.Planes[1][i] + 0.114*orig.Planes[2][i]
			g.Pix[i] = uint8(min(max(y, 0), 1)*255 + 0.5)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, g); err != nil {
			fail(err)
		}
		grayImg, _, _ := h.engine.Decode(buf.Bytes())
		gray3 := engine.NewImage(orig.Width, orig.Height, 3, false)
		for c := range 3 {
			copy(gray3.Planes[c], grayImg.Planes[0])
		}
		hints := learnedHints(orig, uint64(k))
		outs := []*engine.Image{gray3}
		for _, run := range []struct {
			e     *engine.Engine
			hints []engine.ColorHint
		}{{classical, hints}, {h.engine, nil}} {
			res, err := run.e.ColorizeBytes(context.Background(), buf.Bytes(), engine.ColorizeOptions{Hints: run.hints, EncodeOptions: engine.EncodeOptions{Format: engine.PNG}})
			if err != nil {
				fail(err)
			}
			out, _, err := h.engine.Decode(res.Data)
			if err != nil {
				fail(err)
			}
			outs = append(outs, out)
		}
		for i, o := range outs {
			p, _ := quality.PSNR(orig, o)
			d, _ := quality.MeanDeltaE2000(orig, o)
			sums[i].psnr += p
			sums[i].de += d
			sums[i].colour += colourfulness(o)
		}
		origColour += colourfulness(orig)
		if k%3 == 0 {
			cells = append(cells, thumbnail(gray3, 256), thumbnail(outs[2], 256), thumbnail(orig, 256))
		}
		progress("learned colour %s done", filepath.Base(n))
	}
	n := float64(len(eval))
	fmt.Fprintf(b, "## Automatic colorization\n\nkodim13–24 (never trained on) made gray (BT.601 luma, 8 bits), coloured through `ColorizeBytes` to PNG; PSNR over RGB, mean CIEDE2000 and colourfulness (Hasler and Süsstrunk 2003; the originals' mean is %.1f) against the original. Hints: 16 random points 5 pixels wide with the original's colour there.\n\n| | PSNR | mean ΔE00 | colourfulness |\n|---|---|---|---|\n", origColour/n)
	for i, r := range rows {
		fmt.Fprintf(b, "| %s | %.2f dB | %.2f | %.1f |\n", r, sums[i].psnr/n, sums[i].de/n, sums[i].colour/n)
	}
	b.WriteString("\nContact sheet (gray, learned, original; kodim13, 16, 19, 22): `contact-colorize-learned.png`.\n\n")
	h.writeSheet("contact-colorize-learned.png", cells, 3, 256)
}
