package quality

import (
	"math"
	"sync"

	"github.com/smartimage/enhance/internal/engine"
)

// Lab converts one sRGB colour (components in [0, 1]) to CIELAB (D65).
func Lab(r, g, b float64) (l, a, bb float64) {
	return labLinear(engine.SRGBToLinear(r), engine.SRGBToLinear(g), engine.SRGBToLinear(b))
}

func labLinear(R, G, B float64) (l, a, bb float64) {
	x := (0.4124564*R + 0.3575761*G + 0.1804375*B) / 0.95047
	y := 0.2126729*R + 0.7151522*G + 0.0721750*B
	z := (0.0193339*R + 0.1191920*G + 0.9503041*B) / 1.08883
	f := func(t float64) float64 {
		if t > 216.0/24389 {
			return math.Cbrt(t)
		}
		return (24389.0/27*t + 16) / 116
	}
	fx, fy, fz := f(x), f(y), f(z)
	return 116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)
}

// DeltaE2000 is the CIEDE2000 difference of two CIELAB colours (Sharma,
// Wu and Dalal 2005).
func DeltaE2000(l1, a1, b1, l2, a2, b2 float64) float64 {
	const deg = math.Pi / 180
	c1, c2 := math.Hypot(a1, b1), math.Hypot(a2, b2)
	cm := (c1 + c2) / 2
	cm7 := math.Pow(cm, 7)
	g := 0.5 * (1 - math.Sqrt(cm7/(cm7+math.Pow(25, 7))))
	a1p, a2p := (1+g)*a1, (1+g)*a2
	c1p, c2p := math.Hypot(a1p, b1), math.Hypot(a2p, b2)
	hp := func(a, b float64) float64 {
		if a == 0 && b == 0 {
			return 0
		}
		h := math.Atan2(b, a) / deg
		if h < 0 {
			h += 360
		}
		return h
	}
	h1p, h2p := hp(a1p, b1), hp(a2p, b2)
	dL := l2 - l1
	dC := c2p - c1p
	var dh float64
	switch {
	case c1p*c2p == 0:
		dh = 0
	case math.Abs(h2p-h1p) <= 180:
		dh = h2p - h1p
	case h2p-h1p > 180:
		dh = h2p - h1p - 360
	default:
		dh = h2p - h1p + 360
	}
	dH := 2 * math.Sqrt(c1p*c2p) * math.Sin(dh/2*deg)
	lm := (l1 + l2) / 2
	cmp := (c1p + c2p) / 2
	var hm float64
	switch {
	case c1p*c2p == 0:
		hm = h1p + h2p
	case math.Abs(h1p-h2p) <= 180:
		hm = (h1p + h2p) / 2
	case h1p+h2p < 360:
		hm = (h1p + h2p + 360) / 2
	default:
		hm = (h1p + h2p - 360) / 2
	}
	t := 1 - 0.17*math.Cos((hm-30)*deg) + 0.24*math.Cos(2*hm*deg) + 0.32*math.Cos((3*hm+6)*deg) - 0.20*math.Cos((4*hm-63)*deg)
	dTheta := 30 * math.Exp(-math.Pow((hm-275)/25, 2))
	cmp7 := math.Pow(cmp, 7)
	rc := 2 * math.Sqrt(cmp7/(cmp7+math.Pow(25, 7)))
	sl := 1 + 0.015*(lm-50)*(lm-50)/math.Sqrt(20+(lm-50)*(lm-50))
	sc := 1 + 0.045*cmp
	sh := 1 + 0.015*cmp*t
	rt := -math.Sin(2*dTheta*deg) * rc
	return math.Sqrt(math.Pow(dL/sl, 2) + math.Pow(dC/sc, 2) + math.Pow(dH/sh, 2) + rt*(dC/sc)*(dH/sh))
}

// linear8 is SRGBToLinear at the 256 8-bit levels: images are compared as
// they would be encoded, and the table saves a pow per sample.
var linear8 = func() (t [256]float64) {
	for i := range t {
		t[i] = engine.SRGBToLinear(float64(i) / 255)
	}
	return t
}()

// MeanDeltaE2000 is the mean CIEDE2000 difference over all pixels of two
// images of the same size, each sample first rounded to 8 bits.
func MeanDeltaE2000(a, b *engine.Image) (float64, error) {
	if err := sameSize(a, b); err != nil {
		return 0, err
	}
	plane := func(m *engine.Image, c int) []float32 {
		if m.Gray() {
			return m.Planes[0]
		}
		return m.Planes[c]
	}
	lin := func(v float32) float64 { return linear8[int(min(max(v, 0), 1)*255+0.5)] }
	n := a.Width * a.Height
	const workers = 4
	sums := make([]float64, workers)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			for i := k * n / workers; i < (k+1)*n/workers; i++ {
				l1, a1, b1 := labLinear(lin(plane(a, 0)[i]), lin(plane(a, 1)[i]), lin(plane(a, 2)[i]))
				l2, a2, b2 := labLinear(lin(plane(b, 0)[i]), lin(plane(b, 1)[i]), lin(plane(b, 2)[i]))
				sums[k] += DeltaE2000(l1, a1, b1, l2, a2, b2)
			}
		})
	}
	wg.Wait()
	var sum float64
	for _, s := range sums {
		sum += s
	}
	return sum / float64(n), nil
}
