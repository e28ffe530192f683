package broker

import (
	"testing"
	"time"
)

// SetTakeoverWait sets how long a session takeover waits for messages
// still routing, until the test ends.
func SetTakeoverWait(t *testing.T, d time.Duration) {
	old := takeoverWait
	takeoverWait = d
	t.Cleanup(func() { takeoverWait = old })
}
