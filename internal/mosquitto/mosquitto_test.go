package mosquitto

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestStart: both listeners speak MQTT v5, the configuration lines are
// in force, and Close ends the process and removes its folder.
func TestStart(t *testing.T) {
	t.Parallel()
	b, err := Start(&Options{Config: []string{"max_packet_size 4096"}, ACL: []string{"topic readwrite #"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	ca := mqtttest.ConnackTCP(t, b.TCPAddr(), "", "")
	if ca.ReasonCode != 0 || ca.Properties == nil || ca.Properties.MaximumPacketSize == nil || *ca.Properties.MaximumPacketSize != 4096 {
		t.Fatalf("TCP CONNACK %+v, want success with the configured maximum packet size", ca)
	}
	if ca := mqtttest.ConnackWS(t, b.URL(), "", ""); ca.ReasonCode != 0 {
		t.Fatalf("WebSocket CONNACK reason %#x", ca.ReasonCode)
	}

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
	t.Parallel()
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
	t.Parallel()
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
