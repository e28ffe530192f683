//go:build !js

package host

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// Start hosts the broker on opts.Listen, or joins the one listening
// there, or just uses opts.Broker.
func Start(opts Options, log *slog.Logger) (*Host, error) {
	if opts.Broker != "" {
		return external(opts.Broker)
	}
	h := &Host{}
	web, note := webHandler(opts.WebDir)
	// /join needs the broker, which needs the handler: bound once started.
	join := &lateHandler{}
	logins := &loginRelay{} // likewise the register, told of each login
	bo := &broker.Options{
		Addr:    opts.Listen,
		TCPAddr: opts.TCP,
		Handler: withJoin(join, web),
		DataDir: opts.DataDir,
		Persist: opts.Persist,
		Logger:  log,
	}
	if opts.Rules != nil {
		rules := make([]broker.Rule, len(opts.Rules))
		for i, r := range opts.Rules {
			rules[i] = broker.Rule{Filter: r.Filter, Read: r.Read, Write: r.Write}
		}
		bo.Auth = &broker.Auth{Anonymous: true, Rules: rules, OnLogin: logins.tell}
	}
	b, err := broker.Start(bo)
	if errors.Is(err, syscall.EADDRINUSE) && opts.TCP != "" && !inUse(opts.Listen) {
		// Only the TCP port is taken, likely by a broker installed on the
		// machine: host without it.
		h.Notes = append(h.Notes, fmt.Sprintf("%s is in use (another MQTT broker?), so there is no plain MQTT listener", opts.TCP))
		bo.TCPAddr = ""
		b, err = broker.Start(bo)
	}
	if err != nil && bo.DataDir != "" && !errors.Is(err, syscall.EADDRINUSE) {
		h.Notes = append(h.Notes, fmt.Sprintf("high scores will not be kept: %v", err))
		bo.DataDir = ""
		b, err = broker.Start(bo)
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		// Someone hosts already: join them, if it is a copy of the game.
		host := joinHost(opts.Listen)
		if err := probeHost(host); err != nil {
			return nil, err
		}
		h.BrokerURL = "ws://" + host + "/mqtt"
		h.WebURL = "http://" + host + "/"
		return h, nil
	case err != nil:
		return nil, err
	}
	h.Hosting = true
	h.BrokerURL = "ws://" + joinHost(b.Addr().String()) + "/mqtt"
	h.WebURL = "http://" + joinHost(b.Addr().String()) + "/"
	h.TCPURL = b.TCPURL()
	if bo.DataDir != "" {
		h.DataDir = bo.DataDir
		if abs, err := filepath.Abs(bo.DataDir); err == nil {
			h.DataDir = abs
		}
	}
	if note != "" {
		h.Notes = append(h.Notes, note)
	}
	if opts.Rules != nil {
		p, err := openPlayers(bo.DataDir, b)
		if err != nil {
			b.Close()
			return nil, err
		}
		join.set(p)
		logins.set(p.used)
		h.claim = func(id, key string) error { return p.claim(id, key, "") }
		h.stop = func() error {
			err := b.Close()
			p.close()
			return err
		}
		return h, nil
	}
	h.stop = b.Close
	return h, nil
}

// loginRelay passes the broker's logins on to a function set after the
// broker started.
type loginRelay struct {
	to atomic.Pointer[func(string)]
}

func (l *loginRelay) set(f func(string)) { l.to.Store(&f) }

func (l *loginRelay) tell(user string) {
	if f := l.to.Load(); f != nil {
		(*f)(user)
	}
}

// lateHandler serves with a handler set after it was handed out; 404
// until then, or if it never is.
type lateHandler struct {
	h atomic.Pointer[http.Handler]
}

func (l *lateHandler) set(h http.Handler) { l.h.Store(&h) }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// withJoin serves /join with join, the host's mark on hostPath, and the
// rest with web.
func withJoin(join, web http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/join", join)
	mux.HandleFunc(hostPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, hostMark)
	})
	if web != nil {
		mux.Handle("/", web)
	}
	return mux
}

// inUse reports whether something listens on addr.
func inUse(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	ln.Close()
	return false
}

// joinHost turns a listening address into one to connect to: the
// unspecified address (":8080", "0.0.0.0:8080") becomes this machine's
// loopback.
func joinHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// HasDisplay reports whether a window can be opened, and if not, why.
func HasDisplay() (bool, string) {
	if os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "" {
		return true, ""
	}
	return !needsDisplayServer, "no display: neither DISPLAY nor WAYLAND_DISPLAY is set"
}

// PageParam is for the browser, where the page's URL can name the player
// and the room; natively there is no page, and it returns "".
func PageParam(string) string { return "" }

// hostPath answers hostMark on a hosting copy of the game, so that
// another copy can tell it from any other program on the port.
const (
	hostPath = "/.well-known/mqttgame-host"
	hostMark = "mqttgame demo host\n"
)

// ErrPortTaken is returned by Start when the address to host on is held
// by a program that is not a copy of the game.
var ErrPortTaken = errors.New("the address is taken by another program")

// probeHost checks that what listens on host is a hosting copy of the
// game, and if not, says what it is and how to pick another address.
func probeHost(host string) error {
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + host + hostPath)
	what := ""
	if err != nil {
		what = fmt.Sprintf("it does not answer as a web server: %v", err)
	} else {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && string(body) == hostMark {
			return nil
		}
		what = "it answers " + resp.Status
		if server := resp.Header.Get("Server"); server != "" {
			what += fmt.Sprintf(" as %q", server)
		}
	}
	other := "127.0.0.1:8081"
	if h, port, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(port); err == nil && n < 65535 {
			other = net.JoinHostPort(h, strconv.Itoa(n+1))
		}
	}
	return fmt.Errorf("%w: %s is not a copy of this game hosting the broker (%s); host on another address with -listen, for example -listen %s", ErrPortTaken, host, what, other)
}
