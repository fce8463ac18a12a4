package neural

// conv is a zero-padded convolution whose output has the input's size
// divided by its stride, with its activation folded in.
type conv struct {
	in, out, k, stride, dil, pad int
	act                          activation
	// unfold: the input has so few channels that it is first unfolded
	// (im2col) into k·k·in channels and the convolution run as 1×1.
	unfold bool
	// taps is the number of kernel taps the inner loops visit (1 when
	// unfolded), and depth the channels read at each (k·k·in when
	// unfolded).
	taps, depth int
	// w is the weights packed for the inner loop: for each block of four
	// output channels, for each tap, for each input channel, the four
	// weights side by side (zeros past the last channel).
	w    [][4]float32
	bias []float32 // padded to a multiple of 4
	// wino, when set, is the weights transformed for winograd's F(4×4,
	// 3×3) (winograd.go), which then computes the layer instead of the
	// direct product over w.
	wino [][4]float32
}

// unfoldBelow: layers with fewer input channels are unfolded.
const unfoldBelow = 4

func newConv(s layerSpec, w, b []float32) *conv {
	c := &conv{in: s.In, out: s.Out, k: s.Kernel, stride: s.Stride, dil: s.Dilation, pad: s.Padding}
	c.unfold = s.In < unfoldBelow
	c.taps, c.depth = c.k*c.k, c.in
	if c.unfold {
		c.taps, c.depth = 1, c.k*c.k*c.in
	}
	blocks := (c.out + 3) / 4
	c.w = make([][4]float32, blocks*c.k*c.k*c.in)
	c.bias = make([]float32, blocks*4)
	copy(c.bias, b)
	// Unfolded channel order is tap-major, then input channel, which is
	// also the packed order of the taps: one layout serves both.
	for o := range c.out {
		for i := range c.in {
			for ky := range c.k {
				for kx := range c.k {
					t := ky*c.k + kx
					src := ((o*c.in+i)*c.k+ky)*c.k + kx
					c.w[((o/4)*c.k*c.k+t)*c.in+i][o%4] = w[src]
				}
			}
		}
	}
	if usesWinograd(s) {
		c.wino = winogradWeights(w, c.in, c.out)
	}
	return c
}

func (c *conv) channels(in int) (int, error) { return c.out, nil }

// prepare copies in into *buf with a zero border of c.pad pixels (more on
// the right and bottom for winograd, up to whole blocks), or, when
// the layer is unfolded, writes each pixel's k·k·in neighbourhood as its
// channels. Either way the result is what run reads.
func (c *conv) prepare(in Tensor, buf *[]float32) Tensor {
	if c.unfold {
		// Unfolded rows keep the input's grid; the stride is applied by run.
		d := c.depth
		*buf = grow(*buf, in.H*in.W*d)
		out := Tensor{H: in.H, W: in.W, C: d, Data: *buf}
		for y := range in.H {
			for x := range in.W {
				dst := out.Data[(y*in.W+x)*d:][:d]
				for ky := range c.k {
					sy := y + ky*c.dil - c.pad
					// Away from the left and right edges an undilated
					// kernel row is one contiguous run of the input.
					if sx := x - c.pad; c.dil == 1 && sy >= 0 && sy < in.H && sx >= 0 && sx+c.k <= in.W {
						n := c.k * c.in
						copy(dst[ky*n:][:n], in.Data[(sy*in.W+sx)*c.in:][:n])
						continue
					}
					for kx := range c.k {
						sx := x + kx*c.dil - c.pad
						t := (ky*c.k + kx) * c.in
						if sy < 0 || sy >= in.H || sx < 0 || sx >= in.W {
							clear(dst[t : t+c.in])
							continue
						}
						copy(dst[t:t+c.in], in.Data[(sy*in.W+sx)*c.in:][:c.in])
					}
				}
			}
		}
		return out
	}
	p := c.pad
	h, w := in.H+2*p+c.blockRest(in.H), in.W+2*p+c.blockRest(in.W)
	*buf = grow(*buf, h*w*in.C)
	out := Tensor{H: h, W: w, C: in.C, Data: *buf}
	clear(out.Data[:p*w*in.C])
	clear(out.Data[(p+in.H)*w*in.C:])
	for y := range in.H {
		row := out.Data[(y+p)*w*in.C:][:w*in.C]
		clear(row[:p*in.C])
		copy(row[p*in.C:], in.Data[y*in.W*in.C:][:in.W*in.C])
		clear(row[(p+in.W)*in.C:])
	}
	return out
}

// blockRest is how many more zero rows (or columns) than the padding a
// side of n pixels needs: up to a whole number of blocks for winograd.
func (c *conv) blockRest(n int) int {
	if c.wino == nil {
		return 0
	}
	return (winoM - n%winoM) % winoM
}

// run computes output rows [y0, y1) from the padded (or unfolded) input.
func (c *conv) run(in, out Tensor, y0, y1 int) {
	if c.wino != nil {
		c.runWinograd(in, out, y0, y1)
		return
	}
	d, s := c.depth, c.stride
	// Offsets of the taps from a pixel's top-left corner in the padded input.
	var offs [64]int
	taps := offs[:0]
	if c.unfold {
		taps = append(taps, 0)
	} else {
		for ky := range c.k {
			for kx := range c.k {
				taps = append(taps, (ky*c.dil*in.W+kx*c.dil)*d)
			}
		}
	}
	if len(taps) > len(offs) {
		panic("neural: kernel larger than 8x8") // newNet accepts kernels up to 7 only
	}
	blockW := len(taps) * d
	for y := y0; y < y1; y++ {
		rowBase := y * s * in.W * d
		for b := 0; b*4 < c.out; b++ {
			wb := c.w[b*blockW : (b+1)*blockW]
			bias := (*[4]float32)(c.bias[b*4:])
			x := 0
			// Two pixels by four channels: eight accumulators, the two
			// inputs and the weights fit the sixteen registers the
			// compiler has on amd64; three pixels (twelve) spill.
			for ; x+1 < out.W; x += 2 {
				p0 := rowBase + x*s*d
				p1 := p0 + s*d
				var a0, a1, a2, a3, b0, b1, b2, b3 float32
				for t, off := range taps {
					in0 := in.Data[p0+off : p0+off+d]
					in1 := in.Data[p1+off : p1+off+d]
					wt := wb[t*d : (t+1)*d]
					in1, wt = in1[:len(in0)], wt[:len(in0)]
					for i, v0 := range in0 {
						v1 := in1[i]
						ww := &wt[i]
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
				}
				c.store(out, y, x, b, [4]float32{a0 + bias[0], a1 + bias[1], a2 + bias[2], a3 + bias[3]})
				c.store(out, y, x+1, b, [4]float32{b0 + bias[0], b1 + bias[1], b2 + bias[2], b3 + bias[3]})
			}
			for ; x < out.W; x++ {
				p0 := rowBase + x*s*d
				var a0, a1, a2, a3 float32
				for t, off := range taps {
					in0 := in.Data[p0+off : p0+off+d]
					wt := wb[t*d : (t+1)*d]
					wt = wt[:len(in0)]
					for i, v0 := range in0 {
						ww := &wt[i]
						a0 += v0 * ww[0]
						a1 += v0 * ww[1]
						a2 += v0 * ww[2]
						a3 += v0 * ww[3]
					}
				}
				c.store(out, y, x, b, [4]float32{a0 + bias[0], a1 + bias[1], a2 + bias[2], a3 + bias[3]})
			}
		}
		// The activation goes over the finished row, which is still in
		// cache, rather than in store, four channels at a time.
		row := out.Data[y*out.W*c.out:][:out.W*c.out]
		for x := range out.W {
			c.act.apply(row[x*c.out:][:c.out])
		}
	}
}

// store writes output channels 4b..4b+3 (those that exist) of pixel (y,
// x).
func (c *conv) store(out Tensor, y, x, b int, v [4]float32) {
	o := out.Data[(y*out.W+x)*c.out:][4*b : c.out]
	if len(o) >= 4 {
		*(*[4]float32)(o) = v // not copy: a call to memmove for four floats
		return
	}
	copy(o, v[:])
}
