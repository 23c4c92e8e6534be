package chart

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"
)

// Point is one value at one time.
type Point struct {
	At    time.Time
	Value float64
}

// Line draws pts as a step chart over time: each value holds until the next point,
// as an ETA does until the carrier moves it again. The y axis always includes zero,
// the baseline (for ETA drift: the first ETA seen), and is labelled with unit; the
// last value is labelled beside its point. Points need not be sorted; points whose
// value is not a finite number are left out. No points give a small "no data" chart.
// Times are shown in the location of the earliest point.
func Line(title, unit string, pts []Point) template.HTML {
	ps := make([]Point, 0, len(pts))
	for _, p := range pts {
		if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			continue
		}
		// Beyond ±1e300 the axis arithmetic would overflow; no chart needs more.
		p.Value = math.Max(-maxValue, math.Min(maxValue, p.Value))
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return noData("chart-line", title)
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].At.Before(ps[j].At) })
	loc := ps[0].At.Location()
	t0, t1 := ps[0].At, ps[len(ps)-1].At
	span := t1.Sub(t0)

	lo, hi := 0.0, 0.0
	for _, p := range ps {
		lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
	}
	if lo == hi {
		hi = 1
	}
	ys := ticks(lo, hi, false)
	lo, hi = ys[0], ys[len(ys)-1]
	x := func(t time.Time) float64 {
		if span <= 0 {
			return (plotLeft + plotRight) / 2
		}
		return plotLeft + float64(t.Sub(t0))/float64(span)*(plotRight-plotLeft)
	}
	y := func(v float64) float64 { return plotBottom - (v-lo)/(hi-lo)*(plotBottom-plotTop) }

	var b strings.Builder
	last := ps[len(ps)-1]
	fmt.Fprintf(&b, `<desc>%s from %s to %s; last value %s</desc>`,
		plural(len(ps), "point"), esc(t0.In(loc).Format(pointTime)), esc(t1.In(loc).Format(pointTime)), esc(withUnit(last.Value, unit)))
	if unit != "" {
		fmt.Fprintf(&b, `<text class="chart-unit" x="%d" y="%d" text-anchor="end" fill="#444">%s</text>`, plotLeft-6, plotTop-12, esc(unit))
	}
	b.WriteString(`<g class="chart-axis">`)
	for _, v := range ys {
		cls, stroke := "chart-grid", "#ddd"
		if v == 0 {
			cls, stroke = "chart-zero", "#888"
		}
		fmt.Fprintf(&b, `<line class="%s" x1="%d" x2="%d" y1="%s" y2="%s" stroke="%s"/>`, cls, plotLeft, plotRight, num(y(v)), num(y(v)), stroke)
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" fill="#444">%s</text>`, plotLeft-6, num(y(v)+4), esc(label(v)))
	}
	for _, t := range timeTicks(t0, span) {
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" fill="#444">%s</text>`, num(x(t)), plotBottom+18, esc(t.In(loc).Format(axisLayout(span))))
	}
	b.WriteString(`</g>`)

	// The step path: along at the old value to the next point's time, then up or
	// down to its value.
	fmt.Fprintf(&b, `<path class="chart-line-path" fill="none" stroke="#1565c0" stroke-width="2" d="M%s %s`, num(x(ps[0].At)), num(y(ps[0].Value)))
	for _, p := range ps[1:] {
		fmt.Fprintf(&b, `H%sV%s`, num(x(p.At)), num(y(p.Value)))
	}
	b.WriteString(`"/>`)
	for _, p := range ps {
		fmt.Fprintf(&b, `<circle class="chart-point" cx="%s" cy="%s" r="3" fill="#1565c0"><title>%s: %s</title></circle>`,
			num(x(p.At)), num(y(p.Value)), esc(p.At.In(loc).Format(pointTime)), esc(withUnit(p.Value, unit)))
	}
	fmt.Fprintf(&b, `<text class="chart-last" x="%s" y="%s" fill="#1565c0" font-weight="bold">%s</text>`,
		num(x(last.At)+8), num(y(last.Value)+4), esc(withUnit(last.Value, unit)))

	var out strings.Builder
	return svg(&out, "chart-line", title, height, b.String())
}

const maxValue = 1e300

// pointTime is how a point's own time is written (its tooltip, the description).
const pointTime = "2006-01-02 15:04 MST"

func withUnit(v float64, unit string) string {
	if unit == "" {
		return label(v)
	}
	return label(v) + " " + unit
}

// timeTicks returns up to four evenly spaced times from t0 over span (one when the
// span is empty).
func timeTicks(t0 time.Time, span time.Duration) []time.Time {
	if span <= 0 {
		return []time.Time{t0}
	}
	const n = 4
	out := make([]time.Time, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, t0.Add(time.Duration(float64(span)*float64(i)/(n-1))))
	}
	return out
}

// axisLayout chooses how much of a time the x axis shows: hours for a few days,
// days for a year, months beyond.
func axisLayout(span time.Duration) string {
	switch {
	case span <= 72*time.Hour:
		return "2 Jan 15:04"
	case span <= 365*24*time.Hour:
		return "2 Jan"
	}
	return "Jan 2006"
}
