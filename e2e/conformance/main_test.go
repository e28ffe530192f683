package conformance

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain stops the shared brokers after the run, prints the deviations
// the run met, writes the matrix when MQTTGAME_ARTIFACTS names a folder,
// and fails the run if a test left a goroutine behind.
func TestMain(m *testing.M) {
	code := m.Run()
	closeShared()
	results.mu.Lock()
	ran := len(results.outcome) > 0
	results.mu.Unlock()
	if ran {
		fmt.Print("\nconformance deviations met in this run:\n" + deviationTable(results.met))
		if dir := os.Getenv("MQTTGAME_ARTIFACTS"); dir != "" {
			if err := writeArtifacts(dir, code == 0); err != nil {
				fmt.Fprintln(os.Stderr, "conformance:", err)
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
