// Package host sets up what runs around the demo game: natively, the
// embedded broker and the browser build, or the broker already running;
// in the browser, the broker of the page's own server.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// Options says where the broker is, or where to host one.
type Options struct {
	// Broker is a broker URL to use instead of hosting or joining the
	// embedded one (the -broker flag).
	Broker string
	// Listen is where the embedded broker serves WebSocket and the
	// browser build: hosted there if the address is free, joined if
	// something listens there already.
	Listen string
	// TCP is where a hosted broker also takes plain MQTT ("" for not).
	TCP string
	// DataDir keeps a hosted broker's high scores across restarts.
	DataDir string
	// WebDir holds the browser build a hosting process serves.
	WebDir string
	// Persist lists the filters of the retained messages kept in DataDir.
	Persist []string
	// Rules, if not nil, are the access rules of a hosted broker: each
	// player then connects with the name they claimed (see Credentials),
	// and clients without a user name (spectators, mosquitto_sub) may
	// connect too. Defaults to nil: anyone may do anything.
	Rules []game.AccessRule
}

// Host is what Start set up.
type Host struct {
	// BrokerURL is the WebSocket URL the game connects to.
	BrokerURL string
	// WebURL is where a browser plays, if this process or the one it
	// joined serves the browser build; "" with -broker.
	WebURL string
	// TCPURL is the hosted broker's plain MQTT address, if any.
	TCPURL string
	// Hosting is true if this process runs the broker.
	Hosting bool
	// DataDir is where a hosting process keeps the high scores.
	DataDir string
	// Notes are things to tell the player once (a port in use, no
	// browser build).
	Notes []string

	stop    func() error
	browser bool
	claim   func(playerID, key string) error // set when this process hosts with Rules

	// The user name and password a -broker URL carried, taken out of it.
	username, password string
}

// external is the host of a broker given by URL. A user name and password
// in the URL are taken out of it, to log in with, so that the URL can be
// shown; a URL the client would refuse is refused here, with the reason.
func external(raw string) (*Host, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error // it quotes the URL, password and all
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("bad broker URL %q: %w", redact(raw), err)
	}
	h := &Host{}
	if u.User != nil {
		h.username = u.User.Username()
		h.password, _ = u.User.Password()
		u.User = nil
	}
	h.BrokerURL = u.String()
	if _, err := mqttgame.New(&mqttgame.Options{Brokers: []string{h.BrokerURL}}); err != nil {
		return nil, err
	}
	return h, nil
}

// redact hides the password of a URL that does not parse.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if user, _, ok := strings.Cut(rest[:at], ":"); ok {
			return scheme + "://" + user + ":xxxxx" + rest[at:]
		}
	}
	return raw
}

// Close stops what the host started; the broker keeps the retained
// messages in DataDir.
func (h *Host) Close() error {
	if h.stop == nil {
		return nil
	}
	return h.stop()
}

// Role is a short line for the connection status: hosting or joined.
func (h *Host) Role() string {
	switch {
	case h.browser:
		return "in the browser, on the page's broker"
	case h.Hosting:
		return "this window hosts the broker"
	case h.WebURL != "":
		return "joined the broker of another window"
	}
	return ""
}

// Announce tells the player, on w, where things are: the broker, how to
// watch its traffic, where the scores are kept, the browser URL.
func (h *Host) Announce(w io.Writer) {
	switch {
	case h.Hosting:
		fmt.Fprintf(w, "Hosting the game's broker: %s\n", h.BrokerURL)
		if u, err := url.Parse(h.TCPURL); err == nil && h.TCPURL != "" {
			fmt.Fprintf(w, "Watch the traffic:   mosquitto_sub -h %s -p %s -t '#' -v\n", u.Hostname(), u.Port())
		}
		if h.DataDir != "" {
			fmt.Fprintf(w, "High scores are kept in %s\n", h.DataDir)
		}
	case h.WebURL != "":
		fmt.Fprintf(w, "Another copy hosts the broker; joining %s\n", h.BrokerURL)
	default:
		fmt.Fprintf(w, "Using the broker %s\n", h.BrokerURL)
	}
	if h.WebURL != "" {
		fmt.Fprintf(w, "Play in a browser:   %s\n", h.WebURL)
	}
	for _, n := range h.Notes {
		fmt.Fprintln(w, "Note: "+n)
	}
}

// ErrNothingToHost is returned by Serve in a process that does not host
// the broker.
var ErrNothingToHost = errors.New("another copy hosts the broker, so there is nothing to do without a window")

// Serve keeps a hosting process serving the broker and the browser build,
// with no window, until ctx ends (Ctrl+C).
func (h *Host) Serve(ctx context.Context, w io.Writer) error {
	if !h.Hosting {
		return ErrNothingToHost
	}
	fmt.Fprintf(w, "Still hosting the broker and the browser version: open %s in a browser to play. Ctrl+C stops.\n", h.WebURL)
	<-ctx.Done()
	return nil
}
