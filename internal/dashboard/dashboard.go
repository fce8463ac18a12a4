// Package dashboard serves the developer dashboard: a few static pages
// and their compiled scripts, embedded in the binary so that the server
// needs nothing beside it. The pages call the public REST API with the
// session cookie (gateway's browser.go); this package holds no logic of
// the API's. The assets are built from web/ by `make dashboard` and
// committed, like gen/.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// assets is web/'s build output (make dashboard).
//
//go:embed assets
var assets embed.FS

// Pages are the dashboard's pages, each at /dashboard/<name>.
var Pages = []string{"signin", "register", "keys", "usage", "audit", "try"}

// ContentSecurityPolicy allows the page's own scripts, styles and API
// calls only: no inline script or style, no eval, no framing, no plugins.
// Images may be blob: URLs, which is how the try-it panel shows an upload
// and its result.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves the pages and assets.
type Handler struct {
	files map[string]file
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

// New reads the embedded assets.
func New() (*Handler, error) {
	h := &Handler{files: map[string]file{}}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(p))
		if strings.HasSuffix(p, ".js") {
			ct = "text/javascript; charset=utf-8"
		}
		h.files[strings.TrimPrefix(p, "assets/")] = file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range Pages {
		if _, ok := h.files[p+".html"]; !ok {
			return nil, errors.New("dashboard: page " + p + " is not built (make dashboard)")
		}
	}
	return h, nil
}

// Serve answers / and /dashboard (a redirect to the keys page, which
// sends a visitor who is not signed in on to sign in), /dashboard/<page>
// and /dashboard/assets/<file>. It reports false, having written
// nothing, for a path that names none of them, so that the caller
// answers it in the API's problem format.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	if p == "/" || p == "/dashboard" || p == "/dashboard/" {
		securityHeaders(w.Header())
		http.Redirect(w, r, "/dashboard/keys", http.StatusFound)
		return true
	}
	name := strings.TrimPrefix(p, "/dashboard/")
	var f file
	var ok bool
	if asset, isAsset := strings.CutPrefix(name, "assets/"); isAsset {
		f, ok = h.files[asset]
		ok = ok && !strings.HasSuffix(asset, ".html")
	} else {
		f, ok = h.files[name+".html"]
	}
	if !ok {
		return false
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", f.contentType)
	// Revalidated on every load (a 304 when unchanged), so a new build
	// is never mixed with an old script from the cache.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	return true
}

// securityHeaders are sent with every page and asset.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}
