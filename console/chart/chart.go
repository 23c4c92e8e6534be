// Package chart draws the console's small charts as SVG, on the server: no script
// and nothing fetched by the browser.
//
// Every chart is a complete <svg role="img"> labelled by its <title>, with a viewBox
// and its natural size as width and height: a stylesheet's max-width: 100% with
// height: auto scales it down to a phone's width, keeping its proportions, while a
// wide page shows it at the size its text was made for. Colours are presentation attributes, which any class rule of
// the console's stylesheet overrides; the console's Content-Security-Policy forbids
// style attributes, so none are written. The output depends only on the input: the
// same data gives the same bytes, which the golden tests in testdata rely on.
package chart

import (
	"fmt"
	"hash/fnv"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// The drawing area every chart shares, in viewBox units. Text is sized to stay
// readable (about 10 px) when the chart is shown 360 px wide, on a phone.
const (
	width       = 480
	plotLeft    = 52  // room for the y-axis labels
	plotRight   = 416 // room for the last value's label of a line chart
	plotTop     = 30  // room for the unit or the legend
	plotBottom  = 172 // the x axis; its labels go below
	height      = 200
	noDataH     = 60
	fontSize    = 14
	maxXLabels  = 6
	targetTicks = 4
)

// svg writes the opening of a chart: the root element labelled by its title, and the
// title itself. The id is derived from the chart's content, so two charts on one page
// do not share one and the same chart always gets the same id.
func svg(b *strings.Builder, class, title string, h int, body string) template.HTML {
	id := chartID(class, title, body)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart %s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="%s" font-size="%d" font-family="sans-serif">`,
		class, width, h, width, h, id, fontSize)
	fmt.Fprintf(b, `<title id="%s">%s</title>`, id, esc(title))
	b.WriteString(body)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func chartID(class, title, body string) string {
	h := fnv.New64a()
	h.Write([]byte(class))
	h.Write([]byte{0})
	h.Write([]byte(title))
	h.Write([]byte{0})
	h.Write([]byte(body))
	return fmt.Sprintf("chart-%016x", h.Sum64())
}

// noData is the small chart shown when there is nothing to draw: the title still
// says what would be there.
func noData(class, title string) template.HTML {
	var body strings.Builder
	fmt.Fprintf(&body, `<text class="chart-empty" x="%d" y="%d" text-anchor="middle" fill="#666">No data</text>`, width/2, noDataH/2+fontSize/2)
	var b strings.Builder
	return svg(&b, class+" chart-no-data", title, noDataH, body.String())
}

// className keeps what a class attribute may sensibly hold (letters, digits, '-',
// '_' and spaces between classes); anything else becomes '-'.
func className(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == ' ':
			return r
		}
		return '-'
	}, s)
}

// esc escapes s for SVG text and attribute values.
func esc(s string) string { return template.HTMLEscapeString(s) }

// num formats a coordinate: at most one decimal, no exponent, so the output stays
// small and stable.
func num(f float64) string {
	s := strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

// ticks returns round values covering lo..hi (lo < hi), about targetTicks of them:
// steps of 1, 2 or 5 times a power of ten.
func ticks(lo, hi float64, integers bool) []float64 {
	span := hi - lo
	rough := span / targetTicks
	mag := math.Pow(10, math.Floor(math.Log10(rough)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		step = m * mag
		if span/step <= targetTicks+1 {
			break
		}
	}
	if integers && step < 1 {
		step = 1
	}
	start := math.Floor(lo/step) * step
	end := math.Ceil(hi/step) * step
	n := int(math.Round((end-start)/step)) + 1
	out := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, start+float64(i)*step)
	}
	return out
}

// label formats an axis or value label: plain up to 10,000, then with k, M, G, T so a
// huge count still fits beside the axis.
func label(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e15:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 1e12:
		return short(v/1e12) + "T"
	case a >= 1e9:
		return short(v/1e9) + "G"
	case a >= 1e6:
		return short(v/1e6) + "M"
	case a >= 1e4:
		return short(v/1e3) + "k"
	}
	return short(v)
}

// short formats v with three significant digits or fewer (no more than two
// decimals), dropping trailing zeros.
func short(v float64) string {
	scale := 100.0
	switch a := math.Abs(v); {
	case a >= 100:
		scale = 1
	case a >= 10:
		scale = 10
	}
	s := strconv.FormatFloat(math.Round(v*scale)/scale, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

// plural writes n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
