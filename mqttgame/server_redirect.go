package mqttgame

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
)

// maxRedirects bounds the redirects followed in a row, with no connection
// coming up in between; the next one is not followed and the attempt
// fails with ErrTooManyRedirects.
const maxRedirects = 3

// brokerRoute picks the URL of each connection attempt for the
// connection loop; the order is decided here, in one place:
//
//   - The configured URLs are tried in order, with no wait between them;
//     the back-off wait comes before each round, from the first URL.
//   - After a lost connection, the next attempt starts again from the
//     first URL, so a preferred node is returned to once it is back.
//   - A CONNACK or DISCONNECT with Use another server (0x9C) or Server
//     moved (0x9D) and a Server Reference sends the next attempt there, at
//     once. A move also replaces the URL that answered it for the rest of
//     the run (until Disconnect); Use another server is followed once.
//     If the redirected attempt fails, the list goes on where it was.
//
// Its methods are called from the connection loop's goroutine; the lock
// guards against the rare reader from elsewhere.
type brokerRoute struct {
	urls []*url.URL

	mu       sync.Mutex
	next     int              // index in urls of the next attempt taken from the list
	cur      int              // index in urls the current attempt stands for
	curURL   *url.URL         // the URL the current attempt dialled
	moved    map[int]*url.URL // 0x9D: urls[i] replaced for the rest of the run
	redirect *url.URL         // where the next attempt goes, once
	chain    int              // redirects followed since a connection last came up
}

func newBrokerRoute(urls []*url.URL) *brokerRoute {
	return &brokerRoute{urls: urls, moved: map[int]*url.URL{}}
}

// start begins a run: from the first URL, with no move or redirect.
func (r *brokerRoute) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next, r.cur, r.curURL, r.redirect, r.chain = 0, 0, nil, nil, 0
	clear(r.moved)
}

// pick returns the URL of the next attempt, and whether it follows a redirect.
func (r *brokerRoute) pick() (u *url.URL, redirected bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.redirect != nil {
		u, r.redirect = r.redirect, nil
		r.curURL = u
		return u, true
	}
	i := r.next
	r.next = (i + 1) % len(r.urls)
	r.cur = i
	u = r.urls[i]
	if m := r.moved[i]; m != nil {
		u = m
	}
	r.curURL = u
	return u, false
}

// noWait reports whether the next attempt goes ahead without the
// back-off wait: it follows a redirect, or the round through the list is
// not over.
func (r *brokerRoute) noWait() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.redirect != nil || r.next != 0
}

// up records that a connection came up.
func (r *brokerRoute) up() {
	r.mu.Lock()
	r.chain = 0
	r.mu.Unlock()
}

// lost records that a connection was lost: the next round starts from the first URL.
func (r *brokerRoute) lost() {
	r.mu.Lock()
	r.next = 0
	r.mu.Unlock()
}

// refer follows a Server Reference the broker of the current attempt or
// connection sent with code (ReasonUseAnotherServer or ReasonServerMoved). It returns
// where the next attempt goes, or why it will not follow it: a reference
// that cannot be used, or ErrTooManyRedirects.
func (r *brokerRoute) refer(code ReasonCode, ref string) (*url.URL, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.curURL == nil {
		return nil, fmt.Errorf("mqttgame: server reference %q with no connection to resolve it against", ref)
	}
	to, err := resolveServerReference(r.curURL, ref)
	if err != nil {
		return nil, err
	}
	if r.chain >= maxRedirects {
		r.chain = 0
		return nil, fmt.Errorf("%w: %d in a row, the last to %s", ErrTooManyRedirects, maxRedirects+1, to.Redacted())
	}
	r.chain++
	r.redirect = to
	if code == ReasonServerMoved {
		r.moved[r.cur] = to
	}
	return to, nil
}

// resolveServerReference turns a Server Reference into a broker URL. MQTT
// v5 leaves its format open; accepted, for the first of several
// references separated by spaces:
//
//   - a URL with a scheme ("wss://node2.example.com/mqtt"), checked as
//     Options.Brokers are;
//   - host, host:port or [IPv6]:port: from's URL with that host, and with
//     from's port when none is given (nodes of a cluster usually listen
//     alike), keeping its scheme, path and query.
func resolveServerReference(from *url.URL, ref string) (*url.URL, error) {
	fields := strings.Fields(ref)
	if len(fields) == 0 {
		return nil, fmt.Errorf("mqttgame: empty server reference")
	}
	ref = fields[0]
	if strings.Contains(ref, "://") {
		u, err := parseBrokerURL(ref)
		if err != nil {
			return nil, fmt.Errorf("mqttgame: unusable server reference: %w", err)
		}
		return u, nil
	}
	host, port := ref, from.Port()
	if h, p, err := net.SplitHostPort(ref); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(ref, "[") && strings.HasSuffix(ref, "]") {
		host = ref[1 : len(ref)-1]
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return nil, fmt.Errorf("mqttgame: unusable server reference %q", ref)
	}
	u := *from
	u.User = nil
	u.Host = net.JoinHostPort(host, port)
	checked, err := parseBrokerURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("mqttgame: unusable server reference %q: %w", ref, err)
	}
	return checked, nil
}

// isRedirect reports whether code asks the client to connect elsewhere.
func isRedirect(code ReasonCode) bool {
	return code == ReasonUseAnotherServer || code == ReasonServerMoved
}
