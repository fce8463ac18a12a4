package neural

import "sync"

// Winograd's minimal filtering F(4×4, 3×3) (Lavin and Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016) computes a 4×4 block
// of a 3×3 convolution's output from the 6×6 input block under it with 36
// multiply-adds per input and output channel pair instead of 16·9 = 144:
// the input block and the kernel are each transformed into a 6×6 "Winograd
// domain" where the convolution is an elementwise product, and the product
// is transformed back. The kernels' transforms are done once, at load; the
// input's (additions and small multiples) and the output's are shared by
// all the channels they feed, so for the mapping layers (16 to 16
// channels, 70 % of the super-resolution network's work) the layer costs
// about a third of the direct convolution. The transforms are exact in
// real arithmetic; in float32 they add rounding errors of up to about 1e-4
// of the output's size on random unit-variance data (the direct product:
// 1e-6); on the shipped networks' activations Go still matches PyTorch to
// 3.4e-7, far inside the 1e-4 the comparison allows.

// winoM is the output block's side, winoN the input block's (winoM+2), and
// winoP the number of positions in the transformed domain.
const (
	winoM = 4
	winoN = winoM + 2
	winoP = winoN * winoN
)

// usesWinograd reports whether a layer of this shape is computed with
// winograd: 3×3, stride 1, no dilation (the mapping layers and the last
// one of the SR network), and enough input channels that the transforms
// are shared widely; the one-channel first layers are unfolded instead.
func usesWinograd(s layerSpec) bool {
	return s.Kernel == 3 && s.Stride == 1 && s.Dilation == 1 && s.In >= unfoldBelow
}

// winogradWeights transforms NCHW 3×3 weights into G·g·Gᵀ for each output
// and input channel (in float64, rounded once), packed for the product
// loop: for each of the 36 positions, for each block of four output
// channels, for each input channel, the four weights side by side.
func winogradWeights(w []float32, in, out int) [][4]float32 {
	// G for F(4, 3): a 6×3 matrix.
	g := [winoN][3]float64{
		{1.0 / 4, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6},
		{1.0 / 24, -1.0 / 12, 1.0 / 6},
		{0, 0, 1},
	}
	quads := (out + 3) / 4
	u := make([][4]float32, winoP*quads*in)
	for o := range out {
		for i := range in {
			k := w[(o*in+i)*9:][:9]
			// t = G·k (6×3), then u = t·Gᵀ (6×6).
			var t [winoN][3]float64
			for r := range winoN {
				for c := range 3 {
					for j := range 3 {
						t[r][c] += g[r][j] * float64(k[j*3+c])
					}
				}
			}
			for r := range winoN {
				for c := range winoN {
					var v float64
					for j := range 3 {
						v += t[r][j] * g[c][j]
					}
					u[((r*winoN+c)*quads+o/4)*in+i][o%4] = float32(v)
				}
			}
		}
	}
	return u
}

// winogradScratch is the working memory of runWinograd for a layer (quads
// are the groups of four output channels the product computes at once): two
// blocks' transformed inputs (winoP·in each) and products (winoP·4·quads
// each), and the half-transformed rows in between.
func (c *conv) winogradScratch() int {
	outP := (c.out + 3) / 4 * 4
	return 2*winoP*c.in + 2*winoP*outP + winoP*max(c.in, outP)
}

// winoScratch holds runWinograd's working memory between calls (tens of
// kilobytes, needed once per band of rows, layer and tile), so that a
// network's run allocates nothing once warm, as Arena promises.
var winoScratch = sync.Pool{New: func() any { return new([]float32) }}

// runWinograd computes output rows [y0, y1) of a winograd layer from its
// padded input (prepare pads the right and bottom up to whole blocks).
// Blocks are taken two at a time along a row, so that each packed weight
// loaded in the product serves two blocks.
func (c *conv) runWinograd(in, out Tensor, y0, y1 int) {
	ci := c.in
	quads := (c.out + 3) / 4
	outP := quads * 4
	buf := winoScratch.Get().(*[]float32)
	defer winoScratch.Put(buf)
	*buf = grow(*buf, c.winogradScratch())
	scratch := (*buf)[:c.winogradScratch()]
	clear(scratch) // as fresh memory was: nothing may read another call's values
	va, scratch := scratch[:winoP*ci], scratch[winoP*ci:]
	vb, scratch := scratch[:winoP*ci], scratch[winoP*ci:]
	ma, scratch := scratch[:winoP*outP], scratch[winoP*outP:]
	mb, tmp := scratch[:winoP*outP], scratch[winoP*outP:]
	bx := (out.W + winoM - 1) / winoM
	for by := y0 / winoM; by*winoM < y1; by++ {
		for x := 0; x < bx; x += 2 {
			second := x+1 < bx
			c.winogradInput(in, by*winoM, x*winoM, va, tmp)
			if second {
				c.winogradInput(in, by*winoM, (x+1)*winoM, vb, tmp)
			} else {
				clear(vb)
			}
			for p := range winoP {
				a, b := va[p*ci:][:ci], vb[p*ci:][:ci]
				for k := range quads {
					wk := c.wino[(p*quads+k)*ci:][:ci]
					// Two blocks by four channels: the register blocking of
					// the direct kernel (conv.run), for the same reason.
					var a0, a1, a2, a3, b0, b1, b2, b3 float32
					for i, v0 := range a {
						v1 := b[i]
						ww := &wk[i]
						w0, w1, w2, w3 := ww[0], ww[1], ww[2], ww[3]
						a0 += v0 * w0
						b0 += v1 * w0
						a1 += v0 * w1
						b1 += v1 * w1
						a2 += v0 * w2
						b2 += v1 * w2
						a3 += v0 * w3
						b3 += v1 * w3
					}
					*(*[4]float32)(ma[p*outP+4*k:]) = [4]float32{a0, a1, a2, a3}
					*(*[4]float32)(mb[p*outP+4*k:]) = [4]float32{b0, b1, b2, b3}
				}
			}
			c.winogradOutput(ma, tmp, out, by*winoM, x*winoM, y0, y1)
			if second {
				c.winogradOutput(mb, tmp, out, by*winoM, (x+1)*winoM, y0, y1)
			}
		}
	}
}

// winogradInput writes Bᵀ·d·B of the 6×6 block of in at (y, x), every
// channel, into v (position-major, channels contiguous), through tmp. Each
// pass is a loop over the channels, so that all its reads and writes are
// contiguous.
func (c *conv) winogradInput(in Tensor, y, x int, v, tmp []float32) {
	ci := c.in
	// Along x: tmp[r][k] = Bᵀ·(row r of the block).
	for r := range winoN {
		row := in.Data[((y+r)*in.W+x)*ci:][:winoN*ci]
		d0, d1, d2, d3, d4, d5 := row[:ci], row[ci:2*ci], row[2*ci:3*ci], row[3*ci:4*ci], row[4*ci:5*ci], row[5*ci:6*ci]
		t := tmp[r*winoN*ci:][:winoN*ci]
		t0, t1, t2, t3, t4, t5 := t[:ci], t[ci:2*ci], t[2*ci:3*ci], t[3*ci:4*ci], t[4*ci:5*ci], t[5*ci:6*ci]
		bT(d0, d1, d2, d3, d4, d5, t0, t1, t2, t3, t4, t5)
	}
	// Along y: v[j][k] = Σ_r Bᵀ[j][r]·tmp[r][k].
	s := winoN * ci
	for k := range winoN {
		col := func(r int) []float32 { return tmp[r*s+k*ci:][:ci] }
		out := func(j int) []float32 { return v[j*s+k*ci:][:ci] }
		bT(col(0), col(1), col(2), col(3), col(4), col(5), out(0), out(1), out(2), out(3), out(4), out(5))
	}
}

// bT applies F(4, 3)'s input transform Bᵀ to six vectors, element by
// element:
//
//	[4  0 -5  0 1 0]
//	[0 -4 -4  1 1 0]
//	[0  4 -4 -1 1 0]
//	[0 -2 -1  2 1 0]
//	[0  2 -1 -2 1 0]
//	[0  4  0 -5 0 1]
func bT(d0, d1, d2, d3, d4, d5, t0, t1, t2, t3, t4, t5 []float32) {
	n := len(d0)
	d1, d2, d3, d4, d5 = d1[:n], d2[:n], d3[:n], d4[:n], d5[:n]
	t0, t1, t2, t3, t4, t5 = t0[:n], t1[:n], t2[:n], t3[:n], t4[:n], t5[:n]
	for i, a := range d0 {
		b, c, d, e, f := d1[i], d2[i], d3[i], d4[i], d5[i]
		t0[i] = 4*a - 5*c + e
		t1[i] = (d + e) - 4*(b+c)
		t2[i] = (e - d) + 4*(b-c)
		t3[i] = (e - c) + 2*(d-b)
		t4[i] = (e - c) - 2*(d-b)
		t5[i] = 4*b - 5*d + f
	}
}

// winogradOutput transforms one block's products m back (Aᵀ·m·A), adds
// the bias, applies the activation and writes the 4×4 block at (y, x) of
// out, less what falls outside out or outside rows [y0, y1).
func (c *conv) winogradOutput(m, tmp []float32, out Tensor, y, x, y0, y1 int) {
	outP := (c.out + 3) / 4 * 4
	s := winoN * outP
	// Along x: tmp[j][q] = Σ_k m[j][k]·A[k][q], 6×4 of outP channels.
	for j := range winoN {
		row := m[j*s:][:s]
		t := tmp[j*winoM*outP:][:winoM*outP]
		aT(row[:outP], row[outP:2*outP], row[2*outP:3*outP], row[3*outP:4*outP], row[4*outP:5*outP], row[5*outP:6*outP],
			t[:outP], t[outP:2*outP], t[2*outP:3*outP], t[3*outP:4*outP])
	}
	// Along y, then bias and activation into the output rows.
	ts := winoM * outP
	res := m[:winoM*ts] // m is no longer needed: reuse it for the result
	for q := range winoM {
		col := func(j int) []float32 { return tmp[j*ts+q*outP:][:outP] }
		dst := func(r int) []float32 { return res[r*ts+q*outP:][:outP] }
		aT(col(0), col(1), col(2), col(3), col(4), col(5), dst(0), dst(1), dst(2), dst(3))
	}
	for r := range winoM {
		yy := y + r
		if yy < y0 || yy >= y1 {
			continue
		}
		for q := range min(winoM, out.W-x) {
			dst := out.Data[(yy*out.W+x+q)*c.out:][:c.out]
			v, bias := res[r*ts+q*outP:][:len(dst)], c.bias[:len(dst)]
			for ch, u := range v {
				dst[ch] = u + bias[ch]
			}
			c.act.apply(dst)
		}
	}
}

// aT applies F(4, 3)'s output transform Aᵀ to six vectors, element by
// element:
//
//	[1 1  1 1  1 0]
//	[0 1 -1 2 -2 0]
//	[0 1  1 4  4 0]
//	[0 1 -1 8 -8 1]
func aT(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3 []float32) {
	n := len(m0)
	m1, m2, m3, m4, m5 = m1[:n], m2[:n], m3[:n], m4[:n], m5[:n]
	o0, o1, o2, o3 = o0[:n], o1[:n], o2[:n], o3[:n]
	for i, a := range m0 {
		p, q := m1[i]+m2[i], m1[i]-m2[i]
		r, s := m3[i]+m4[i], m3[i]-m4[i]
		o0[i] = a + p + r
		o1[i] = q + 2*s
		o2[i] = p + 4*r
		o3[i] = q + 8*s + m5[i]
	}
}
