package chart

import (
	"encoding/xml"
	"errors"
	"flag"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func TestLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		title string
		unit  string
		pts   []Point
		want  []string // substrings the chart must contain
	}{
		{"empty", "ETA drift", "h", nil, []string{"No data"}},
		{"only_nan", "ETA drift", "h", []Point{{at(0), math.NaN()}, {at(1), math.Inf(1)}}, []string{"No data"}},
		{"one_point", "ETA drift", "h", []Point{{at(0), 0}}, []string{"1 point from", ">0 h</text>"}},
		{"equal_values", "ETA drift", "h", []Point{{at(0), 5}, {at(6), 5}, {at(12), 5}}, []string{">5 h</text>"}},
		{"drift", "ETA drift", "h", []Point{{at(0), 0}, {at(10), 12}, {at(30), 36}, {at(50), 30.5}}, []string{">30.5 h</text>", "1 Mar 12:00"}},
		{"negative", "ETA drift", "h", []Point{{at(0), 0}, {at(24), -12}, {at(48), -30}}, []string{">-30 h</text>", `class="chart-zero"`}},
		{"unsorted", "ETA drift", "h", []Point{{at(48), 3}, {at(0), 0}, {at(24), 1}}, []string{">3 h</text>"}},
		{"huge", "Big", "", []Point{{at(0), 0}, {at(24 * 400), 4e12}, {at(24 * 800), math.MaxFloat64}}, []string{"May 2028", "4T", "e+300"}},
		{"same_time", "ETA drift", "h", []Point{{at(0), 1}, {at(0), 2}}, []string{">2 h</text>"}},
		{"escaped", `ETA <drift> & "co"`, "<h>", []Point{{at(0), 0}, {at(1), 1}}, []string{"ETA &lt;drift&gt; &amp; &#34;co&#34;", "&lt;h&gt;"}},
		{"zone", "ETA drift", "h", []Point{{t0.In(time.FixedZone("CET", 3600)), 0}, {at(2), 2}}, []string{"2026-03-01 13:00 CET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Line(tt.title, tt.unit, tt.pts)
			checkChart(t, got, tt.title)
			for _, w := range tt.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("chart lacks %q:\n%s", w, got)
				}
			}
			if again := Line(tt.title, tt.unit, tt.pts); again != got {
				t.Error("the same points gave a different chart")
			}
			golden(t, "line_"+tt.name, got)
		})
	}
}

func TestStackedBars(t *testing.T) {
	t.Parallel()
	hours := make([]string, 24)
	for i := range hours {
		hours[i] = at(float64(i)).Format("15:04")
	}
	tests := []struct {
		name   string
		title  string
		labels []string
		series []Series
		want   []string
		absent []string
	}{
		{"empty_labels", "Deliveries", nil, []Series{{"Delivered", "delivered", []int{1}}}, []string{"No data"}, nil},
		{"no_series", "Deliveries", hours, nil, []string{"No data"}, nil},
		{"all_zero", "Deliveries", hours[:3], []Series{{"Delivered", "delivered", []int{0, 0, 0}}}, []string{"Delivered 0"}, []string{"<title>12:00"}},
		{"one_bar", "Deliveries", hours[:1], []Series{{"Delivered", "delivered", []int{7}}, {"Failed", "failed", []int{2}}}, []string{"12:00, Delivered: 7", "12:00, Failed: 2"}, nil},
		{"day", "Deliveries per hour", hours, []Series{
			{"Delivered", "delivered", []int{5, 8, 13, 0, 2, 40, 41, 39, 12, 8, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
			{"Failed", "failed", []int{0, 1, 0, 0, 0, 3, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
			{"Pending", "pending", []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4}},
		}, []string{"Delivered 246", "Failed 14", "Pending 4", `class="failed"`, "11:00, Delivered: 12"}, []string{">13:00</text>"}},
		{"negative_and_short", "Deliveries", hours[:4], []Series{{"Delivered", "delivered", []int{-5, 3}}, {"Failed", "failed", []int{1, 1, 1, 1, 9}}}, []string{"Delivered 3", "Failed 4"}, []string{"-5"}},
		{"huge", "Deliveries", hours[:2], []Series{{"Delivered", "delivered", []int{math.MaxInt, math.MaxInt}}, {"Failed", "failed", []int{math.MaxInt, 1}}}, []string{"e+19"}, []string{"NaN", "Inf"}},
		{"escaped", `<Deliveries>`, []string{`<b>&`}, []Series{{`"Del"`, `x" onclick="y`, []int{1}}}, []string{"&lt;b&gt;&amp;", "&#34;Del&#34;", `class="x- onclick--y"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := StackedBars(tt.title, tt.labels, tt.series)
			checkChart(t, got, tt.title)
			for _, w := range tt.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("chart lacks %q:\n%s", w, got)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(string(got), a) {
					t.Errorf("chart has %q:\n%s", a, got)
				}
			}
			if again := StackedBars(tt.title, tt.labels, tt.series); again != got {
				t.Error("the same data gave a different chart")
			}
			golden(t, "bars_"+tt.name, got)
		})
	}
}

func TestChartsOnOnePageHaveDistinctIDs(t *testing.T) {
	t.Parallel()
	a := Line("ETA drift", "h", []Point{{at(0), 0}, {at(1), 1}})
	b := Line("ETA drift", "h", []Point{{at(0), 0}, {at(1), 2}})
	c := StackedBars("ETA drift", []string{"x"}, []Series{{"n", "n", []int{1}}})
	ids := map[string]bool{}
	for _, h := range []template.HTML{a, b, c} {
		id := titleID.FindStringSubmatch(string(h))[1]
		if ids[id] {
			t.Errorf("id %s used twice", id)
		}
		ids[id] = true
	}
}

var (
	titleID    = regexp.MustCompile(`<title id="([^"]+)">`)
	labelledBy = regexp.MustCompile(`^<svg [^>]*role="img" aria-labelledby="([^"]+)"`)
	forbidden  = regexp.MustCompile(`(?i)style=|<script|\son[a-z]+=|NaN|Inf`)
)

// checkChart checks what every chart promises: well-formed SVG, labelled by a title
// that says title, scalable, and nothing the console's CSP forbids.
func checkChart(t *testing.T, h template.HTML, title string) {
	t.Helper()
	s := string(h)
	m := labelledBy.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("not an svg with role=img and aria-labelledby:\n%s", s)
	}
	if tm := titleID.FindStringSubmatch(s); tm == nil || tm[1] != m[1] {
		t.Errorf("aria-labelledby %q names no <title>:\n%s", m[1], s)
	}
	if !strings.Contains(s, ` viewBox="0 0 `) || strings.Contains(s, ` width="100%"`) {
		t.Errorf("no viewBox:\n%s", s)
	}
	if f := forbidden.FindString(s); f != "" && !strings.Contains(title, f) {
		t.Errorf("chart has %q:\n%s", f, s)
	}
	// Well-formed XML, and its title text is the title.
	d := xml.NewDecoder(strings.NewReader(s))
	var gotTitle string
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, s)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && e.Name.Local == "title" && gotTitle == "" {
				var txt string
				if err := d.DecodeElement(&txt, &e); err != nil {
					t.Fatal(err)
				}
				gotTitle = txt
				depth--
			}
		case xml.EndElement:
			depth--
		}
	}
	if gotTitle != title {
		t.Errorf("title %q, want %q", gotTitle, title)
	}
}

func golden(t *testing.T, name string, got template.HTML) {
	t.Helper()
	path := filepath.Join("testdata", name+".svg")
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("chart differs from %s (run with -update after checking it):\n%s", path, got)
	}
}
