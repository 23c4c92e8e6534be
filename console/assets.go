package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

//go:embed assets
var assetFiles embed.FS

// assetCacheFor is how long browsers keep an asset fetched by its versioned URL:
// the URL names the content, so a changed file has a new URL and nothing stale is
// ever used.
const assetCacheFor = "public, max-age=31536000, immutable"

// asset is one embedded file with what its answers need.
type asset struct {
	body        []byte
	contentType string
	version     string // the first 16 hex digits of the SHA-256 of body
}

// assets are the embedded files by name (console.css, console.js).
type assets map[string]asset

func loadAssets() (assets, error) {
	out := assets{}
	err := fs.WalkDir(assetFiles, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // the system's mime table may lack these or differ
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		out[strings.TrimPrefix(p, "assets/")] = asset{body: body, contentType: ct, version: hex.EncodeToString(sum[:8])}
		return nil
	})
	return out, err
}

// url returns the versioned URL of the asset name, for templates (the func asset).
// An unknown name gives a URL that answers 404, which a page test notices.
func (a assets) url(name string) string {
	u := Prefix + "/assets/" + name
	if f, ok := a[name]; ok {
		u += "?v=" + f.version
	}
	return u
}

// asset serves an embedded file. Asked for with its current version (?v=, as pages
// link it) it may be cached for a year; otherwise browsers revalidate it by ETag.
func (s *Server) asset(c echo.Context) error {
	f, ok := s.assets[c.Param("*")]
	h := c.Response().Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if !ok {
		h.Set("Cache-Control", "no-store")
		return c.String(http.StatusNotFound, "no such asset\n")
	}
	etag := `"` + f.version + `"`
	h.Set("ETag", etag)
	if c.QueryParam("v") == f.version {
		h.Set("Cache-Control", assetCacheFor)
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if c.Request().Header.Get("If-None-Match") == etag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, f.contentType, f.body)
}
