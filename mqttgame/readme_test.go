package mqttgame_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mqttgame/mqttgame/mqttgame"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeQuickStart: the quick start in the README is the program in
// examples/quickstart, which the build compiles.
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../examples/quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readme(t), "```go\n"+string(src)+"```") {
		t.Fatal("README's quick start differs from examples/quickstart/main.go")
	}
}

// TestReadmeOptionsTable: the options table lists every field of Options.
func TestReadmeOptionsTable(t *testing.T) {
	t.Parallel()
	text := readme(t)
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Za-z]+)`(?:, `([A-Za-z]+)`)? \\|").FindAllStringSubmatch(text, -1) {
		listed[m[1]] = true
		if m[2] != "" {
			listed[m[2]] = true
		}
	}
	typ := reflect.TypeFor[mqttgame.Options]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; !listed[name] {
			t.Errorf("README's options table does not list %s", name)
		}
	}
}
