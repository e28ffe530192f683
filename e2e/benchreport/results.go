package main

import (
	"bufio"
	"bytes"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// results holds every figure of one environment: by benchmark name
// (without the GOMAXPROCS suffix), by unit, by round.
type results struct {
	names []string // in the order first seen
	by    map[string]map[string]map[int]float64
}

func newResults() *results { return &results{by: map[string]map[string]map[int]float64{}} }

// benchLine is a line of the standard benchmark format: name, iterations,
// then value and unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+)\s+(\d+)\s+(.+)$`)

// procSuffix is the "-2" that go test adds for GOMAXPROCS above 1.
var procSuffix = regexp.MustCompile(`-\d+$`)

func (r *results) add(round int, out []byte) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := procSuffix.ReplaceAllString(m[1], "")
		if r.by[name] == nil {
			r.by[name] = map[string]map[int]float64{}
			r.names = append(r.names, name)
		}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			if r.by[name][unit] == nil {
				r.by[name][unit] = map[int]float64{}
			}
			r.by[name][unit][round] = v
		}
	}
}

// median returns the median of a benchmark's figure over the rounds, and
// whether there is one.
func (r *results) median(name, unit string) (float64, bool) {
	var vs []float64
	for _, v := range r.by[name][unit] {
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

// spread returns the lowest and highest figure over the rounds.
func (r *results) spread(name, unit string) (lo, hi float64) {
	first := true
	for _, v := range r.by[name][unit] {
		if first || v < lo {
			lo = v
		}
		if first || v > hi {
			hi = v
		}
		first = false
	}
	return lo, hi
}

// ratio returns the median over the rounds of a/b, each round's a against
// the same round's b: the two ran side by side, under the same load.
func (r *results) ratio(a, aUnit, b, bUnit string) (float64, bool) {
	return crossRatio(r, a, aUnit, r, b, bUnit)
}

// crossRatio is ratio between two environments' results, of the same
// rounds.
func crossRatio(ra *results, a, aUnit string, rb *results, b, bUnit string) (float64, bool) {
	var vs []float64
	for round, av := range ra.by[a][aUnit] {
		if bv, ok := rb.by[b][bUnit][round]; ok && bv != 0 {
			vs = append(vs, av/bv)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

func median(vs []float64) float64 {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}
