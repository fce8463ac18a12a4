package main

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"

	"github.com/smartimage/enhance/internal/engine"
)

// sheets writes, for each pipeline, a PNG of a dozen photos: before on the
// left of each pair, after on the right.
func (h *harness) sheets() {
	sets := map[engine.EnhancementType][]string{
		engine.General: {
			"camera/plasma_ColdRipple.jpg", "camera/plasma_DarkestHour.jpg", "camera/plasma_Path.jpg", "camera/mate_Wood.jpg",
			"camera/mate_Storm.jpg", "camera/mate_Dune.jpg", "kodak/kodim01.png", "kodak/kodim05.png",
			"kodak/kodim08.png", "kodak/kodim13.png", "kodak/kodim21.png", "kodak/kodim23.png",
		},
		engine.Portrait: {
			"kodak/kodim04.png", "kodak/kodim15.png", "kodak/kodim18.png", "kodak/kodim12.png",
			"kodak/kodim17.png", "kodak/kodim20.png", "kodak/kodim03.png", "kodak/kodim22.png",
			"camera/friends_by_Aitzol_Berasategi.jpg", "set14/face.png", "set14/lenna.png", "set5/woman.png",
		},
		engine.Landscape: {
			"camera/plasma_ColdRipple.jpg", "camera/Bridge_by_Sander_Klootwijk.jpg", "camera/seeding_by_Clements_Engelhardt.jpg", "camera/life_by_Aitzol_Berasategi.jpg",
			"camera/mate_Storm.jpg", "camera/mate_Dune.jpg", "camera/plasma_Path.jpg", "kodak/kodim13.png",
			"kodak/kodim16.png", "kodak/kodim19.png", "kodak/kodim22.png", "kodak/kodim24.png",
		},
	}
	const thumb, cols = 240, 4 // two before/after pairs per row
	for _, kind := range []engine.EnhancementType{engine.General, engine.Portrait, engine.Landscape} {
		var cells []*engine.Image
		for _, name := range sets[kind] {
			img := h.load(filepath.Join(h.images, name))
			// Process at a working size, then shrink both for the sheet.
			if img.Width*img.Height > 4_000_000 {
				s := float64(2000) / float64(max(img.Width, img.Height))
				img = engine.Resize(img, int(float64(img.Width)*s), int(float64(img.Height)*s), engine.Lanczos3, 2)
			}
			after := cloneImage(img)
			p, _ := engine.PipelineFor(kind)
			p.Run(context.Background(), after, 2)
			cells = append(cells, thumbnail(img, thumb), thumbnail(after, thumb))
		}
		h.writeSheet(fmt.Sprintf("contact-%s.png", kind), cells, cols, thumb)
	}
}

// thumbnail fits m in a box×box square, whatever its orientation.
func thumbnail(m *engine.Image, box int) *engine.Image {
	tw, th := box, box*m.Height/m.Width
	if m.Height > m.Width {
		tw, th = box*m.Width/m.Height, box
	}
	return engine.Resize(m, tw, th, engine.Lanczos3, 2)
}

// writeSheet lays cells out in rows of cols, each centred in a column
// thumb pixels wide, on white, and writes them to the output folder as a
// PNG named name.
func (h *harness) writeSheet(name string, cells []*engine.Image, cols, thumb int) {
	rows := (len(cells) + cols - 1) / cols
	rowH := make([]int, rows)
	for i, c := range cells {
		rowH[i/cols] = max(rowH[i/cols], c.Height)
	}
	total := 0
	for _, v := range rowH {
		total += v + 4
	}
	sheet := image.NewRGBA(image.Rect(0, 0, cols*(thumb+4), total))
	for i := range sheet.Pix {
		sheet.Pix[i] = 255
	}
	y0 := 0
	for r := range rows {
		for c := range cols {
			k := r*cols + c
			if k >= len(cells) {
				break
			}
			m := cells[k]
			x0 := c*(thumb+4) + 2 + (thumb-m.Width)/2
			for y := range m.Height {
				for x := range m.Width {
					i := y*m.Width + x
					rv, gv, bv := m.Planes[0][i], m.Planes[0][i], m.Planes[0][i]
					if !m.Gray() {
						gv, bv = m.Planes[1][i], m.Planes[2][i]
					}
					to8 := func(v float32) uint8 { return uint8(min(max(v, 0), 1)*255 + 0.5) }
					sheet.Set(x0+x, y0+2+y, color.RGBA{to8(rv), to8(gv), to8(bv), 255})
				}
			}
		}
		y0 += rowH[r] + 4
	}
	path := filepath.Join(h.out, name)
	f, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(f, sheet); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
	fmt.Println("wrote", path)
}
