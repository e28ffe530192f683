// Package casematrix holds what the suites that run a table of cases on
// several targets (brokers, clusters) over several transports share:
// the deviations a target declares, the record of a run, the Markdown
// table README.md holds, and the end of the run (TestMain). It is for
// the project's tests.
package casematrix

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/mqttgame/mqttgame/internal/readmesection"
)

// Deviation is something a target legitimately lacks or does otherwise
// than a case expects. The case checks what the target does instead;
// nothing is skipped.
type Deviation struct {
	Case      string
	Target    string
	Transport string // "" for every transport
	Why       string
}

// AppliesTo reports whether d is about this cell.
func (d Deviation) AppliesTo(c Cell) bool {
	return d.Case == c.Case && d.Target == c.Target && (d.Transport == "" || d.Transport == c.Transport)
}

// Cell is one case run on one target over one transport.
type Cell struct{ Case, Target, Transport string }

// Table is a suite's table: what it runs and how it renders it.
type Table struct {
	Suite      string // the suite's name, in its output and file names
	Targets    []string
	Transports []string
	Deviations []Deviation

	TargetTitle string // the target column's title in the run's text table ("BROKER")
	CaseWidth   int    // the case column's width in that table
	TableFile   string // the file the run's Markdown table is written to
	NotesFile   string // the file the run's notes are written to ("": none)
	Ref         string // the prefix of a deviation's number ("C" makes C1, C2…)
	Anchor      string // the anchor a deviation's number links to
	Heading     string // what follows the grid, before the list of deviations
	Section     readmesection.Section
}

// Markdown renders the cases by target and transport, and the
// deviations. With outcome nil it is the table the code promises: every
// case passes, with its declared deviations; otherwise it shows the
// outcome of a run.
func (tb *Table) Markdown(cases []string, outcome map[Cell]string) string {
	var b strings.Builder
	b.WriteString("| case |")
	for _, tg := range tb.Targets {
		for _, tr := range tb.Transports {
			fmt.Fprintf(&b, " %s %s |", tg, tr)
		}
	}
	b.WriteString("\n|---|")
	for range len(tb.Targets) * len(tb.Transports) {
		b.WriteString(":---:|")
	}
	b.WriteString("\n")
	for _, name := range cases {
		fmt.Fprintf(&b, "| `%s` |", name)
		for _, tg := range tb.Targets {
			for _, tr := range tb.Transports {
				c := Cell{name, tg, tr}
				mark := "pass"
				if outcome != nil {
					mark = outcome[c]
					if mark == "" {
						mark = "not run"
					}
				}
				if mark == "pass" {
					for i, d := range tb.Deviations {
						if d.AppliesTo(c) {
							mark += fmt.Sprintf(" [%s%d](#%s)", tb.Ref, i+1, tb.Anchor)
						}
					}
				}
				fmt.Fprintf(&b, " %s |", mark)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(tb.Heading)
	for i, d := range tb.Deviations {
		tr := "ws and tcp"
		if d.Transport != "" {
			tr = d.Transport
		}
		item := fmt.Sprintf("%d.", i+1)
		if tb.Ref != "" {
			item = fmt.Sprintf("- %s%d.", tb.Ref, i+1)
		}
		fmt.Fprintf(&b, "%s `%s`, %s (%s): %s\n", item, d.Case, d.Target, tr, d.Why)
	}
	return b.String()
}

// Met renders the deviations a run met, as plain text.
func (tb *Table) Met(met map[Deviation]bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s %-10s %-10s %s\n", tb.CaseWidth, "CASE", tb.TargetTitle, "TRANSPORT", "DEVIATION")
	for _, d := range tb.Deviations {
		if !met[d] {
			continue
		}
		tr := "ws, tcp"
		if d.Transport != "" {
			tr = d.Transport
		}
		fmt.Fprintf(&b, "%-*s %-10s %-10s %s\n", tb.CaseWidth, d.Case, d.Target, tr, d.Why)
	}
	return b.String()
}

// Run is the record of one run of a table: every case's outcome, the
// deviations met, and notes (measured times, one line each).
type Run struct {
	table *Table

	mu      sync.Mutex
	outcome map[Cell]string
	met     map[Deviation]bool
	notes   []string
}

// NewRun returns an empty record of a run of tb.
func NewRun(tb *Table) *Run {
	return &Run{table: tb, outcome: map[Cell]string{}, met: map[Deviation]bool{}}
}

// Note adds a line to the run's notes.
func (r *Run) Note(line string) {
	r.mu.Lock()
	r.notes = append(r.notes, line)
	r.mu.Unlock()
}

// Case is one cell being run: it records the deviations the case relied
// on, and its outcome when the test ends.
type Case struct {
	Cell
	run *Run

	mu       sync.Mutex
	declared []Deviation
}

// Case returns cell as a case of the run whose outcome is not recorded:
// for a test that checks what a case does, not a case of the table.
func (r *Run) Case(cell Cell) *Case { return &Case{Cell: cell, run: r} }

// Start begins the record of cell, run by t, and records its outcome
// when t ends.
func (r *Run) Start(t testing.TB, cell Cell) *Case {
	c := r.Case(cell)
	t.Cleanup(func() { r.record(t, c) })
	return c
}

// Deviates reports whether the case's target has a declared deviation
// in this case, and records that the case relied on it. A case calls it
// where the target's behaviour splits.
func (c *Case) Deviates() bool {
	for _, d := range c.run.table.Deviations {
		if d.AppliesTo(c.Cell) {
			c.mu.Lock()
			if !slices.Contains(c.declared, d) {
				c.declared = append(c.declared, d)
			}
			c.mu.Unlock()
			return true
		}
	}
	return false
}

func (r *Run) record(t testing.TB, c *Case) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.Failed() {
		r.outcome[c.Cell] = "fail"
		return
	}
	r.outcome[c.Cell] = "pass"
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range r.table.Deviations {
		if d.AppliesTo(c.Cell) {
			if !slices.Contains(c.declared, d) {
				// The table says the target deviates here, but the case
				// never looked: the table and the case disagree.
				t.Errorf("deviation declared for %s/%s but the case never checks it: %s", c.Target, c.Case, d.Why)
				r.outcome[c.Cell] = "fail"
			}
			r.met[d] = true
		}
	}
}

// Parallel is how many cases Main lets run at once unless the run's
// -parallel says otherwise: a case spends most of its time waiting on
// the network and on timers, not on a CPU.
const Parallel = 4

// Main runs the tests of m, up to Parallel cases at once (GOMAXPROCS if
// more; -parallel, if given, decides), then close (if not nil), and, if
// any case ran, prints the deviations the run met, writes the run's
// table, its deviations and its notes into the folder MQTTGAME_ARTIFACTS
// names (if set), and, if the run passed and MQTTGAME_README names a
// file, puts the promised table (cases) in it. It fails the run if a
// test left a goroutine behind, and exits. A suite's TestMain calls it.
func (r *Run) Main(m *testing.M, cases func() []string, close func()) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", strconv.Itoa(max(Parallel, runtime.GOMAXPROCS(0))))
	}
	code := m.Run()
	if close != nil {
		close()
	}
	r.mu.Lock()
	ran := len(r.outcome) > 0
	r.mu.Unlock()
	if ran {
		tb := r.table
		r.mu.Lock()
		met := tb.Met(r.met)
		r.mu.Unlock()
		fmt.Print("\n" + tb.Suite + " deviations met in this run:\n" + met)
		if dir := os.Getenv("MQTTGAME_ARTIFACTS"); dir != "" {
			if err := r.writeArtifacts(dir, cases(), code == 0); err != nil {
				fmt.Fprintln(os.Stderr, tb.Suite+":", err)
				code = 1
			}
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func (r *Run) writeArtifacts(dir string, cases []string, passed bool) error {
	tb := r.table
	r.mu.Lock()
	files := map[string]string{
		tb.TableFile:                 tb.Markdown(cases, r.outcome),
		tb.Suite + "-deviations.txt": tb.Met(r.met),
	}
	if tb.NotesFile != "" {
		files[tb.NotesFile] = strings.Join(r.notes, "\n") + "\n"
	}
	r.mu.Unlock()
	if err := readmesection.WriteFiles(dir, files); err != nil {
		return err
	}
	readme := os.Getenv("MQTTGAME_README")
	if readme == "" {
		return nil
	}
	if !passed {
		return fmt.Errorf("not updating %s: the run failed", readme)
	}
	return tb.Section.Replace(readme, tb.Markdown(cases, nil))
}

// Each runs run for every case on every target over every transport, as
// <test>/<target>/<transport>/<case>, in parallel: a case must have its
// own topics and client identifiers.
func (tb *Table) Each(t *testing.T, cases []string, run func(t *testing.T, c Cell)) {
	for _, tg := range tb.Targets {
		t.Run(tg, func(t *testing.T) {
			for _, tr := range tb.Transports {
				t.Run(tr, func(t *testing.T) {
					for _, name := range cases {
						t.Run(name, func(t *testing.T) {
							t.Parallel()
							run(t, Cell{name, tg, tr})
						})
					}
				})
			}
		})
	}
}
