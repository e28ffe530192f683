//go:build !js

package mqttgame

import (
	"context"

	"github.com/coder/websocket"
)

// wsWriter sends each write at once, as one message: natively a message
// costs a frame header in a TCP stream that gathers writes anyway.
type wsWriter struct{}

func (wsWriter) write(ws *websocket.Conn, p []byte) error {
	return ws.Write(context.Background(), websocket.MessageBinary, p)
}

func (wsWriter) flush(*websocket.Conn) {}
