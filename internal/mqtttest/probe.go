package mqtttest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/packets"
)

// Connack sends an MQTT v5 CONNECT on c (client "probe", Clean Start,
// with a login unless user is "") and returns the broker's CONNACK. It
// fails t if none comes within WaitFor, scaled to the machine's load.
func Connack(t testing.TB, c net.Conn, user, password string) *packets.Connack {
	t.Helper()
	cp := packets.NewControlPacket(packets.CONNECT)
	connect := cp.Content.(*packets.Connect)
	connect.ProtocolName, connect.ProtocolVersion, connect.CleanStart, connect.ClientID = "MQTT", 5, true, "probe"
	if user != "" {
		connect.UsernameFlag, connect.Username = true, user
		connect.PasswordFlag, connect.Password = true, []byte(password)
	}
	if _, err := cp.WriteTo(c); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(Scale(WaitFor)))
	p, err := packets.ReadPacket(c)
	if err != nil {
		t.Fatal(err)
	}
	ca, ok := p.Content.(*packets.Connack)
	if !ok {
		t.Fatalf("got %v, want CONNACK", p.Content)
	}
	return ca
}

// ConnackTCP is Connack on a new TCP connection to addr, closed after.
func ConnackTCP(t testing.TB, addr, user, password string) *packets.Connack {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return Connack(t, c, user, password)
}

// ConnackWS is Connack on a new MQTT over WebSocket connection to url,
// closed after.
func ConnackWS(t testing.TB, url, user, password string) *packets.Connack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Scale(WaitFor))
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		t.Fatalf("WebSocket %s: %v", url, err)
	}
	c := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	defer c.Close()
	return Connack(t, c, user, password)
}
