package mqttgame_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// brokerEnv names the environment variable that gives the WebSocket URL
// of a broker to the tests compiled to WebAssembly, which cannot start
// one: nothing listens inside a browser. e2e/wasm sets it.
const brokerEnv = "MQTTGAME_TEST_BROKER"

// restartLine, printed on its own line, asks e2e/wasm to stop
// the broker and start it again on the same address.
const restartLine = "mqttgame-wasm: restart the broker"

// TestBrowserEndToEnd runs the client on the JavaScript WebSocket of the
// host (Node here, a browser in a game): connect, subscribe, publish and
// receive at each QoS, a binary payload byte for byte, then a broker
// restart, after which the client is back with its subscriptions.
func TestBrowserEndToEnd(t *testing.T) {
	url := os.Getenv(brokerEnv)
	if url == "" {
		t.Fatalf("%s is not set: run this test through e2e/wasm, which starts a broker", brokerEnv)
	}
	if _, err := mqttgame.New(&mqttgame.Options{Brokers: []string{"mqtt://localhost:1883"}}); err == nil {
		t.Fatal("New accepted an mqtt:// URL in the browser")
	}
	c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{url}, DataLoss: mqttgame.FIFO, ReconnectDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ka := c.KeepAlive(); ka != 0 {
		t.Fatalf("KeepAlive() = %v before connecting", ka)
	}
	c.Connect()
	jsTick(t, "connected", c.JustConnected, c)
	if ka := c.KeepAlive(); ka != 60*time.Second {
		t.Errorf("KeepAlive() = %v, want the browser default of 60s", ka)
	}
	c.Subscribe("wasm/+/data", mqttgame.ExactlyOnce)
	jsTick(t, "subscribed", func() bool { return c.IsSubscribed("wasm/+/data") }, c)

	round := func(tag string) {
		t.Helper()
		binary := make([]byte, 256)
		for i := range binary {
			binary[i] = byte(i)
		}
		for q := range mqttgame.QoS(3) {
			if _, err := c.Publish(fmt.Sprintf("wasm/%d/data", q), append([]byte(tag), binary...), q, false); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]mqttgame.Message{}
		jsTick(t, tag+": all three back", func() bool {
			for _, m := range c.AppendMessages(nil, "wasm/+/data") {
				got[m.Topic] = m
			}
			return len(got) == 3
		}, c)
		for q := range mqttgame.QoS(3) {
			m := got[fmt.Sprintf("wasm/%d/data", q)]
			if m.QoS != q || !bytes.Equal(m.Payload, append([]byte(tag), binary...)) {
				t.Errorf("%s: QoS %d message came back at QoS %d with %d bytes", tag, q, m.QoS, len(m.Payload))
			}
		}
	}
	round("first")

	fmt.Println(restartLine)
	jsTick(t, "the connection lost with the broker", c.JustDisconnected, c)
	jsTick(t, "reconnected", c.JustConnected, c)
	jsTick(t, "subscription restored", func() bool { return c.IsSubscribed("wasm/+/data") }, c)
	round("after the restart")
	if st := c.Stats(); st.Connects != 2 || st.ConnectionsLost != 1 {
		t.Errorf("Connects=%d ConnectionsLost=%d, want 2 and 1", st.Connects, st.ConnectionsLost)
	}
}

// jsTick calls Update until cond holds, as a game's ticks would,
// failing the test after 20 s.
func jsTick(t *testing.T, what string, cond func() bool, c *mqttgame.Client) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.Update()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (connected=%v err=%v)", what, c.IsConnected(), c.Err())
		}
		// Yield to the JavaScript event loop, where the WebSocket lives.
		time.Sleep(2 * time.Millisecond)
	}
}
