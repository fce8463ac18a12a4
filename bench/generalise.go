package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/quality"
)

// The generalisation harness (issue 16): the general pipeline on two sets,
// Kodak as it is and the camera photos shrunk to about 1 MP, each split
// into a tuning half and a held-out half, so that every number also says
// what happens on photos the code was never tuned on.

// genTarget is the pixel count camera photos are shrunk to: about what a
// web upload is, and what issue 16 measured.
const genTarget = 1_000_000

// Splits. Kodak: kodim01–12 tune, kodim13–24 are held out (the issue's
// own suggestion; the numbering carries no order by content).
//
// Camera: the 15 photos are paired by the kind of scene their README
// describes, one of each pair in each half, so that every kind the issue
// names as harmed (a dark low-key scene, fog, a saturated or graded
// colour scene, a near-white surface) can be tuned on, and a sibling of
// the same kind, never tuned on, tests whether the fix generalises rather
// than recognising the photo. Plain alphabetical alternation would have
// put the fog, dark and near-white failures mostly on one side. In each
// failure pair the photo the issue lists tunes and its sibling is held
// out; for the dark pair, both listed, the worst (Path) is held out. The
// remaining pairs go alphabetically first to tuning; the Foveon PNG, a
// different sensor and format, is held out on its own.
//
//	dark, low-key:             plasma_DarkestHour (tune)  plasma_Path (held out)
//	fog, muted:                plasma_ColdRipple (tune)   mate_Storm (held out)
//	saturated, graded colour:  plasma_ColorfulCups (tune) plasma_FallenLeaf (held out)
//	bright, near-white:        mate_Wood (tune)           mate_Dune (held out)
//	fine foliage texture:      Dragonfly (tune)           life (held out)
//	large, bokeh, low sun:     Kleiber (tune)             seeding (held out)
//	bridge / dogs at a window: Bridge (tune)              friends (held out)
//	Foveon sensor, PNG:                                   flower_foveon (held out)
var cameraTune = map[string]bool{
	"plasma_DarkestHour.jpg":         true,
	"plasma_ColdRipple.jpg":          true,
	"plasma_ColorfulCups.jpg":        true,
	"mate_Wood.jpg":                  true,
	"Dragonfly_by_Bolly.jpg":         true,
	"Kleiber_by_Lukas_Baubkus.jpg":   true,
	"Bridge_by_Sander_Klootwijk.jpg": true,
}

// genDamage is one of issue 16's damages, on 8-bit sRGB values v in
// 0..255 per channel (c is 0, 1, 2 for R, G, B); the result is clamped
// and rounded to 8 bits after each stage, as an encoded file would be.
type genDamage struct {
	name, how string
	stages    []func(c int, v float64) float64
}

var (
	genFlat = func(_ int, v float64) float64 { return 60 + v*130/255 }
	genCast = func(c int, v float64) float64 { return v * [3]float64{0.82, 1, 1.12}[c] }
	genDark = func(_ int, v float64) float64 {
		return 255 * math.Pow(math.Pow(v/255, 2.2)*math.Exp2(-1.2), 1/2.2)
	}
)

var genDamages = []genDamage{
	{"flat", "60 + v·130/255", []func(int, float64) float64{genFlat}},
	{"cast", "R×0.82, B×1.12", []func(int, float64) float64{genCast}},
	{"dark", "255·((v/255)^2.2 · 2^−1.2)^(1/2.2)", []func(int, float64) float64{genDark}},
	{"combo", "flat, then cast, then dark", []func(int, float64) float64{genFlat, genCast, genDark}},
}

func (d genDamage) apply(m *engine.Image) *engine.Image {
	out := cloneImage(m)
	for c, p := range out.Planes {
		for i, v := range p {
			x := math.Round(float64(v) * 255)
			for _, f := range d.stages {
				x = math.Round(min(255, max(0, f(c, x))))
			}
			p[i] = float32(x / 255)
		}
	}
	return out
}

// genResult is what one photo measured. Index 0 of the per-damage arrays
// is the undamaged photo ("do no harm"), 1.. the damages in order.
type genResult struct {
	name, split string
	w, h        int
	damaged     [5]float64 // ΔE00 of the input to the original
	ours        [5]float64
	magick      [5]float64 // NaN when ImageMagick failed
	steps       []float64  // undamaged: ΔE00 each general step moved its own input
	stepNames   []string
	// thumbs, for the contact sheets: per damage (0: none) the input, ours
	// and -auto-level's (nil when it did not run), each fitted in sheetThumb.
	thumbs [5][3]*engine.Image
}

// sheetThumb is the box a photo is fitted in on the camera contact sheets.
const sheetThumb = 180

type genSet struct {
	name, about string
	results     []genResult
}

// generalise writes docs/generalisation.md.
func (h *harness) generalise() {
	start := time.Now()
	sets := []*genSet{
		{name: "Kodak", about: "24 film scans, 768 × 512 as they are"},
		{name: "camera", about: "15 modern camera photos, shrunk to about 1 MP"},
	}
	for _, n := range h.glob("kodak") {
		base := filepath.Base(n)
		split := "held out"
		if base < "kodim13" {
			split = "tune"
		}
		sets[0].results = append(sets[0].results, genResult{name: n, split: split})
	}
	for _, n := range h.glob("camera") {
		split := "held out"
		if cameraTune[filepath.Base(n)] {
			split = "tune"
		}
		sets[1].results = append(sets[1].results, genResult{name: n, split: split})
	}
	// A worker per photo, each running its pipeline on one core: the
	// photos are small, and one core per photo wastes no time on
	// synchronisation.
	type job struct {
		r      *genResult
		shrink bool
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				h.generaliseOne(j.r, j.shrink)
				progress("generalise %s done", filepath.Base(j.r.name))
			}
		}()
	}
	for si, s := range sets {
		for i := range s.results {
			jobs <- job{&s.results[i], si == 1}
		}
	}
	close(jobs)
	wg.Wait()
	for _, s := range sets {
		for i := range s.results {
			s.results[i].name = filepath.Base(s.results[i].name)
		}
	}
	h.write("generalisation.md", genReport(sets, time.Since(start)))
	h.cameraSheets(sets[1].results)
}

// cameraSheets writes, for each damage, a contact sheet of the camera
// photos in the report's order (tuning half first): a row per photo with
// the original, the damaged input, ours and -auto-level's repair.
func (h *harness) cameraSheets(rs []genResult) {
	rs = slices.Clone(rs)
	slices.SortStableFunc(rs, func(a, b genResult) int { return cmp.Compare(b.split, a.split) })
	for di, d := range genDamages {
		var cells []*engine.Image
		for _, r := range rs {
			im := r.thumbs[di+1][2]
			if im == nil { // -no-magick: a blank cell
				im = engine.NewImage(1, 1, 1, false)
				im.Planes[0][0] = 1
			}
			cells = append(cells, r.thumbs[0][0], r.thumbs[di+1][0], r.thumbs[di+1][1], im)
		}
		h.writeSheet("contact-camera-"+d.name+".png", cells, 4, sheetThumb)
	}
}

// generaliseOne loads one photo, damages it every way, and repairs each
// with the general pipeline and with ImageMagick -auto-level.
func (h *harness) generaliseOne(r *genResult, shrink bool) {
	orig := h.load(r.name)
	if orig.Gray() {
		fail(fmt.Errorf("%s: gray photos are not measured", r.name))
	}
	if shrink {
		orig = areaShrink(orig, genTarget)
	}
	quantize(orig)
	r.w, r.h = orig.Width, orig.Height
	ctx := context.Background()
	for di := range 5 {
		bad := orig
		if di > 0 {
			bad = genDamages[di-1].apply(orig)
		}
		// Both repairs start from the same 8-bit PNG.
		png, err := h.engine.Encode(bad, engine.EncodeOptions{Format: engine.PNG})
		if err != nil {
			fail(err)
		}
		in, _, err := h.engine.Decode(png)
		if err != nil {
			fail(err)
		}
		r.damaged[di], _ = quality.MeanDeltaE2000(orig, in)
		p, _ := engine.PipelineFor(engine.General)
		fixed := cloneImage(in)
		if di == 0 {
			// Undamaged: the steps one at a time, as Run applies them,
			// measuring what each moved.
			corrected := false
			for _, s := range p {
				before := quantize(cloneImage(fixed))
				if !engine.Skips(s, corrected) {
					_, ok := s.Apply(fixed, 1)
					corrected = corrected || ok
				}
				de, _ := quality.MeanDeltaE2000(before, quantize(cloneImage(fixed)))
				r.steps = append(r.steps, de)
				r.stepNames = append(r.stepNames, s.Name())
			}
		} else if _, err := p.Run(ctx, fixed, 1); err != nil {
			fail(err)
		}
		r.ours[di], _ = quality.MeanDeltaE2000(orig, quantize(fixed))
		r.magick[di] = math.NaN()
		if shrink {
			r.thumbs[di][0], r.thumbs[di][1] = thumbnail(in, sheetThumb), thumbnail(fixed, sheetThumb)
		}
		if h.noMagick {
			continue
		}
		im := h.autoLevel(png)
		r.magick[di], _ = quality.MeanDeltaE2000(orig, im)
		if shrink {
			r.thumbs[di][2] = thumbnail(im, sheetThumb)
		}
	}
}

// autoLevel runs `convert -auto-level` on an encoded PNG, on one thread
// (a worker per photo already fills the cores). A failure stops the run:
// the report is a comparison with it.
func (h *harness) autoLevel(png []byte) *engine.Image {
	dir, err := os.MkdirTemp("", "generalise")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.png")
	if err := os.WriteFile(in, png, 0o644); err != nil {
		fail(err)
	}
	cmd := exec.Command("convert", in, "-auto-level", out)
	cmd.Env = append(os.Environ(), "MAGICK_THREAD_LIMIT=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		fail(fmt.Errorf("convert -auto-level (run with -no-magick to skip it): %w: %s", err, msg))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		fail(err)
	}
	m, _, err := h.engine.Decode(data)
	if err != nil {
		fail(fmt.Errorf("convert -auto-level's output: %w", err))
	}
	return m
}

// areaShrink resizes m to about pixels pixels, keeping the aspect ratio,
// by area averaging (each output pixel the mean of the source area it
// covers, partial pixels weighted by their overlap), on the sRGB-encoded
// values as most image tools do. It returns m itself when m is no larger.
func areaShrink(m *engine.Image, pixels int) *engine.Image {
	s := math.Sqrt(float64(pixels) / float64(m.Width*m.Height))
	if s >= 1 {
		return m
	}
	dw, dh := int(math.Round(float64(m.Width)*s)), int(math.Round(float64(m.Height)*s))
	wx, wy := areaWeights(m.Width, dw), areaWeights(m.Height, dh)
	out := engine.NewImage(dw, dh, len(m.Planes), false)
	out.ICC, out.Orientation = m.ICC, m.Orientation
	row := make([]float64, dw)
	acc := make([]float64, dw)
	for c, src := range m.Planes {
		dst := out.Planes[c]
		for oy, ty := range wy {
			clear(acc)
			for _, tap := range ty {
				line := src[tap.i*m.Width : (tap.i+1)*m.Width]
				for ox, tx := range wx {
					var v float64
					for _, t := range tx {
						v += t.w * float64(line[t.i])
					}
					row[ox] = v
				}
				for ox := range acc {
					acc[ox] += tap.w * row[ox]
				}
			}
			for ox, v := range acc {
				dst[oy*dw+ox] = float32(v)
			}
		}
	}
	return out
}

type areaTap struct {
	i int
	w float64
}

// areaWeights gives, for each of m output pixels along an axis of n
// source pixels, the source pixels it covers and their shares (summing to 1).
func areaWeights(n, m int) [][]areaTap {
	out := make([][]areaTap, m)
	scale := float64(n) / float64(m)
	for o := range out {
		lo, hi := float64(o)*scale, float64(o+1)*scale
		for i := int(lo); i < n && float64(i) < hi; i++ {
			w := min(hi, float64(i+1)) - max(lo, float64(i))
			if w > 1e-12 {
				out[o] = append(out[o], areaTap{i, w / scale})
			}
		}
	}
	return out
}

// genSplits are the report's columns of photos.
var genSplits = []string{"tune", "held out", "all"}

func inSplit(r genResult, split string) bool { return split == "all" || r.split == split }

// genMean is the mean over the photos of a split of f, and their count.
func genMean(rs []genResult, split string, f func(genResult) float64) (float64, int) {
	var sum float64
	n := 0
	for _, r := range rs {
		if inSplit(r, split) {
			sum += f(r)
			n++
		}
	}
	return sum / float64(n), n
}

func genReport(sets []*genSet, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generalisation: Kodak and camera photos at 1 MP\n\nGenerated by `go run -tags nodynamic ./bench -only generalise` (this run took %s on %d cores, ImageMagick on one thread per photo); do not edit by hand. It measures issue 16's targets on two sets, each split into a half the engine may be tuned on and a half it must not be, so that a held-out number says what happens on photos the code never saw.\n\n", took.Round(time.Second), runtime.NumCPU())
	b.WriteString("- **Kodak**: the 24 film scans as they are (768 × 512). Tune: kodim01–12; held out: kodim13–24.\n")
	b.WriteString("- **camera**: the 15 photos of `camera/`, decoded by the engine (EXIF orientation applied), shrunk to about 1 MP by area averaging on the sRGB values (aspect ratio kept) and rounded to 8 bits; that is the original. The photos are paired by kind of scene, one of each pair in each half (the pairs and why are in `bench/generalise.go`): tune: " + genNames(sets[1].results, "tune") + "; held out: " + genNames(sets[1].results, "held out") + ".\n\n")
	b.WriteString("The damages, on 8-bit sRGB values v in 0..255 per channel, each stage clamped and rounded to 8 bits as an encoded file would be:\n\n| damage | how |\n|---|---|\n")
	for _, d := range genDamages {
		fmt.Fprintf(&b, "| %s | %s |\n", d.name, d.how)
	}
	b.WriteString("\nEach damaged photo is written once as an 8-bit PNG; the general pipeline (`engine.GeneralPipeline`, as `POST /v1/enhance` runs it) and `convert -auto-level` repair that same file. Scores are mean CIEDE2000 (ΔE00, lower is better) against the undamaged original. \"recovered\" is the share of the damaged input's ΔE00 removed, over all photos of the row (1 − Σ ours ÷ Σ damaged). \"worse\" counts photos whose result is further from the original than the damaged input. \"do no harm\" is the undamaged photo itself through the same repairs. The camera photos' contact sheets, one per damage, show each photo in a row (the tuning half first, in the order listed above): the original, the damaged input, ours and `-auto-level`'s repair: [flat](contact-camera-flat.png), [cast](contact-camera-cast.png), [dark](contact-camera-dark.png), [combo](contact-camera-combo.png).\n\n")

	b.WriteString("## Summary\n\nTargets (issue 16): do no harm ≤ 1.5 ΔE00 on camera; worse than input: 0; the four damages at least 55% recovered and below `-auto-level` on both sets.\n\n")
	b.WriteString("| set | split | photos | do no harm: ours | do no harm: -auto-level | four damages: damaged | ours | -auto-level | recovered: ours | recovered: -auto-level | worse than input: ours | worse: -auto-level |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range sets {
		for _, split := range genSplits {
			harm, n := genMean(s.results, split, func(r genResult) float64 { return r.ours[0] })
			harmIM, _ := genMean(s.results, split, func(r genResult) float64 { return r.magick[0] })
			dam, _ := genMean(s.results, split, func(r genResult) float64 { return sum4(r.damaged) / 4 })
			ours, _ := genMean(s.results, split, func(r genResult) float64 { return sum4(r.ours) / 4 })
			im, _ := genMean(s.results, split, func(r genResult) float64 { return sum4(r.magick) / 4 })
			wo, wi := genWorse(s.results, split, 0)
			fmt.Fprintf(&b, "| %s | %s | %d | %.2f | %s | %.2f | **%.2f** | %s | %.0f%% | %s | %d of %d | %s |\n",
				s.name, split, n, harm, genNum(harmIM), dam, ours, genNum(im), 100*(1-ours/dam), genPct(1-im/dam), wo, 4*n, genCount(wi, 4*n, !math.IsNaN(im)))
		}
	}

	for _, s := range sets {
		fmt.Fprintf(&b, "\n## %s: each damage\n\n%s. Mean ΔE00; recovered in brackets; worse = results further from the original than their input.\n\n", s.name, s.about)
		b.WriteString("| damage | split | damaged | ours | -auto-level | worse: ours | worse: -auto-level |\n|---|---|---|---|---|---|---|\n")
		for di := range 5 {
			label := "do no harm"
			if di > 0 {
				label = genDamages[di-1].name
			}
			for _, split := range genSplits {
				dam, n := genMean(s.results, split, func(r genResult) float64 { return r.damaged[di] })
				ours, _ := genMean(s.results, split, func(r genResult) float64 { return r.ours[di] })
				im, _ := genMean(s.results, split, func(r genResult) float64 { return r.magick[di] })
				if di == 0 {
					fmt.Fprintf(&b, "| %s | %s | 0.00 | **%.2f** | %s | | |\n", label, split, ours, genNum(im))
					continue
				}
				wo, wi := genWorse(s.results, split, di)
				fmt.Fprintf(&b, "| %s | %s | %.2f | **%.2f** (%.0f%%) | %s (%s) | %d of %d | %s |\n",
					label, split, dam, ours, 100*(1-ours/dam), genNum(im), genPct(1-im/dam), wo, n, genCount(wi, n, !math.IsNaN(im)))
			}
		}
		var worse []string
		for _, r := range s.results {
			for di := 1; di < 5; di++ {
				if r.ours[di] > r.damaged[di] {
					worse = append(worse, fmt.Sprintf("%s %s (%s): %.2f → %.2f", r.name, genDamages[di-1].name, r.split, r.damaged[di], r.ours[di]))
				}
			}
		}
		if len(worse) > 0 {
			b.WriteString("\nOurs worse than its input (photo, damage, split: damaged ΔE00 → ours): " + strings.Join(worse, "; ") + ".\n")
		}
	}

	cam := sets[1].results
	steps := cam[0].stepNames
	b.WriteString("\n## Do no harm on the camera photos, each\n\nThe undamaged 1 MP photo through the general pipeline, worst first. Each step column is the ΔE00 that step alone moved its own input (the steps run one at a time in the pipeline's order, as `Run` applies them), so the columns need not add up to the total; \"moved most\" names the largest.\n\n| photo | split | size | ours ΔE00 | -auto-level |")
	for _, n := range steps {
		b.WriteString(" " + n + " |")
	}
	b.WriteString(" moved most |\n|---|---|---|---|---|" + strings.Repeat("---|", len(steps)) + "---|\n")
	sorted := slices.Clone(cam)
	slices.SortStableFunc(sorted, func(a, b genResult) int { return cmp.Compare(b.ours[0], a.ours[0]) })
	for _, r := range sorted {
		fmt.Fprintf(&b, "| %s | %s | %d × %d | **%.2f** | %s |", r.name, r.split, r.w, r.h, r.ours[0], genNum(r.magick[0]))
		most := 0
		for j, d := range r.steps {
			fmt.Fprintf(&b, " %.2f |", d)
			if d > r.steps[most] {
				most = j
			}
		}
		name := r.stepNames[most]
		if r.steps[most] < 0.005 { // no step moved the photo visibly (0.00 as printed)
			name = "none"
		}
		fmt.Fprintf(&b, " %s |\n", name)
	}
	return b.String()
}

func sum4(a [5]float64) float64 { return a[1] + a[2] + a[3] + a[4] }

// genWorse counts the results of a split further from the original than
// their input, ours and -auto-level's, for damage di (0: all four).
func genWorse(rs []genResult, split string, di int) (ours, im int) {
	for _, r := range rs {
		if !inSplit(r, split) {
			continue
		}
		for d := 1; d < 5; d++ {
			if di != 0 && d != di {
				continue
			}
			if r.ours[d] > r.damaged[d] {
				ours++
			}
			if r.magick[d] > r.damaged[d] {
				im++
			}
		}
	}
	return ours, im
}

func genNames(rs []genResult, split string) string {
	var names []string
	for _, r := range rs {
		if r.split == split {
			names = append(names, strings.TrimSuffix(filepath.Base(r.name), filepath.Ext(r.name)))
		}
	}
	return strings.Join(names, ", ")
}

func genNum(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

func genPct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

// genCount is a count out of n for -auto-level, n/a when it did not run.
func genCount(v, n int, ran bool) string {
	if !ran {
		return "n/a"
	}
	return fmt.Sprintf("%d of %d", v, n)
}
