package mqttgame

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind. (Compiled
// to WebAssembly, the runtime keeps a goroutine of its own waiting for
// JavaScript events.)
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("runtime.handleEvent"))
}
