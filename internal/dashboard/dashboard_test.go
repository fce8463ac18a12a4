package dashboard

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEveryReferenceResolves: every script and style sheet a page names,
// and every module a script imports, is among the embedded assets, so a
// build that lost a file fails here and not in a browser.
func TestEveryReferenceResolves(t *testing.T) {
	t.Parallel()
	h, err := New()
	require.NoError(t, err)
	refs := regexp.MustCompile(`(?:src|href)="(/dashboard/assets/[^"]+)"`)
	imports := regexp.MustCompile(`(?m)^import [^;]* from "\./([^"]+)";`)
	for _, page := range Pages {
		body := string(h.files[page+".html"].body)
		found := refs.FindAllStringSubmatch(body, -1)
		require.Len(t, found, 2, "%s: a style sheet and a script", page)
		for _, m := range found {
			_, ok := h.files[strings.TrimPrefix(m[1], "/dashboard/assets/")]
			require.True(t, ok, "%s names %s", page, m[1])
		}
		require.Contains(t, body, `<body data-page="`+page+`">`)
	}
	scripts, imported := 0, 0
	for name, f := range h.files {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		scripts++
		for _, m := range imports.FindAllStringSubmatch(string(f.body), -1) {
			_, ok := h.files["js/"+m[1]]
			require.True(t, ok, "%s imports %s", name, m[1])
			imported++
		}
		require.NotContains(t, string(f.body), "eval(", name)
		require.NotContains(t, string(f.body), "innerHTML", "%s: text goes in as text", name)
	}
	require.Greater(t, scripts, 5)
	require.Greater(t, imported, 10, "the pattern finds tsc's imports")
}

// TestServe: pages by their path, assets under assets/, a redirect at the
// top, and nothing else (the caller answers 404).
func TestServe(t *testing.T) {
	t.Parallel()
	h, err := New()
	require.NoError(t, err)
	for _, tt := range []struct {
		path   string
		served bool
		status int
		ctype  string
	}{
		{"/", true, http.StatusFound, ""},
		{"/dashboard/keys", true, http.StatusOK, "text/html; charset=utf-8"},
		{"/dashboard/assets/style.css", true, http.StatusOK, "text/css; charset=utf-8"},
		{"/dashboard/assets/js/api.js", true, http.StatusOK, "text/javascript; charset=utf-8"},
		{"/dashboard/keys.html", false, 0, ""},
		{"/dashboard/assets/keys.html", false, 0, ""},
		{"/dashboard/assets/../keys", false, 0, ""},
	} {
		w := httptest.NewRecorder()
		served := h.Serve(w, httptest.NewRequest(http.MethodGet, tt.path, nil))
		require.Equal(t, tt.served, served, tt.path)
		if !served {
			require.Empty(t, w.Header(), "%s: nothing written", tt.path)
			continue
		}
		require.Equal(t, tt.status, w.Code, tt.path)
		require.Equal(t, ContentSecurityPolicy, w.Header().Get("Content-Security-Policy"), tt.path)
		if tt.ctype != "" {
			require.Equal(t, tt.ctype, w.Header().Get("Content-Type"), tt.path)
		}
	}
}

// TestButtonsWaitForTheScript: every button a page's HTML holds starts
// disabled, and main.js enables them once their handlers are wired. A
// button that worked before would, pressed while the scripts are still
// loading (a slow link, a loaded machine), do nothing (Sign out) or let
// the browser send its form itself, with the password in the address.
func TestButtonsWaitForTheScript(t *testing.T) {
	t.Parallel()
	h, err := New()
	require.NoError(t, err)
	buttons := regexp.MustCompile(`<button\b[^>]*>`)
	disabled := regexp.MustCompile(`\sdisabled[\s>]`)
	seen := 0
	for _, page := range Pages {
		for _, b := range buttons.FindAllString(string(h.files[page+".html"].body), -1) {
			require.Regexp(t, disabled, b, "%s: a button enabled before its handler exists", page)
			// Firefox restores a control's script-set state across a
			// reload unless told not to: the button would come enabled.
			require.Contains(t, b, `autocomplete="off"`, "%s: a button whose enabled state a reload would restore", page)
			seen++
		}
	}
	require.Greater(t, seen, 10, "the pattern finds the pages' buttons")
	main := string(h.files["js/main.js"].body)
	require.Contains(t, main, `querySelectorAll("button:disabled")`, "main.js enables them")
}
