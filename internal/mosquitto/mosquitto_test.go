package mosquitto

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/packets"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// connack sends CONNECT on c and returns the broker's CONNACK.
func connack(t *testing.T, c net.Conn) *packets.Connack {
	t.Helper()
	cp := packets.NewControlPacket(packets.CONNECT)
	connect := cp.Content.(*packets.Connect)
	connect.ProtocolName, connect.ProtocolVersion, connect.CleanStart, connect.ClientID = "MQTT", 5, true, "probe"
	if _, err := cp.WriteTo(c); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
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

// TestStart: both listeners speak MQTT v5, the configuration lines are
// in force, and Close ends the process and removes its folder.
func TestStart(t *testing.T) {
	b, err := Start(&Options{Config: []string{"max_packet_size 4096"}, ACL: []string{"topic readwrite #"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	c, err := net.Dial("tcp", b.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ca := connack(t, c)
	if ca.ReasonCode != 0 || ca.Properties == nil || ca.Properties.MaximumPacketSize == nil || *ca.Properties.MaximumPacketSize != 4096 {
		t.Fatalf("TCP CONNACK %+v, want success with the configured maximum packet size", ca)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, b.URL(), &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		t.Fatalf("WebSocket %s: %v", b.URL(), err)
	}
	wc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	if ca := connack(t, wc); ca.ReasonCode != 0 {
		t.Fatalf("WebSocket CONNACK reason %#x", ca.ReasonCode)
	}
	wc.Close()

	dir := b.dir
	b.Close()
	if !b.Exited() {
		t.Fatal("the process still runs after Close")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("its folder is still there: %v", err)
	}
}

// TestStartFails: a configuration mosquitto refuses is an error with its
// log, and leaves nothing running.
func TestStartFails(t *testing.T) {
	_, err := Start(&Options{Config: []string{"max_keepalive 2"}})
	if err == nil {
		t.Fatal("Start accepted a configuration mosquitto refuses")
	}
	if !strings.Contains(err.Error(), "max_keepalive") {
		t.Fatalf("the error does not carry mosquitto's complaint: %v", err)
	}
}

// TestBridged: a message published on A reaches a subscriber of B, and
// does again after A is killed and restarted.
func TestBridged(t *testing.T) {
	p, err := StartBridged(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.A.Kill()
	if !p.A.Exited() {
		t.Fatal("A still runs after Kill")
	}
	if err := p.A.Restart(false); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitBridged(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}
