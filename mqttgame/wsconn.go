package mqttgame

import "errors"

// errNoDeadlines: paho never sets deadlines, so the WebSocket connections
// (wsConn natively, browserConn in the browser) have none.
var errNoDeadlines = errors.New("mqttgame: the WebSocket connection has no deadlines")

// wsAddr is the broker's URL, as a net.Addr.
type wsAddr string

func (a wsAddr) Network() string { return "websocket" }
func (a wsAddr) String() string  { return string(a) }
