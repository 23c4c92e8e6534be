package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

//go:embed templates/*.html
var templateFiles embed.FS

// pages holds one template set per page: the layout, the partials (templates whose
// file name starts with "_") and the page itself, which defines "content" (and may
// define "title").
type pages map[string]*template.Template

func parsePages(fm template.FuncMap) (pages, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	base := template.New("").Funcs(fm)
	var pageFiles []string
	for _, n := range names {
		file := path.Base(n)
		if file == "layout.html" || strings.HasPrefix(file, "_") {
			if _, err := base.ParseFS(templateFiles, n); err != nil {
				return nil, fmt.Errorf("console: template %s: %w", file, err)
			}
			continue
		}
		pageFiles = append(pageFiles, n)
	}
	p := pages{}
	for _, n := range pageFiles {
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", path.Base(n), err)
		}
		p[path.Base(n)] = t
	}
	return p, nil
}

// view is what every page template gets: the page's own data in Data, and what the
// layout needs (who is signed in, the CSRF token for forms, the section to highlight).
type view struct {
	Title   string
	Section string // "shipments", "webhooks", "account", "operator"
	Viewer  *Viewer
	Notice  string // the one-line result of the last action (see redirectNotice)
	Data    any
}

// render writes page with data, the HTML of a whole document, at status. It renders
// into a buffer first, so a template error becomes an error page, not half a page.
func (s *Server) render(c echo.Context, status int, page, title, section string, data any) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("console: no page %s", page)
	}
	v := view{Title: title, Section: section, Viewer: viewerOf(c), Notice: s.takeNotice(c), Data: data}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("console: render %s: %w", page, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// errorPage renders err as a page with the status its code gives (see
// statusOf): what went wrong in the words of the API, never the internals of a 500,
// which are logged.
func (s *Server) errorPage(c echo.Context, err error) error {
	status, msg := statusOf(err)
	if status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "console", slog.String("path", c.Path()), slog.Any("err", err))
		msg = "Something went wrong on the server; the error is in its log."
	}
	data := struct {
		Status int
		Text   string
		Msg    string
	}{status, http.StatusText(status), msg}
	if rerr := s.render(c, status, "error.html", http.StatusText(status), "", data); rerr != nil {
		return c.String(status, msg)
	}
	return nil
}

// statusOf maps an error of the references Service to an HTTP status and message.
func statusOf(err error) (int, string) {
	var e *references.Error
	if !errors.As(err, &e) {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he.Code, fmt.Sprint(he.Message)
		}
		return http.StatusInternalServerError, ""
	}
	switch e.Code {
	case references.CodeNotFound:
		return http.StatusNotFound, e.Message
	case references.CodeUnauthorized:
		return http.StatusUnauthorized, e.Message
	case references.CodeQuotaExceeded:
		return http.StatusForbidden, e.Message
	case references.CodeUnavailable:
		return http.StatusServiceUnavailable, e.Message
	case references.CodeConflict:
		return http.StatusConflict, e.Message
	case references.CodeInvalid:
		return http.StatusUnprocessableEntity, e.Error()
	}
	return http.StatusBadRequest, e.Message
}

// fieldError returns the field and message of an invalid-input error of the Service,
// for a form to show next to the control at fault (p.field-error#error-<field>); ok is
// false for any other error, which is an error page.
func fieldError(err error) (field, msg string, ok bool) {
	var e *references.Error
	if !errors.As(err, &e) || e.Code != references.CodeInvalid {
		return "", "", false
	}
	return e.Field, e.Message, true
}
