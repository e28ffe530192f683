package mqttgame

import (
	"context"
	"net"
	"net/url"
)

// InboxReceived returns how many messages c took from the broker so far,
// without a tick: tests of a game that does not tick wait on it.
func InboxReceived(c *Client) uint64 { return c.in.counters().received }

// DialTransport opens the connection the client opens to a ws:// broker
// URL, with no MQTT client over it: the browser's own WebSocket in
// WebAssembly, coder/websocket natively. It closes when ctx ends.
// Benchmarks use it to measure what lies under the client.
func DialTransport(ctx context.Context, broker string) (net.Conn, error) {
	u, err := url.Parse(broker)
	if err != nil {
		return nil, err
	}
	o := &Options{}
	o.ensureDefaults()
	return dial(ctx, ctx, u, o, nil)
}
