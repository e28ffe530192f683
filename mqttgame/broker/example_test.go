package broker_test

import (
	"fmt"
	"strings"

	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// A broker for a LAN party would listen on every interface (Addr ":8080")
// and add a TCP listener for command-line tools.
func ExampleStart() {
	b, err := broker.Start(&broker.Options{TCPAddr: "127.0.0.1:0"})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	fmt.Println(strings.HasPrefix(b.URL(), "ws://127.0.0.1:"), strings.HasSuffix(b.URL(), "/mqtt"))
	fmt.Println(strings.HasPrefix(b.TCPURL(), "mqtt://127.0.0.1:"))
	// Output:
	// true true
	// true
}
