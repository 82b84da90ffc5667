// Package dashboard is the web dashboard `dueq serve` shows at /: static
// files embedded in the binary (no CDN: it works offline), which read the
// HTTP API (/api/v1/...) and follow its event stream (/api/v1/events).
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed ui
var files embed.FS

// Handler serves the dashboard: GET / is the page, GET /ui/FILE its
// scripts, styles and images; a path under /ui/ that names no file goes to
// notFound (the API answers it with a JSON 404, as every other path). The
// files hold no data, so they are served without the API token; the page
// asks for the token and sends it with its API calls.
func Handler(notFound http.Handler) http.Handler {
	ui, _ := fs.Sub(files, "ui") // ui is embedded: Sub cannot fail
	static := http.StripPrefix("/ui/", http.FileServerFS(ui))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			headers(w)
			http.ServeFileFS(w, r, ui, "index.html")
			return
		}
		name, _ := strings.CutPrefix(r.URL.Path, "/ui/")
		if st, err := fs.Stat(ui, name); err != nil || st.IsDir() || !fs.ValidPath(name) {
			notFound.ServeHTTP(w, r)
			return
		}
		headers(w)
		static.ServeHTTP(w, r)
	})
}

// headers sets what every dashboard file is served with.
func headers(w http.ResponseWriter) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
}
