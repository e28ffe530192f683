//go:build !js

package host

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestWebServesCompressed: the compressed copies make web writes go to
// browsers that accept them, marked so, and the plain file to the rest.
func TestWebServesCompressed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wasm := bytes.Repeat([]byte("\x00asm wasm body "), 1000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(wasm)
	zw.Close()
	br := []byte("brotli stand-in: served as is")
	for name, data := range map[string][]byte{
		"index.html": []byte("<html></html>"), "wasm_exec.js": []byte("// js"),
		"game.wasm": wasm, "game.wasm.gz": gz.Bytes(), "game.wasm.br": br,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h, note := webHandler(dir)
	if note != "" {
		t.Fatal(note)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	testCases := []struct {
		accept, wantEncoding string
		want                 []byte
	}{
		{"gzip, deflate, br", "br", br},
		{"gzip", "gzip", wasm},
		{"br;q=0, gzip;q=0.8", "gzip", wasm},
		{"identity", "", wasm},
		{"gzip;q=0", "", wasm},
	}
	for _, tc := range testCases {
		t.Run(tc.accept, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/game.wasm", nil)
			req.Header.Set("Accept-Encoding", tc.accept) // set by hand: no transparent decompression
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if got := resp.Header.Get("Content-Encoding"); got != tc.wantEncoding {
				t.Fatalf("Content-Encoding %q, want %q", got, tc.wantEncoding)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/wasm" {
				t.Fatalf("Content-Type %q, want application/wasm (browsers compile only that as it streams)", got)
			}
			if resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Fatalf("Vary %q, want Accept-Encoding (caches keep one copy per encoding)", resp.Header.Get("Vary"))
			}
			if tc.wantEncoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				body, _ = io.ReadAll(zr)
			}
			if !bytes.Equal(body, tc.want) {
				t.Fatalf("body of %d bytes is not the expected %d", len(body), len(tc.want))
			}
		})
	}
}
