//go:build !js

package host

import (
	"fmt"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// webHandler serves the browser build from dir, or a page saying how to
// build it.
func webHandler(dir string) (http.Handler, string) {
	if dir == "" {
		return nil, ""
	}
	for _, f := range []string{"index.html", "game.wasm", "wasm_exec.js"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			msg := fmt.Sprintf("the browser version is not built (%s is missing): run make web", filepath.Join(dir, f))
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprintln(w, msg)
			}), msg
		}
	}
	return &webFiles{dir: dir, files: http.FileServer(http.Dir(dir))}, ""
}

// webFiles serves a folder, and for a file that make web also wrote
// compressed (game.wasm.br, game.wasm.gz), the compressed copy to a
// browser that accepts it, with Content-Encoding set: the game is a
// fifth of its size on the wire.
type webFiles struct {
	dir   string
	files http.Handler
}

// encodings are the compressed copies looked for, best first.
var encodings = []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}}

func (f *webFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A rebuilt game should load at the next reload.
	w.Header().Set("Cache-Control", "no-cache")
	name := path.Clean("/" + r.URL.Path)
	if strings.HasSuffix(name, ".wasm") || strings.HasSuffix(name, ".js") {
		w.Header().Add("Vary", "Accept-Encoding")
		for _, e := range encodings {
			if !accepts(r.Header.Get("Accept-Encoding"), e.name) {
				continue
			}
			file := filepath.Join(f.dir, filepath.FromSlash(name)+e.ext)
			if _, err := os.Stat(file); err != nil {
				continue
			}
			w.Header().Set("Content-Encoding", e.name)
			w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
			http.ServeFile(w, r, file)
			return
		}
	}
	f.files.ServeHTTP(w, r)
}

// accepts reports whether an Accept-Encoding header lists coding with a
// weight above zero.
func accepts(header, coding string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
