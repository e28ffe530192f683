package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// chartFile is the scaling chart's name in the report's folder.
const chartFile = "tick-scaling.png"

// chart draws the tick's cost against n on log-log axes, one line per
// series and environment, with a line of slope 1 (linear growth) for
// comparison.
func (r *runner) chart(path string) error {
	p := plot.New()
	p.Title.Text = "Cost of Update against what it shows"
	p.X.Label.Text = "n (messages per tick over 100 topics, or distinct topics)"
	p.Y.Label.Text = "time per tick"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Tick.Marker = durationTicks{}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())

	colours := map[string]color.Color{
		"native": color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		"wasm":   color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	}
	lowest := 0.0
	for _, env := range []struct {
		name string
		res  *results
	}{{"native", r.native}, {"wasm", r.wasm}} {
		for i, s := range scalingSeries {
			var pts plotter.XYs
			for _, n := range scalingSizes {
				if ns, ok := env.res.median(fmt.Sprintf("BenchmarkTickScaling/%s=%d", s.key, n), "ns/tick"); ok && ns > 0 {
					pts = append(pts, plotter.XY{X: float64(n), Y: ns})
					if lowest == 0 || ns < lowest {
						lowest = ns
					}
				}
			}
			if len(pts) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			line.Color, points.Color = colours[env.name], colours[env.name]
			points.Shape = draw.CircleGlyph{}
			if i == 1 {
				line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
				points.Shape = draw.BoxGlyph{}
			}
			p.Add(line, points)
			p.Legend.Add(env.name+": "+s.label, line, points)
		}
	}
	if lowest > 0 {
		// Linear growth through the lowest point, for comparison.
		first, last := float64(scalingSizes[0]), float64(scalingSizes[len(scalingSizes)-1])
		ref, err := plotter.NewLine(plotter.XYs{{X: first, Y: lowest}, {X: last, Y: lowest * last / first}})
		if err != nil {
			return err
		}
		ref.Color = color.Gray{Y: 0x99}
		ref.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(ref)
		p.Legend.Add("linear growth", ref)
	}
	// Room above the lines for the legend.
	p.Y.Max *= 100
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// durationTicks labels a log axis of nanoseconds at each power of ten, in
// ns, µs or ms.
type durationTicks struct{}

func (durationTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for v := 1.0; v <= hi*10; v *= 10 {
		if v < lo/10 {
			continue
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: fmtNs(v)})
		for m := 2.0; m < 10; m++ {
			ticks = append(ticks, plot.Tick{Value: v * m})
		}
	}
	return ticks
}
