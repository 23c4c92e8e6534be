package chart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Series is one stack layer of a bar chart: a name for the legend, a CSS class for
// its colour (the console's stylesheet may set one; a default colour is used
// otherwise) and one value per label.
type Series struct {
	Name   string
	Class  string
	Values []int
}

// palette colours the series in order when the stylesheet gives their class none.
var palette = []string{"#2e7d32", "#c62828", "#f9a825", "#1565c0", "#6a1b9a", "#555555"}

const barsRight = width - 8

// StackedBars draws one bar per label, each the stack of the series' values at that
// label (deliveries per hour by outcome), with a legend of the series and a tooltip
// per segment. Values are counts: a negative one is drawn as zero; a series with
// fewer values than labels has zeros for the rest, and values beyond the labels are
// left out. No labels or no series give a small "no data" chart; all-zero counts
// still draw the axes, since "nothing happened" is worth seeing.
func StackedBars(title string, labels []string, series []Series) template.HTML {
	if len(labels) == 0 || len(series) == 0 {
		return noData("chart-bars", title)
	}
	value := func(s Series, i int) float64 {
		if i >= len(s.Values) || s.Values[i] < 0 {
			return 0
		}
		return float64(s.Values[i])
	}
	// Totals in float64: a sum of huge counts must not wrap around.
	totals := make([]float64, len(labels))
	sums := make([]float64, len(series))
	maxTotal := 0.0
	for i := range labels {
		for j, s := range series {
			totals[i] += value(s, i)
			sums[j] += value(s, i)
		}
		maxTotal = math.Max(maxTotal, totals[i])
	}
	hi := maxTotal
	if hi == 0 {
		hi = 1
	}
	ys := ticks(0, hi, true)
	hi = ys[len(ys)-1]
	y := func(v float64) float64 { return plotBottom - v/hi*(plotBottom-plotTop) }
	slot := float64(barsRight-plotLeft) / float64(len(labels))
	barW := slot * 0.8

	var b strings.Builder
	desc := make([]string, len(series))
	for j, s := range series {
		desc[j] = s.Name + " " + label(sums[j])
	}
	fmt.Fprintf(&b, `<desc>%s; in all: %s</desc>`, plural(len(labels), "bar"), esc(strings.Join(desc, ", ")))

	// The legend, above the plot.
	b.WriteString(`<g class="chart-legend">`)
	lx := plotLeft
	for j, s := range series {
		fmt.Fprintf(&b, `<rect class="%s" x="%d" y="5" width="12" height="12" fill="%s"/>`, className(s.Class), lx, palette[j%len(palette)])
		fmt.Fprintf(&b, `<text x="%d" y="16" fill="#222">%s</text>`, lx+16, esc(s.Name))
		lx += 16 + 8*len([]rune(s.Name)) + 16
	}
	b.WriteString(`</g>`)

	b.WriteString(`<g class="chart-axis">`)
	for _, v := range ys {
		fmt.Fprintf(&b, `<line class="chart-grid" x1="%d" x2="%d" y1="%s" y2="%s" stroke="#ddd"/>`, plotLeft, barsRight, num(y(v)), num(y(v)))
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" fill="#444">%s</text>`, plotLeft-6, num(y(v)+4), esc(label(v)))
	}
	// At most maxXLabels labels, evenly picked, so 24 hours stay readable on a phone.
	every := (len(labels) + maxXLabels - 1) / maxXLabels
	for i, l := range labels {
		if i%every != 0 {
			continue
		}
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" fill="#444">%s</text>`, num(plotLeft+slot*(float64(i)+0.5)), plotBottom+18, esc(l))
	}
	b.WriteString(`</g>`)

	b.WriteString(`<g class="chart-bars-data">`)
	for i, l := range labels {
		base := 0.0
		bx := plotLeft + slot*float64(i) + (slot-barW)/2
		for j, s := range series {
			v := value(s, i)
			if v == 0 {
				continue
			}
			top := y(base + v)
			fmt.Fprintf(&b, `<rect class="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s, %s: %s</title></rect>`,
				className(s.Class), num(bx), num(top), num(barW), num(y(base)-top), palette[j%len(palette)], esc(l), esc(s.Name), esc(label(v)))
			base += v
		}
	}
	b.WriteString(`</g>`)

	var out strings.Builder
	return svg(&out, "chart-bars", title, height, b.String())
}
