package cluster

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mqttgame/mqttgame/internal/readmesection"
)

// deviation is something a bed legitimately cannot do. The case checks
// what the bed does instead; nothing is skipped.
type deviation struct {
	caseName  string
	bed       string
	transport string // "" for both
	why       string
}

// deviations lists what each bed cannot do, as found by running the
// cases. The table in README.md numbers them in this order.
var deviations = []deviation{
	{"retained", "ejabberd", "", "keeps retained messages per node: a client that subscribes on B is not sent one set on A (a subscriber already on B gets the message itself); the case checks that A sends it and B does not"},
	{"shared_subscription", "ejabberd", "", "has no shared subscriptions: its CONNACK says Shared Subscription Available 0, and the client refuses such a subscription at once with SharedSubNotSupported (0x9E); the case checks that it does"},
	{"takeover", "ejabberd", "", "does not always keep the newer of two connections with one client ID: once, on a freshly started pair, it kept the one on A and pushed the newer one, on B, off with 0x8E; the case checks that exactly one is pushed off with 0x8E and that it does not come back"},
	{"shared_subscription", "mosquitto", "", "a bridge joins no groups: each broker has its own $share group, so a message reaches one member on each broker; the case checks that both members receive every message once"},
	{"will_delay_back_on_b", "mosquitto", "", "each broker keeps its own sessions: a client back on B within its will delay does not stop A from publishing the will when the delay ends; the case checks that the will arrives, after the delay"},
	{"session_resumed", "mosquitto", "", "each broker keeps its own sessions: B does not know the session left on A (session present 0) and the messages queued for it stay on A; the case checks that B sends none of them"},
	{"takeover", "mosquitto", "", "each broker keeps its own sessions: one client ID on both makes two sessions, and neither is pushed off; the case checks that both stay connected"},
	{"qos1_in_flight_at_kill", "mosquitto", "", "a message A acknowledged but had not yet passed over the bridge dies with A (in 3 runs of 7: 46, 8 and 7 of about 220; none in the others): once acknowledged, it was A's to deliver; the case checks that every message lost had been acknowledged by A before the kill, and that every other reached B"},
	{"will_of_killed_node", "ejabberd", "", "the will of a client on the killed node is never published: the session that held it died with its node; the case checks that none arrives on B within 5 s"},
	{"will_of_killed_node", "mosquitto", "", "the will of a client on the killed node is never published: the session that held it died with its node; the case checks that none arrives on B within 5 s"},
}

func (d deviation) appliesTo(bed, transport, caseName string) bool {
	return d.caseName == caseName && d.bed == bed && (d.transport == "" || d.transport == transport)
}

// deviates reports whether the case's bed has a declared deviation in
// this case, and records that the case relied on it.
func (e *env) deviates() bool {
	for _, d := range deviations {
		if d.appliesTo(e.bedName, e.transport, e.caseName) {
			e.mu.Lock()
			if !slices.Contains(e.declared, d) {
				e.declared = append(e.declared, d)
			}
			e.mu.Unlock()
			return true
		}
	}
	return false
}

// results collects the outcome of every case run.
var results = &runResults{outcome: map[cell]string{}, met: map[deviation]bool{}}

type cell struct{ caseName, bed, transport string }

type runResults struct {
	mu      sync.Mutex
	outcome map[cell]string
	met     map[deviation]bool
	timing  []string // measured start and failover times, one line each
}

func (r *runResults) record(e *env, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := cell{e.caseName, e.bedName, e.transport}
	if failed {
		r.outcome[c] = "fail"
		return
	}
	r.outcome[c] = "pass"
	for _, d := range deviations {
		if d.appliesTo(e.bedName, e.transport, e.caseName) {
			if !slices.Contains(e.declared, d) {
				e.Errorf("deviation declared for %s/%s but the case never checks it: %s", e.bedName, e.caseName, d.why)
				r.outcome[c] = "fail"
			}
			r.met[d] = true
		}
	}
}

// caseNames returns every case of the table, in its order.
func caseNames() []string {
	var names []string
	for _, c := range cases {
		names = append(names, c.name)
	}
	return append(names, failoverCases...)
}

// table renders the cases by bed and transport, and the deviations, in
// Markdown. With outcome nil it is the table the code promises: every
// case passes, with its declared deviations.
func table(outcome map[cell]string) string {
	var b strings.Builder
	b.WriteString("| case |")
	for _, bd := range bedNames {
		for _, tr := range transportNames {
			fmt.Fprintf(&b, " %s %s |", bd, tr)
		}
	}
	b.WriteString("\n|---|")
	for range len(bedNames) * len(transportNames) {
		b.WriteString(":---:|")
	}
	b.WriteString("\n")
	for _, name := range caseNames() {
		fmt.Fprintf(&b, "| `%s` |", name)
		for _, bd := range bedNames {
			for _, tr := range transportNames {
				mark := "pass"
				if outcome != nil {
					mark = outcome[cell{name, bd, tr}]
					if mark == "" {
						mark = "not run"
					}
				}
				if mark == "pass" {
					for i, d := range deviations {
						if d.appliesTo(bd, tr, name) {
							mark += fmt.Sprintf(" [C%d](#what-a-bed-cannot-do)", i+1)
						}
					}
				}
				fmt.Fprintf(&b, " %s |", mark)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n#### What a bed cannot do\n\nWhat the case checks instead is in the sentence:\n\n")
	for i, d := range deviations {
		tr := "ws and tcp"
		if d.transport != "" {
			tr = d.transport
		}
		fmt.Fprintf(&b, "- C%d. `%s`, %s (%s): %s\n", i+1, d.caseName, d.bed, tr, d.why)
	}
	return b.String()
}

// deviationTable renders the deviations a run met, as plain text.
func deviationTable(met map[deviation]bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %-10s %-10s %s\n", "CASE", "BED", "TRANSPORT", "DEVIATION")
	for _, d := range deviations {
		if !met[d] {
			continue
		}
		tr := "ws, tcp"
		if d.transport != "" {
			tr = d.transport
		}
		fmt.Fprintf(&b, "%-22s %-10s %-10s %s\n", d.caseName, d.bed, tr, d.why)
	}
	return b.String()
}

// tableSection is where README.md holds the table.
var tableSection = readmesection.Section{
	Begin: "<!-- cluster table: generated by `make matrix`, checked by TestClusterTableInREADME -->\n",
	End:   "<!-- end of cluster table -->\n",
}

// TestClusterTableInREADME: the table in README.md is the one the code
// promises (regenerate it with `make matrix`).
func TestClusterTableInREADME(t *testing.T) {
	tableSection.Check(t, "../../README.md", table(nil), "run `make matrix`")
}

// writeArtifacts writes the run's table, its deviations and the start
// and failover times into dir, and, if every case passed and
// MQTTGAME_README names a file, replaces the table in it.
func writeArtifacts(dir string, passed bool) error {
	results.mu.Lock()
	m := table(results.outcome)
	dev := deviationTable(results.met)
	fo := strings.Join(results.timing, "\n") + "\n"
	results.mu.Unlock()
	if err := readmesection.WriteFiles(dir, map[string]string{"cluster-table.md": m, "cluster-deviations.txt": dev, "cluster-failover.txt": fo}); err != nil {
		return err
	}
	readme := os.Getenv("MQTTGAME_README")
	if readme == "" {
		return nil
	}
	if !passed {
		return fmt.Errorf("not updating %s: the run failed", readme)
	}
	return tableSection.Replace(readme, table(nil))
}
