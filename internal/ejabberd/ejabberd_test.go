package ejabberd

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
		if code := mqtttest.ConnackTCP(t, n.TCPAddr(), "probe", "secret").ReasonCode; code != 0 {
			t.Fatalf("%s TCP: CONNACK reason %#x, want success", n.Name(), code)
		}
		if code := mqtttest.ConnackTCP(t, n.TCPAddr(), "probe", "wrong").ReasonCode; code == 0 {
			t.Fatalf("%s TCP: a wrong password was accepted", n.Name())
		}
		if code := mqtttest.ConnackWS(t, n.URL(), "probe", "secret").ReasonCode; code != 0 {
			t.Fatalf("%s WebSocket: CONNACK reason %#x", n.Name(), code)
		}
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
	if code := mqtttest.ConnackTCP(t, a.TCPAddr(), "probe", "secret").ReasonCode; code != 0 {
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
