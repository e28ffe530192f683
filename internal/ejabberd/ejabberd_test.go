package ejabberd

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

// connack sends CONNECT with a login on c and returns the CONNACK's reason.
func connack(t *testing.T, c net.Conn, user, password string) byte {
	t.Helper()
	cp := packets.NewControlPacket(packets.CONNECT)
	connect := cp.Content.(*packets.Connect)
	connect.ProtocolName, connect.ProtocolVersion, connect.CleanStart, connect.ClientID = "MQTT", 5, true, "probe"
	connect.UsernameFlag, connect.Username = true, user
	connect.PasswordFlag, connect.Password = true, []byte(password)
	if _, err := cp.WriteTo(c); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	p, err := packets.ReadPacket(c)
	if err != nil {
		t.Fatal(err)
	}
	ca, ok := p.Content.(*packets.Connack)
	if !ok {
		t.Fatalf("got %v, want CONNACK", p.Content)
	}
	return ca.ReasonCode
}

func connackTCP(t *testing.T, n *Node, user, password string) byte {
	t.Helper()
	c, err := net.Dial("tcp", n.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return connack(t, c, user, password)
}

// TestCluster: both nodes speak MQTT 5 on both listeners to a registered
// account, refuse a wrong password, form one cluster, and a killed node
// comes back into it; Close ends every process and removes the folder.
func TestCluster(t *testing.T) {
	start := time.Now()
	c, err := Start(5 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("the pair started in %v", time.Since(start).Round(100*time.Millisecond))
	if err := c.Register("probe", "secret"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		n := c.Node(i)
		if code := connackTCP(t, n, "probe", "secret"); code != 0 {
			t.Fatalf("%s TCP: CONNACK reason %#x, want success", n.Name(), code)
		}
		if code := connackTCP(t, n, "probe", "wrong"); code == 0 {
			t.Fatalf("%s TCP: a wrong password was accepted", n.Name())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, _, err := websocket.Dial(ctx, n.URL(), &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
		if err != nil {
			cancel()
			t.Fatalf("%s WebSocket: %v", n.Name(), err)
		}
		wc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
		if code := connack(t, wc, "probe", "secret"); code != 0 {
			t.Fatalf("%s WebSocket: CONNACK reason %#x", n.Name(), code)
		}
		wc.Close()
		cancel()
	}

	a := c.Node(0)
	a.Kill()
	if !a.Exited() {
		t.Fatal("the killed node still runs")
	}
	if err := a.Restart(3 * time.Minute); err != nil {
		t.Fatal(err)
	}
	out, err := c.Node(1).ctl(time.Now().Add(2*time.Minute), "list_cluster")
	if err != nil || !strings.Contains(out, a.Name()) {
		t.Fatalf("after the restart, list_cluster says %q (%v)", out, err)
	}
	if code := connackTCP(t, a, "probe", "secret"); code != 0 {
		t.Fatalf("restarted node: CONNACK reason %#x", code)
	}

	dir := c.dir
	c.Close()
	for i := range 2 {
		if !c.Node(i).Exited() {
			t.Fatalf("%s still runs after Close", c.Node(i).Name())
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("its folder is still there: %v", err)
	}
}
