package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/quality"
)

// illuminantDiag (`-only illuminant-diag`) prints, for every Kodak and
// camera photo, what the learned estimator reads undamaged and under each
// of issue 16's damages: the reading, its scene standard deviation, the
// estimate and the confidence. A check of the estimator alone, for tuning.
func (h *harness) illuminantDiag() {
	wb := engine.GeneralPipeline()[0].(engine.WhiteBalance)
	m := engine.Illuminant()
	want := onLocus(math.Log(0.82), math.Log(1.12))
	fmt.Printf("issue cast: %.3f %.3f\n", want[0], want[1])
	for _, dir := range []string{"kodak", "camera"} {
		for _, n := range h.glob(dir) {
			orig := h.load(n)
			if dir == "camera" {
				orig = areaShrink(orig, genTarget)
			}
			quantize(orig)
			split := "held"
			if cameraTune[filepath.Base(n)] || (dir == "kodak" && filepath.Base(n) < "kodim13") {
				split = "tune"
			}
			line := fmt.Sprintf("%-24.24s %s", filepath.Base(n), split)
			for di := range 5 {
				img := orig
				if di > 0 {
					img = genDamages[di-1].apply(orig)
				}
				f, _ := wb.Features(img, 2)
				v := f.Vector()
				r, sv := m.Reading(v)
				c, conf := m.Estimate(v)
				line += fmt.Sprintf(" | r%6.3f,%6.3f sd%.2f e%6.3f,%6.3f c%.2f", r[0], r[1], math.Sqrt(sv[0]), c[0], c[1], conf)
			}
			fmt.Println(line)
		}
	}
}

// castDiag (`-only cast-diag`) runs the general pipeline on each camera
// photo with the cast and prints the ΔE00 before and after and
// the steps: where a cast repair goes wrong, which step did it.
func (h *harness) castDiag() {
	for _, n := range h.glob("camera") {
		orig := areaShrink(h.load(n), genTarget)
		quantize(orig)
		bad := genDamages[1].apply(orig)
		de0, _ := quality.MeanDeltaE2000(orig, bad)
		fixed := cloneImage(bad)
		steps, _ := engine.GeneralPipeline().Run(context.Background(), fixed, 2)
		de1, _ := quality.MeanDeltaE2000(orig, quantize(fixed))
		fmt.Printf("%-24.24s %.2f -> %.2f %v\n", filepath.Base(n), de0, de1, steps)
	}
}
