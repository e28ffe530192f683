// Package readmesection reads and rewrites a generated part of a file,
// such as a table in README.md that a test run writes, between two marker
// lines. It is for the project's tests and tools.
package readmesection

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Section is the part of a file between the Begin and End lines, both
// kept in the file.
type Section struct {
	Begin, End string // each a whole line, "\n" included
}

// In returns the section's content in text, and whether text has it.
func (s Section) In(text string) (string, bool) {
	i := strings.Index(text, s.Begin)
	j := strings.Index(text, s.End)
	if i < 0 || j < i {
		return "", false
	}
	return text[i+len(s.Begin) : j], true
}

// Check fails t if the section of file is missing or is not want; fix
// says how to regenerate it.
func (s Section) Check(t testing.TB, file, want, fix string) {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.In(string(text))
	if !ok {
		t.Fatalf("%s has no section %q", file, strings.TrimSpace(s.Begin))
	}
	if got != want {
		t.Errorf("%s's section %q is out of date; %s.\nwant:\n%s", file, strings.TrimSpace(s.Begin), fix, want)
	}
}

// Replace rewrites the section of file with content.
func (s Section) Replace(file, content string) error {
	text, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	old, ok := s.In(string(text))
	if !ok {
		return fmt.Errorf("%s has no section %q", file, strings.TrimSpace(s.Begin))
	}
	updated := strings.Replace(string(text), s.Begin+old+s.End, s.Begin+content+s.End, 1)
	return os.WriteFile(file, []byte(updated), 0o644)
}

// WriteFiles writes each named text into dir, making dir first.
func WriteFiles(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}
