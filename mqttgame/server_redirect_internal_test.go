package mqttgame

import (
	"errors"
	"net/url"
	"testing"
)

// TestResolveServerReference: the forms of Server Reference accepted,
// and those refused.
func TestResolveServerReference(t *testing.T) {
	t.Parallel()
	from, err := parseBrokerURL("wss://node1.example.com:8443/mqtt?room=7")
	if err != nil {
		t.Fatal(err)
	}
	testCases := []struct {
		ref  string
		want string // "" when refused
	}{
		{"node2.example.com", "wss://node2.example.com:8443/mqtt?room=7"},
		{"node2.example.com:9443", "wss://node2.example.com:9443/mqtt?room=7"},
		{"[fe80::1]:9443", "wss://[fe80::1]:9443/mqtt?room=7"},
		{"[fe80::1]", "wss://[fe80::1]:8443/mqtt?room=7"},
		{"node2.example.com:9443 node3.example.com", "wss://node2.example.com:9443/mqtt?room=7"},
		{"ws://node2.example.com/other", "ws://node2.example.com:80/other"},
		{"", ""},
		{"   ", ""},
		{"ftp://node2.example.com", ""},
		{"wss://player:secret@node2.example.com/mqtt", ""},
		{"node2.example.com:99999", ""},
		{"node2.example.com/mqtt", ""},
		{"player@node2.example.com", ""},
	}
	for _, tc := range testCases {
		got, err := resolveServerReference(from, tc.ref)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q: got %s, want it refused", tc.ref, got)
		case tc.want != "" && err != nil:
			t.Errorf("%q: %v, want %s", tc.ref, err, tc.want)
		case tc.want != "" && got.String() != tc.want:
			t.Errorf("%q: got %s, want %s", tc.ref, got, tc.want)
		}
	}
}

// TestBrokerRouteBound: the 4th redirect in a row is refused with
// ErrTooManyRedirects and the count starts over; a connection coming up
// starts it over too.
func TestBrokerRouteBound(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("ws://a:1883/mqtt")
	r := newBrokerRoute([]*url.URL{u})
	r.start()
	for range 2 {
		r.pick()
		for i := range maxRedirects {
			if _, err := r.refer(ReasonUseAnotherServer, "b:1883"); err != nil {
				t.Fatalf("redirect %d: %v", i+1, err)
			}
			if !r.noWait() {
				t.Fatal("a redirect waits for the back-off")
			}
			if got, redirected := r.pick(); !redirected || got.Host != "b:1883" {
				t.Fatalf("after redirect %d the attempt goes to %s (redirected %v)", i+1, got, redirected)
			}
		}
		if _, err := r.refer(ReasonUseAnotherServer, "a:1883"); !errors.Is(err, ErrTooManyRedirects) {
			t.Fatalf("redirect %d: %v, want ErrTooManyRedirects", maxRedirects+1, err)
		}
		if r.noWait() {
			t.Error("after the bound, the next round does not wait")
		}
	}
	r.up()
	if _, err := r.refer(ReasonServerMoved, "c:1883"); err != nil {
		t.Fatalf("after a connection: %v", err)
	}
	r.pick()
	r.lost()
	if got, _ := r.pick(); got.Host != "c:1883" {
		t.Errorf("a moved URL gives %s, want c:1883 for the rest of the run", got)
	}
	r.start()
	if got, _ := r.pick(); got.Host != "a:1883" {
		t.Errorf("a new run starts at %s, want a:1883", got)
	}
}
