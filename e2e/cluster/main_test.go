package cluster

import "testing"

// TestMain stops the beds after the run, prints the deviations the run
// met, writes the table when MQTTGAME_ARTIFACTS names a folder, and fails
// the run if a test left a goroutine behind.
func TestMain(m *testing.M) { results.Main(m, caseNames, closeShared) }
