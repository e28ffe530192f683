// Package assets holds the demo's font and images, embedded in the
// program: the Go fonts (fonts/LICENSE) and images drawn by
// internal/generate (images/LICENSE). It decodes them but draws nothing,
// so it does not import Ebitengine.
package assets

import (
	"bytes"
	"embed"
	"fmt"
	"image"
	"image/png"
)

//go:embed fonts/*.ttf images/*.png
var files embed.FS

// Font returns a TrueType font by file name: "Go-Regular.ttf" or
// "Go-Bold.ttf".
func Font(name string) []byte {
	b, err := files.ReadFile("fonts/" + name)
	if err != nil {
		panic(fmt.Sprintf("assets: no font %q", name))
	}
	return b
}

// Image decodes an image by file name: "star.png", "comet.png",
// "rock.png", "basket.png", "cursor.png" or "icon.png".
func Image(name string) image.Image {
	b, err := files.ReadFile("images/" + name)
	if err != nil {
		panic(fmt.Sprintf("assets: no image %q", name))
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		panic(fmt.Sprintf("assets: %s: %v", name, err))
	}
	return img
}
