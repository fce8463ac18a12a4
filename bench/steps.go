package main

import (
	"context"
	"fmt"

	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/quality"
)

// steps prints, for tuning, the mean ΔE00 after each step of a pipeline
// for every damage (and none).
func (h *harness) steps(kind engine.EnhancementType) {
	names := h.glob("kodak")
	all := append([]degradation{{name: "none", fn: func(_ int, v float64, _ *randSource) float64 { return v }}}, degradations...)
	for di, d := range all {
		p, _ := engine.PipelineFor(kind)
		sums := make([]float64, len(p)+1)
		for k, n := range names {
			orig := withLamp(h.load(n), d)
			img := degrade(orig, d, uint64(k*100+di))
			de, _ := quality.MeanDeltaE2000(orig, img)
			sums[0] += de
			for j, s := range p {
				engine.Pipeline{s}.Run(context.Background(), img, 2)
				de, _ := quality.MeanDeltaE2000(orig, quantize(cloneImage(img)))
				sums[j+1] += de
			}
		}
		fmt.Printf("%-16s %6.2f", d.name, sums[0]/float64(len(names)))
		for j, s := range p {
			fmt.Printf("  %s %.2f", s.Name(), sums[j+1]/float64(len(names)))
		}
		fmt.Println()
	}
}
