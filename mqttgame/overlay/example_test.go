package overlay_test

import (
	"fmt"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/overlay"
)

// The lines a game draws in a corner of its screen.
func ExampleStatus_AppendLines() {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	s := overlay.Status{
		Connecting: true,
		Broker:     "ws://127.0.0.1:8080/mqtt",
		InPerSec:   0.5,
		OutPerSec:  12,
		Dropped:    3,
		Err:        "no broker answers at that address",
		ErrAt:      now.Add(-7 * time.Second),
	}
	for _, line := range s.AppendLines(nil, now) {
		fmt.Println(line)
	}
	// Output:
	// reconnecting to ws://127.0.0.1:8080/mqtt…
	// in 0.5/s  out 12/s  dropped 3
	// last error, 7s ago: no broker answers at that address
}

func ExampleDescribe() {
	err := &mqttgame.LostError{Err: &mqttgame.BrokerError{Op: "disconnect", Code: mqttgame.ReasonServerShuttingDown}}
	fmt.Println(err)
	fmt.Println(overlay.Describe(err))
	// Output:
	// mqttgame: connection lost: mqttgame: broker closed the connection: server shutting down (0x8B)
	// the broker shut down
}

// A monitor follows a client; a game calls Update every tick after the
// client's, and draws Status.
func ExampleMonitor() {
	mq, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{"ws://127.0.0.1:8080/mqtt"}})
	defer mq.Close()
	status := overlay.New(mq, &overlay.Options{Note: "press F3 to hide"})
	// Each tick:
	mq.Update()
	status.Update()
	s := status.Status()
	fmt.Println(s.Connected, s.Broker, s.Note)
	// Output: false ws://127.0.0.1:8080/mqtt press F3 to hide
}
