package engine

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"sync"
)

// The learned illuminant estimator (issue 16, point 6). Classical colour
// constancy estimates each fail on their own kind of scene (gray world on
// a dominant colour, white patch on a coloured light source, gray edge on
// saturated object boundaries), but a cast moves every one of them by the
// same log gain, while a scene's own bias differs between them. So the
// estimator reads ten of them in log chroma, combines them with weights
// that sum to one (a cast still moves the combination by exactly its
// gain), and judges the result against what uncast photos read: the
// combination's error on the tuning photos, larger where the estimates
// disagree or the scene's colours spread widely, is the scene's share;
// only what stands out beyond it is taken for a cast, in proportion to how
// likely a cast is (see IlluminantModel.Estimate). The weights and the
// error model are fitted by `go run -tags nodynamic ./bench -only
// illuminant` on the tuning photos only and shipped in illuminant.json.
//
// No pipeline uses it yet (WhiteBalance.Learned selects it). In the
// general pipeline's place it repaired casts on Kodak better (the four
// damages 3.76 → 3.54 ΔE00) but read the graded camera photos' looks as
// casts (camera do no harm 1.02 → 1.84, the four damages 5.76 → 6.44):
// 19 tuning photos do not teach it what a grade is. docs/engine.md has
// the runs.

// illuminantEstimates names the classical estimates, in the order of the
// features; the first (gray edge, as the other pipelines use it) is the
// one the others are weighed against.
var illuminantEstimates = []string{
	"gray edge p=1",
	"gray edge p=2",
	"gray edge, near-gray edges only (ratio 2.5)",
	"second-order gray edge (|Laplacian|)",
	"gray world",
	"shades of gray p=4",
	"shades of gray p=8",
	"95th percentile per channel",
	"99.5th percentile per channel (white patch)",
	"mean of the brightest 5% of pixels",
}

// IlluminantEstimates names the classical estimates the features hold,
// in their order.
func IlluminantEstimates() []string { return append([]string(nil), illuminantEstimates...) }

// numEstimates is len(illuminantEstimates).
const numEstimates = 10

// IlluminantFeatures is what the estimator reads from a photo: each
// estimate's chromaticity as the cast it implies, in log gain relative to
// green, split along and across the Planckian locus (the axes WhiteBalance
// corrects on), and two numbers a cast leaves alone.
type IlluminantFeatures struct {
	// Along and Across are, per estimate, the log gains (log R/G, log
	// B/G of the estimated light) turned onto the locus axes. A cast
	// that multiplies R by gr and B by gb adds its own log gains to
	// every estimate alike.
	Along, Across [numEstimates]float64
	// Disagreement is the root mean square distance of the estimates
	// from their mean: how much the scene, not the light, drives them.
	Disagreement float64
	// Spread is the scene's chroma spread (see chromaSpread).
	Spread float64
}

// Vector is the features in the order IlluminantModel's weights use:
// along, across, disagreement, spread.
func (f IlluminantFeatures) Vector() []float64 {
	v := append(f.Along[:], f.Across[:]...)
	return append(v, f.Disagreement, f.Spread)
}

// IlluminantModel is the fitted estimator, as illuminant.json holds it.
type IlluminantModel struct {
	// About says what the file is and how it was made.
	About string `json:"about"`
	// Seed is the training's random seed; Photos the photos it read.
	Seed   uint64   `json:"seed"`
	Photos []string `json:"photos"`
	// Estimates names the classical estimates, in feature order.
	Estimates []string `json:"estimates"`
	// Weights, per axis (along, across), weigh estimates 1.. by their
	// difference from estimate 0, so that all the weights, estimate 0's
	// included, sum to one; Bias is the typical scene's own reading.
	Weights [2][]float64 `json:"weights"`
	Bias    [2]float64   `json:"bias"`
	// SceneVar, per axis, models the variance of the combination's error
	// on uncast photos as v0 + v1·disagreement² + v2·spread².
	SceneVar [2][3]float64 `json:"scene_var"`
	// CastVar, per axis, is the variance of the casts the estimator
	// expects, and CastPrior the share of photos that have one.
	CastVar   [2]float64 `json:"cast_var"`
	CastPrior float64    `json:"cast_prior"`
	// Fit reports the training's error: the combination's root mean
	// square error per axis on photos left out of the fit (leave one
	// photo out), and that of estimate 0 alone, for comparison.
	Fit map[string]float64 `json:"fit"`
	// Reference holds features and the estimate the file's model must
	// give for them, so that an edit to the inference is caught.
	Reference []IlluminantReference `json:"reference"`
}

// IlluminantReference is one stored input and output of the model.
type IlluminantReference struct {
	Name       string     `json:"name"`
	Features   []float64  `json:"features"`
	Cast       [2]float64 `json:"cast"`
	Confidence float64    `json:"confidence"`
}

// Estimate returns the cast a photo with features f most likely has (log
// gains along and across the locus: the mean over what a cast might be,
// a cast's absence counting as none) and the probability that it has
// one. The combination reads s + g: a scene's bias s, normal with the
// scene variance, and a cast g, absent with probability 1 − CastPrior and
// otherwise normal with CastVar. Confidence is the probability of a
// cast given the reading; the cast is that times g's expected value
// given there is one, CastVar/(CastVar + scene variance) of the reading.
// A reading well within what uncast scenes show is so left nearly alone,
// and a scene whose estimates disagree is given more room.
func (m *IlluminantModel) Estimate(f []float64) (cast [2]float64, confidence float64) {
	if len(f) != 2*numEstimates+2 {
		return cast, 0
	}
	reading, scene := m.Reading(f)
	logRatio := 0.0 // log p(reading | cast) − log p(reading | none)
	for a := range 2 {
		r := reading[a]
		both := scene[a] + m.CastVar[a]
		logRatio += 0.5*math.Log(scene[a]/both) + 0.5*r*r*(1/scene[a]-1/both)
	}
	prior := math.Log(m.CastPrior / (1 - m.CastPrior))
	confidence = 1 / (1 + math.Exp(-(logRatio + prior)))
	for a := range 2 {
		cast[a] = confidence * m.CastVar[a] / (m.CastVar[a] + scene[a]) * reading[a]
	}
	return cast, confidence
}

// Reading is the weighted combination of the estimates (the cast plus the
// scene's bias, along and across the locus) and the variance of that bias
// for a scene with these features. f must have 2·numEstimates+2 values.
func (m *IlluminantModel) Reading(f []float64) (reading, sceneVar [2]float64) {
	d, s := f[2*numEstimates], f[2*numEstimates+1]
	for a := range 2 {
		x := f[a*numEstimates : (a+1)*numEstimates]
		r := x[0] + m.Bias[a]
		for k, w := range m.Weights[a] {
			r += w * (x[k+1] - x[0])
		}
		reading[a] = r
		v := m.SceneVar[a]
		sceneVar[a] = math.Max(1e-6, v[0]+v[1]*d*d+v[2]*s*s)
	}
	return reading, sceneVar
}

// validate checks that the model has the shape inference assumes.
func (m *IlluminantModel) validate() error {
	if len(m.Estimates) != numEstimates {
		return fmt.Errorf("engine: illuminant model has %d estimates, want %d", len(m.Estimates), numEstimates)
	}
	for a := range 2 {
		if len(m.Weights[a]) != numEstimates-1 {
			return fmt.Errorf("engine: illuminant model has %d weights on axis %d, want %d", len(m.Weights[a]), a, numEstimates-1)
		}
		if m.CastVar[a] <= 0 {
			return fmt.Errorf("engine: illuminant model's cast variance on axis %d is not positive", a)
		}
	}
	if !(m.CastPrior > 0 && m.CastPrior < 1) {
		return fmt.Errorf("engine: illuminant model's cast prior %g is outside (0, 1)", m.CastPrior)
	}
	return nil
}

//go:embed illuminant.json
var illuminantJSON []byte

// Illuminant is the shipped estimator, parsed once on first use. The file
// is part of the binary and checked by the tests, so a failure here is a
// build fault.
var Illuminant = sync.OnceValue(func() *IlluminantModel {
	var m IlluminantModel
	if err := json.Unmarshal(illuminantJSON, &m); err != nil {
		panic(fmt.Sprintf("engine: illuminant.json: %v", err))
	}
	if err := m.validate(); err != nil {
		panic(err)
	}
	return &m
})

// illuminantFeatures reads the estimates through tone (levels' preview
// curve, so a contrast loss or a gamma does not bend them; exponent is
// what the curve does to a gain, see toneCurve.castExponent), over a
// sparse grid of pixels, leaving out clipped ones. ok is false for a
// flat photo or one with a channel empty of light.
func illuminantFeatures(img *Image, tone lut, exponent float64) (IlluminantFeatures, bool) {
	var f IlluminantFeatures
	w, h := img.Width, img.Height
	if w < 3 || h < 3 || len(img.Planes) < 3 {
		return f, false
	}
	step := max(1, int(math.Sqrt(float64(w*h)/250000)))
	var pix [][3]float32   // tone-mapped values of the unclipped sample
	var edges [][3]float64 // their gradient magnitudes
	var lap [][3]float64   // and |Laplacian|s
	for y := 1; y < h-1; y += step {
		for x := 1; x < w-1; x += step {
			i := y*w + x
			var v [3]float32
			clipped := false
			for c := range 3 {
				v[c] = tone.at(img.Planes[c][i])
				clipped = clipped || img.Planes[c][i] > 0.98
			}
			if clipped {
				continue
			}
			pix = append(pix, v)
			var g, l [3]float64
			for c := range 3 {
				p := img.Planes[c]
				dx := tone.at(p[i+1]) - tone.at(p[i-1])
				dy := tone.at(p[i+w]) - tone.at(p[i-w])
				g[c] = math.Hypot(float64(dx), float64(dy))
				l[c] = math.Abs(float64(4*v[c] - tone.at(p[i+1]) - tone.at(p[i-1]) - tone.at(p[i+w]) - tone.at(p[i-w])))
			}
			edges = append(edges, g)
			lap = append(lap, l)
		}
	}
	if len(pix) < 100 {
		return f, false
	}
	// Each channel's own black (its 1st percentile) is taken off before
	// the statistics of values: a contrast loss lifts every channel by
	// the same offset, which a cast then scales, and what is left is the
	// cast's gain alone.
	var hist [3][]int
	for c := range hist {
		hist[c] = make([]int, histBins)
		for _, v := range pix {
			hist[c][binOf(v[c])]++
		}
	}
	n := len(pix)
	var black, p95, p995 [3]float64
	for c := range 3 {
		black[c] = percentile(hist[c], n, 0.01)
		p95[c] = percentile(hist[c], n, 0.95) - black[c]
		p995[c] = percentile(hist[c], n, 0.995) - black[c]
	}
	var mean, sog4, sog8, ge1, ge2, geGray, ge2nd [3]float64
	bright := make([]int, 3*histBins)
	for k, v := range pix {
		var u [3]float64
		for c := range 3 {
			u[c] = math.Max(0, float64(v[c])-black[c])
			mean[c] += u[c]
			q := u[c] * u[c] * u[c] * u[c]
			sog4[c] += q
			sog8[c] += q * q
			ge1[c] += edges[k][c]
			ge2[c] += edges[k][c] * edges[k][c]
			ge2nd[c] += lap[k][c]
		}
		g := edges[k]
		if max(g[0], g[1], g[2]) <= 2.5*min(g[0], g[1], g[2]) {
			for c := range 3 {
				geGray[c] += g[c]
			}
		}
		bright[min(3*histBins-1, int((u[0]+u[1]+u[2])*(histBins-1)))]++
	}
	if geGray[1] < 0.05*ge1[1] { // too few gray edges to say anything
		geGray = ge1
	}
	// The brightest 5%: their mean per channel.
	limit := 3*histBins - 1
	for acc := 0; limit > 0 && acc+bright[limit] < n/20; limit-- {
		acc += bright[limit]
	}
	var top [3]float64
	for _, v := range pix {
		var u [3]float64
		for c := range 3 {
			u[c] = math.Max(0, float64(v[c])-black[c])
		}
		if int((u[0]+u[1]+u[2])*(histBins-1)) >= limit {
			for c := range 3 {
				top[c] += u[c]
			}
		}
	}
	for c := range 3 {
		sog4[c] = math.Pow(sog4[c], 1.0/4)
		sog8[c] = math.Pow(sog8[c], 1.0/8)
		ge2[c] = math.Sqrt(ge2[c])
	}
	estimates := [numEstimates][3]float64{ge1, ge2, geGray, ge2nd, mean, sog4, sog8, p95, p995, top}
	var sum [2]float64
	for k, e := range estimates {
		if min(e[0], e[1], e[2]) <= 1e-9 {
			return f, false
		}
		// The light's log chroma is the cast's log gain; through a curve
		// that raises gains to a power, divided by it.
		r, b := math.Log(e[0]/e[1])/exponent, math.Log(e[2]/e[1])/exponent
		f.Along[k] = r*locusAxis[0] + b*locusAxis[1]
		f.Across[k] = -r*locusAxis[1] + b*locusAxis[0]
		sum[0] += f.Along[k]
		sum[1] += f.Across[k]
	}
	for k := range numEstimates {
		da, dc := f.Along[k]-sum[0]/numEstimates, f.Across[k]-sum[1]/numEstimates
		f.Disagreement += da*da + dc*dc
	}
	f.Disagreement = math.Sqrt(f.Disagreement / numEstimates)
	return f, true
}
