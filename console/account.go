package console

// The account pages: its webhook signing secret, API keys, audit log and operational
// events.

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// logPageSize is how many entries the audit and events pages show at once.
const logPageSize = 50

// graceChoice is one option of a rotation's grace select (name=grace_seconds).
type graceChoice struct {
	Seconds  int
	Label    string
	Selected bool
}

// graceChoices are the graces a rotation offers, the default (a day) selected.
func graceChoices() []graceChoice {
	return []graceChoice{
		{0, "None: the old secret stops signing now", false},
		{3600, "1 hour", false},
		{int(references.DefaultRotationGrace / time.Second), "24 hours", true},
		{int(references.MaxRotationGrace / time.Second), "7 days", false},
	}
}

// parseGrace reads a rotation's grace_seconds; empty is the Service's default.
func parseGrace(c echo.Context) (*time.Duration, error) {
	raw := c.FormValue("grace_seconds")
	if raw == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return nil, references.Invalidf("grace_seconds", "must be a whole number of seconds")
	}
	g := time.Duration(n) * time.Second
	return &g, nil
}

// secretRow is one live signing secret as the account page lists it.
type secretRow struct {
	Masked    string
	Revealed  string // only in the answer to a reveal
	CreatedAt time.Time
	ExpiresAt *time.Time // nil for the current secret
}

// accountData is what account.html shows.
type accountData struct {
	Account  references.Account
	Secrets  []secretRow // newest first
	Revealed bool
	Graces   []graceChoice
	Error    map[string]string // field -> message, after a refused rotation
}

func (s *Server) accountPage(c echo.Context, status int, reveal bool, fieldErr map[string]string) error {
	v := viewerOf(c)
	acct, err := s.svc.WebhookSecret(c.Request().Context(), v.AccountID())
	if err != nil {
		return s.errorPage(c, err)
	}
	d := accountData{Account: acct, Revealed: reveal, Graces: graceChoices(), Error: fieldErr}
	canWrite := v.Can(references.ScopeWrite)
	for _, sec := range acct.Live(s.opts.Now()) {
		row := secretRow{CreatedAt: sec.CreatedAt, ExpiresAt: sec.ExpiresAt}
		// A read key sees that secrets exist, not any of their characters (the API
		// shows it none either).
		if canWrite {
			row.Masked = mask(sec.Secret)
		} else {
			row.Masked = mask("whsec_")
		}
		if reveal {
			row.Revealed = sec.Secret
		}
		d.Secrets = append(d.Secrets, row)
	}
	acct.WebhookSecrets = nil // the template reads secrets from Secrets only
	d.Account = acct
	return s.render(c, status, "account.html", "Account", "account", d)
}

func (s *Server) account(c echo.Context) error {
	return s.accountPage(c, http.StatusOK, false, nil)
}

// revealAccountSecret answers with the account page showing the live secrets in
// clear, once: nothing keeps them revealed, and the page is not cached.
func (s *Server) revealAccountSecret(c echo.Context) error {
	return s.accountPage(c, http.StatusOK, true, nil)
}

// rotateAccountSecret makes a new signing secret after a confirmation; the previous
// one keeps signing for the grace chosen.
func (s *Server) rotateAccountSecret(c echo.Context) error {
	grace, err := parseGrace(c)
	if err == nil && !confirmed(c) {
		return s.confirm(c, "Rotate the account's webhook signing secret? Webhooks will be signed with a new secret; "+
			"the current one keeps signing for "+graceWords(grace)+", so update your receivers within that time.", Prefix+"/account")
	}
	if err == nil {
		_, err = s.svc.RotateWebhookSecret(c.Request().Context(), viewerOf(c).AccountID(), grace)
	}
	if err != nil {
		if field, msg, ok := fieldError(err); ok {
			return s.accountPage(c, http.StatusUnprocessableEntity, false, map[string]string{field: msg})
		}
		return s.errorPage(c, err)
	}
	return s.redirectNotice(c, Prefix+"/account",
		"The signing secret was rotated: reveal the new one and give it to your receivers.")
}

// graceWords words a rotation's grace for its confirmation.
func graceWords(g *time.Duration) string {
	d := references.DefaultRotationGrace
	if g != nil {
		d = *g
	}
	if d <= 0 {
		return "no time at all (it stops at once)"
	}
	return dur(d)
}

// keyRow is one API key as the keys page lists it.
type keyRow struct {
	references.APIKey
	Live bool
	Mine bool // the key this session was opened with
}

// keysData is what keys.html shows.
type keysData struct {
	Keys []keyRow
	// NewKey is a key just made, in clear: this answer is the only place it is ever
	// rendered.
	NewKey     string
	NewKeyID   string
	Form       keyForm
	Error      map[string]string // field -> message of a refused creation
	Lifetimes  []lifetimeChoice
	Scopes     []references.Scope
	RevokeFail string // why a revocation was refused
}

// keyForm is the create-key form as posted, to show it again after an error.
type keyForm struct {
	Name      string
	Scope     string
	ExpiresIn string
}

// lifetimeChoice is one option of the key's expires_in select.
type lifetimeChoice struct {
	Value, Label string
}

var lifetimes = []lifetimeChoice{
	{"7d", "7 days"}, {"30d", "30 days"}, {"90d", "90 days"}, {"365d", "1 year"}, {"", "Never"},
}

func (s *Server) keysPage(c echo.Context, status int, d keysData) error {
	v := viewerOf(c)
	keys, err := s.svc.Keys(c.Request().Context(), v.AccountID())
	if err != nil {
		return s.errorPage(c, err)
	}
	now := s.opts.Now()
	for _, k := range keys {
		d.Keys = append(d.Keys, keyRow{APIKey: k, Live: k.LiveAt(now), Mine: k.ID == v.Key.ID})
	}
	// Newest first: the key just made, and the ones people look for, are on top.
	slices.Reverse(d.Keys)
	if d.Form == (keyForm{}) {
		d.Form = keyForm{Scope: string(references.ScopeRead), ExpiresIn: "90d"}
	}
	d.Lifetimes, d.Scopes = lifetimes, references.Scopes()
	return s.render(c, status, "keys.html", "API keys", "account", d)
}

func (s *Server) keys(c echo.Context) error {
	return s.keysPage(c, http.StatusOK, keysData{})
}

// createKey makes an API key and answers with it shown once (not a redirect: a key
// must never be in a URL).
func (s *Server) createKey(c echo.Context) error {
	f := keyForm{Name: c.FormValue("name"), Scope: c.FormValue("scopes"), ExpiresIn: c.FormValue("expires_in")}
	form, err := c.FormParams()
	if err != nil {
		return s.errorPage(c, echo.NewHTTPError(http.StatusBadRequest, "The form could not be read."))
	}
	req := references.KeyRequest{Name: f.Name, Scopes: form["scopes"], ExpiresIn: f.ExpiresIn}
	key, stored, err := s.svc.CreateKey(c.Request().Context(), viewerOf(c).AccountID(), req)
	if err != nil {
		if field, msg, ok := fieldError(err); ok {
			return s.keysPage(c, http.StatusUnprocessableEntity, keysData{Form: f, Error: map[string]string{field: msg}})
		}
		return s.errorPage(c, err)
	}
	s.log.InfoContext(c.Request().Context(), "console key created", "account", stored.AccountID, "key", stored.ID)
	return s.keysPage(c, http.StatusOK, keysData{NewKey: key, NewKeyID: stored.ID})
}

// revokeKey revokes one of the account's keys after a confirmation. Revoking the
// key of this very session signs it out.
func (s *Server) revokeKey(c echo.Context) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	keys, err := s.svc.Keys(ctx, v.AccountID())
	if err != nil {
		return s.errorPage(c, err)
	}
	i := slices.IndexFunc(keys, func(k references.APIKey) bool { return k.ID == id })
	if i < 0 {
		return s.errorPage(c, references.Errorf(references.CodeNotFound, "API key %s not found", id))
	}
	k := keys[i]
	if !confirmed(c) {
		q := "Revoke the API key " + keyLabel(k) + "? Anything using it stops working at once; this cannot be undone."
		if k.ID == v.Key.ID {
			q += " It is the key you signed in with: you will be signed out."
		}
		return s.confirm(c, q, Prefix+"/account/keys")
	}
	if _, err := s.svc.RevokeKey(ctx, v.AccountID(), id); err != nil {
		if references.ErrorCode(err) == references.CodeConflict {
			return s.keysPage(c, http.StatusConflict, keysData{RevokeFail: conflictMessage(err)})
		}
		return s.errorPage(c, err)
	}
	notice := "Revoked " + keyLabel(k) + "."
	if k.ID == v.Key.ID {
		return s.redirectNotice(c, Prefix+"/sign-in", notice+" You were signed out.")
	}
	return s.redirectNotice(c, Prefix+"/account/keys", notice)
}

// keyLabel names a key for people: its name if it has one, its id and prefix.
func keyLabel(k references.APIKey) string {
	if k.Name != "" {
		return "“" + k.Name + "” (" + k.ID + ", " + k.Prefix + "…)"
	}
	return k.ID + " (" + k.Prefix + "…)"
}

// conflictMessage is the message of a refused revocation; the Service's tells API
// users which request makes another admin key, the console says where.
func conflictMessage(err error) string {
	_, msg := statusOf(err)
	return "Not revoked: " + msg + " (in the console: create an admin key below first)."
}

// auditData is what audit.html shows.
type auditData struct {
	Entries []references.AuditEntry
	Names   map[string]string // key id -> label, to say who acted
	After   uint64
	Next    uint64 // 0: no more
}

func (s *Server) audit(c echo.Context) error {
	after, err := afterParam(c)
	if err != nil {
		return s.errorPage(c, err)
	}
	v := viewerOf(c)
	ctx := c.Request().Context()
	p, err := s.svc.Audit(ctx, v.AccountID(), after, logPageSize)
	if err != nil {
		return s.errorPage(c, err)
	}
	keys, err := s.svc.Keys(ctx, v.AccountID())
	if err != nil {
		return s.errorPage(c, err)
	}
	d := auditData{Entries: p.Entries, Names: map[string]string{}, After: after}
	for _, k := range keys {
		d.Names[k.ID] = keyLabel(k)
	}
	if len(p.Entries) == logPageSize {
		d.Next = p.NextAfter
	}
	return s.render(c, http.StatusOK, "audit.html", "Audit log", "account", d)
}

// eventsData is what events.html shows.
type eventsData struct {
	Events []references.AccountEvent
	After  uint64
	Next   uint64 // 0: no more
}

func (s *Server) accountEvents(c echo.Context) error {
	after, err := afterParam(c)
	if err != nil {
		return s.errorPage(c, err)
	}
	p, err := s.svc.AccountEvents(c.Request().Context(), viewerOf(c).AccountID(), after, logPageSize)
	if err != nil {
		return s.errorPage(c, err)
	}
	d := eventsData{Events: p.Events, After: after}
	if len(p.Events) == logPageSize {
		d.Next = p.NextAfter
	}
	return s.render(c, http.StatusOK, "events.html", "Operational events", "account", d)
}

// afterParam reads the ?after= cursor of a log's page.
func afterParam(c echo.Context) (uint64, error) {
	raw := c.QueryParam("after")
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, echo.NewHTTPError(http.StatusBadRequest, "after must be a sequence number")
	}
	return n, nil
}
