package console

// The template functions every page shares. Pages of one subject format their own
// data in Go when it needs more than these.

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trackhook/trackhook/references"
)

// Layouts of times on pages: the time's own zone is kept (UTC for what trackhook
// stamps, the location's offset for carriers' milestones), so a reader never has to
// guess which clock a time is on.
const (
	whenLayout    = "2006-01-02 15:04 MST"
	whenSecLayout = "2006-01-02 15:04:05 MST"
	noValue       = "—"
)

// funcs returns the template functions; now is the console's clock (for ago) and
// assetURL names an embedded asset by its content (see assets.go).
func funcs(now func() time.Time, assetURL func(string) string) template.FuncMap {
	return template.FuncMap{
		// when renders a time.Time or *time.Time as a <time> element, readable with its
		// zone, with the exact instant in datetime and title; "—" for nil or zero.
		"when": func(t any) template.HTML { return timeTag(t, whenLayout) },
		// whenSec is when to the second (audit logs, attempts).
		"whenSec": func(t any) template.HTML { return timeTag(t, whenSecLayout) },
		// whenText is when as plain text, for attributes and titles.
		"whenText": func(t any) string {
			tt, ok := timeOf(t)
			if !ok {
				return noValue
			}
			return tt.Format(whenLayout)
		},
		// ago is how long before now t was ("3 min ago"), or after ("in 2 h").
		"ago": func(t any) string {
			tt, ok := timeOf(t)
			if !ok {
				return noValue
			}
			return relative(now().Sub(tt))
		},
		// since is now minus t as a duration, for ages ("oldest undelivered: 2 h").
		"since": func(t any) time.Duration {
			tt, ok := timeOf(t)
			if !ok {
				return 0
			}
			return now().Sub(tt)
		},
		"dur": dur,
		// can reports whether the viewer's key grants scope ("read", "write",
		// "admin"); false when nobody is signed in.
		"can": func(v *Viewer, scope string) bool { return v != nil && v.Can(references.Scope(scope)) },
		// operator reports whether the viewer's key is an operator's.
		"operator": func(v *Viewer) bool { return v != nil && v.Key.Operator },
		"num":      num,
		"bytes":    byteSize,
		"plural":   plural,
		"mask":     mask,
		"scopes":   func(s []references.Scope) string { return strings.Join(references.ScopeNames(s), ", ") },
		"join":     strings.Join,
		"truncate": truncate,
		// query returns path with the query of the key/value pairs (values of any
		// type, printed with fmt; empty ones left out), for paging and filter links.
		"query": query,
		// asset returns the URL of an embedded asset (console.css, console.js), which
		// changes with its content so browsers may cache it for long.
		"asset": assetURL,
		// dict builds a map of key/value pairs, to pass several values to a partial.
		"dict": dict,
	}
}

// timeOf reads a time.Time or *time.Time; false for nil, zero or another type.
func timeOf(v any) (time.Time, bool) {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return time.Time{}, false
		}
		t = *x
	default:
		return time.Time{}, false
	}
	return t, !t.IsZero()
}

func timeTag(v any, layout string) template.HTML {
	t, ok := timeOf(v)
	if !ok {
		return noValue
	}
	exact := template.HTMLEscapeString(t.Format(time.RFC3339))
	return template.HTML(`<time datetime="` + exact + `" title="` + exact + `">` +
		template.HTMLEscapeString(t.Format(layout)) + `</time>`)
}

// relative words a duration from now: positive is past.
func relative(d time.Duration) string {
	switch {
	case d < 0:
		return "in " + roughly(-d)
	case d < time.Second:
		return "just now"
	}
	return roughly(d) + " ago"
}

// roughly is a duration to a person's precision: one or two units.
func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 || h >= 10 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	days := int(d / (24 * time.Hour))
	return fmt.Sprintf("%d days", days)
}

// dur renders a time.Duration, *time.Duration or a number of seconds (int, int64,
// float64) compactly: "250 ms", "4.2 s", "3 min 5 s", "2 h 10 min", "3 days 4 h".
func dur(v any) string {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case *time.Duration:
		if x == nil {
			return noValue
		}
		d = *x
	case int:
		d = time.Duration(x) * time.Second
	case int64:
		d = time.Duration(x) * time.Second
	case float64:
		d = time.Duration(x * float64(time.Second))
	default:
		return noValue
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	var s string
	switch {
	case d < time.Millisecond:
		s = fmt.Sprintf("%d µs", d/time.Microsecond)
	case d < time.Second:
		s = fmt.Sprintf("%d ms", d/time.Millisecond)
	case d < 10*time.Second:
		s = strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", d/time.Second)
	case d < time.Hour:
		s = twoUnits(int(d/time.Minute), "min", int(d%time.Minute/time.Second), "s")
	case d < 48*time.Hour:
		s = twoUnits(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "min")
	default:
		s = twoUnits(int(d/(24*time.Hour)), "days", int(d%(24*time.Hour)/time.Hour), "h")
	}
	return sign + s
}

func twoUnits(a int, ua string, b int, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d %s", a, ua)
	}
	return fmt.Sprintf("%d %s %d %s", a, ua, b, ub)
}

// num renders an integer with thousands separators: 12,345.
func num(v any) string {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		if x > math.MaxInt64 {
			return strconv.FormatUint(x, 10)
		}
		n = int64(x)
	case int32:
		n = int64(x)
	case uint32:
		n = int64(x)
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// byteSize renders a size in bytes: "512 B", "3.4 MiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// plural renders "1 key", "2 keys": n with the word that agrees.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return num(n) + " " + many
}

// mask hides a secret but for its kind and its last four characters, enough to tell
// two secrets apart: whsec_••••••••AbCd.
func mask(secret string) string {
	kind, rest, ok := strings.Cut(secret, "_")
	if !ok {
		kind, rest = "", secret
	} else {
		kind += "_"
	}
	tail := ""
	if utf8.RuneCountInString(rest) > 12 {
		tail = rest[len(rest)-4:]
	}
	return kind + strings.Repeat("•", 8) + tail
}

// truncate shortens s to at most n characters, with an ellipsis.
func truncate(n int, s string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 0)]) + "…"
}

func query(path string, pairs ...any) (string, error) {
	if len(pairs)%2 != 0 {
		return "", fmt.Errorf("query %s: odd number of arguments", path)
	}
	q := url.Values{}
	for i := 0; i < len(pairs); i += 2 {
		k := fmt.Sprint(pairs[i])
		var v string
		switch x := pairs[i+1].(type) {
		case nil:
		case string:
			v = x
		case []string:
			for _, s := range x {
				if s != "" {
					q.Add(k, s)
				}
			}
			continue
		case uint64:
			if x != 0 {
				v = strconv.FormatUint(x, 10)
			}
		case int:
			if x != 0 {
				v = strconv.Itoa(x)
			}
		case bool:
			if x {
				v = "true"
			}
		default:
			v = fmt.Sprint(x)
		}
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return path, nil
	}
	return path + "?" + q.Encode(), nil
}

func dict(pairs ...any) (map[string]any, error) {
	if len(pairs)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, ok := pairs[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", pairs[i])
		}
		m[k] = pairs[i+1]
	}
	return m, nil
}
