package conformance

import "testing"

// TestMain stops the shared brokers after the run, prints the deviations
// the run met, writes the matrix when MQTTGAME_ARTIFACTS names a folder,
// and fails the run if a test left a goroutine behind.
func TestMain(m *testing.M) { results.Main(m, caseNames, closeShared) }
