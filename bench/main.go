// Command bench is the measurement harness behind docs/quality.md and
// docs/speed.md: super-resolution PSNR/SSIM on Set5 and Set14,
// enhancement colour error on degraded Kodak photos next to ImageMagick's
// automatic options, colorization from sparse hints, speed against
// ImageMagick and libvips on camera photos, and before/after contact
// sheets. Run it with `make harness`; it is not part of `make test`.
// `-only generalise` writes docs/generalisation.md: the general pipeline
// on Kodak and on camera photos at 1 MP, tuning and held-out halves apart.
// `-only illuminant` trains the general pipeline's white balance estimator
// on the tuning halves and writes internal/engine/illuminant.json.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/smartimage/enhance/internal/engine"
)

func main() {
	images := flag.String("images", "../shared/testdata/images", "folder with set5/, set14/, kodak/ and camera/")
	out := flag.String("out", "docs", "folder for the reports and contact sheets")
	only := flag.String("only", "quality,speed,sheets", "comma-separated parts to run")
	childInput := flag.String("child-input", "", "internal: the file the memory child enhances")
	childType := flag.String("child-type", "general", "internal: the memory child's pipeline")
	childRef := flag.String("child-ref", "", "internal: the budget child's colorization reference")
	kodak := flag.Int("kodak", 0, "use only the first N Kodak images (0: all); for quick tuning runs")
	weights := flag.String("weights", "internal/engine/illuminant.json", "where -only illuminant writes the trained estimator")
	noMagick := flag.Bool("no-magick", false, "skip the ImageMagick comparisons; for quick tuning runs")
	flag.Parse()
	e, err := engine.New(engine.Config{MaxSourcePixels: 30_000_000, MaxOutputPixels: 200_000_000, Workers: runtime.NumCPU()})
	if err != nil {
		fail(err)
	}
	h := &harness{engine: e, images: *images, out: *out, kodak: *kodak, noMagick: *noMagick}
	for _, part := range strings.Split(*only, ",") {
		switch part {
		case "quality":
			h.quality()
		case "enhance":
			var b strings.Builder
			h.enhancement(&b)
			fmt.Print(b.String())
		case "generalise":
			h.generalise()
		case "cast-diag":
			h.castDiag()
		case "illuminant-diag":
			h.illuminantDiag()
		case "illuminant":
			h.illuminant(*weights)
		case "speed":
			h.speed()
		case "learned":
			var b strings.Builder
			h.learned(&b)
			fmt.Print(b.String())
		case "sheets":
			h.sheets()
		case "steps-general", "steps-portrait", "steps-landscape":
			h.steps(engine.EnhancementType(strings.TrimPrefix(part, "steps-")))
		case "memory":
			var b strings.Builder
			h.memory(&b)
			fmt.Print(b.String())
		case "memory-child":
			h.memoryChild(*childInput, *childType)
		case "budget":
			var b strings.Builder
			h.budget(&b)
			fmt.Print(b.String())
		case "burst":
			var b strings.Builder
			h.burst(&b)
			fmt.Print(b.String())
		case "budget-child":
			h.budgetChild(*childInput, *childType, *childRef)
		default:
			fail(fmt.Errorf("unknown part %q", part))
		}
	}
}

type harness struct {
	engine   *engine.Engine
	images   string
	out      string
	kodak    int
	noMagick bool
}

func (h *harness) load(path string) *engine.Image {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	img, _, err := h.engine.Decode(data)
	if err != nil {
		fail(fmt.Errorf("%s: %w", path, err))
	}
	return img
}

func (h *harness) glob(dir string) []string {
	names, err := filepath.Glob(filepath.Join(h.images, dir, "*"))
	if err != nil || len(names) == 0 {
		fail(fmt.Errorf("no images in %s", filepath.Join(h.images, dir)))
	}
	if dir == "kodak" && h.kodak > 0 && h.kodak < len(names) {
		names = names[:h.kodak]
	}
	return names
}

func (h *harness) write(name, content string) {
	path := filepath.Join(h.out, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		fail(err)
	}
	fmt.Println("wrote", path)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
