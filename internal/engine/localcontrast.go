package engine

import "math"

// LocalContrast is CLAHE (contrast-limited adaptive histogram
// equalisation, Zuiderveld 1994) on luma: each tile's histogram is
// clipped at ClipLimit times its mean so flat areas are not blown into
// noise, equalised, and the tile mappings are blended bilinearly. The
// luma change is added to every channel, so hues and saturation stay.
// Amount blends the equalised luma with the original, in full only when
// the photo lacks contrast: the blend shrinks to nothing as the luma's
// standard deviation approaches TargetStd, so a photo with good contrast
// is left alone.
type LocalContrast struct {
	Tiles     int
	ClipLimit float64
	Amount    float32
	TargetStd float64
	// Found, when set, is what the Levels before this step found (see
	// Levels.Found). A photo whose range levels left alone was exposed as
	// its author meant, and a low global contrast there is the scene (a
	// pale wall, a dark room, fog, fine texture), not a loss; CLAHE would
	// add structure nobody asked for. So the share is also trusted only
	// as far as levels had to stretch the range, in full from a stretch
	// of FullStretch.
	Found       *float64
	FullStretch float64
}

// Name implements Step.
func (LocalContrast) Name() string { return "local_contrast" }

const claheBins = 256

// Apply implements Step.
func (lc LocalContrast) Apply(img *Image, workers int) (map[string]string, bool) {
	if lc.Amount <= 0 || img.Width < 2*lc.Tiles || img.Height < 2*lc.Tiles {
		return nil, false
	}
	w, h := img.Width, img.Height
	amount := lc.Amount * float32(lc.share(img))
	if amount < 0.01 {
		return nil, false
	}
	luma := img.Luma(workers)
	defer img.recycle(luma)
	tx, ty := lc.Tiles, lc.Tiles
	maps := make([][]float32, tx*ty)
	parallelRows(ty, workers, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			for i := range tx {
				maps[j*tx+i] = lc.tileMap(luma, w, i*w/tx, (i+1)*w/tx, j*h/ty, (j+1)*h/ty)
			}
		}
	})
	delta := img.pool.plane(w * h)
	defer img.recycle(delta)
	parallelRows(h, workers, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			// Position between tile centres.
			fy := (float64(y)+0.5)*float64(ty)/float64(h) - 0.5
			j0 := int(math.Floor(fy))
			wy := float32(fy - float64(j0))
			j0c, j1c := min(max(j0, 0), ty-1), min(max(j0+1, 0), ty-1)
			for x := range w {
				fx := (float64(x)+0.5)*float64(tx)/float64(w) - 0.5
				i0 := int(math.Floor(fx))
				wx := float32(fx - float64(i0))
				i0c, i1c := min(max(i0, 0), tx-1), min(max(i0+1, 0), tx-1)
				v := luma[y*w+x]
				bin := int(clamp01(v)*(claheBins-1) + 0.5)
				top := maps[j0c*tx+i0c][bin]*(1-wx) + maps[j0c*tx+i1c][bin]*wx
				bot := maps[j1c*tx+i0c][bin]*(1-wx) + maps[j1c*tx+i1c][bin]*wx
				eq := top*(1-wy) + bot*wy
				delta[y*w+x] = amount * (eq - v)
			}
		}
	})
	parallelRows(h, workers, func(y0, y1 int) {
		for _, p := range img.Planes {
			for i := y0 * w; i < y1*w; i++ {
				p[i] = clamp01(p[i] + delta[i])
			}
		}
	})
	return map[string]string{
		"tiles":  formatFloat(float32(lc.Tiles)),
		"clip":   formatFloat(float32(lc.ClipLimit)),
		"amount": formatFloat(amount),
	}, true
}

// share is the part of Amount to apply: 1 for a flat photo, falling
// linearly to 0 as the luma's standard deviation reaches TargetStd.
func (lc LocalContrast) share(img *Image) float64 {
	// A sparse grid is plenty for a global statistic, and it spares a
	// photo with good contrast a full-size luma plane.
	at := lumaAt(img)
	step := max(1, int(math.Sqrt(float64(img.Width*img.Height)/250000)))
	var sum, sq, n float64
	for y := 0; y < img.Height; y += step {
		for x := 0; x < img.Width; x += step {
			v := float64(at(y*img.Width + x))
			sum += v
			sq += v * v
			n++
		}
	}
	std := math.Sqrt(max(0, sq/n-(sum/n)*(sum/n)))
	deficit := math.Min(1, math.Max(0, (lc.TargetStd-std)/(lc.TargetStd/2)))
	if lc.Found != nil {
		deficit *= trust(*lc.Found, lc.FullStretch)
	}
	return deficit
}

// tileMap is the clipped, equalised mapping of one tile's histogram.
func (lc LocalContrast) tileMap(luma []float32, w, x0, x1, y0, y1 int) []float32 {
	var hist [claheBins]float64
	for y := y0; y < y1; y++ {
		for _, v := range luma[y*w+x0 : y*w+x1] {
			hist[int(clamp01(v)*(claheBins-1)+0.5)]++
		}
	}
	n := float64((x1 - x0) * (y1 - y0))
	limit := lc.ClipLimit * n / claheBins
	excess := 0.0
	for i, c := range hist {
		if c > limit {
			excess += c - limit
			hist[i] = limit
		}
	}
	add := excess / claheBins
	m := make([]float32, claheBins)
	acc := 0.0
	for i, c := range hist {
		acc += c + add
		m[i] = float32(acc / n)
	}
	return m
}
