package broker

import (
	"crypto/subtle"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Auth says who may connect to the broker and what they may do, in the
// manner of mosquitto's password file and ACL patterns.
type Auth struct {
	// Users maps user names to passwords. More can be added while the
	// broker runs, with Broker.AddUser.
	Users map[string]string

	// Anonymous lets clients connect without a user name (spectators,
	// command-line tools). A client that gives a user name must give its
	// password. Defaults to false: a user name is required.
	Anonymous bool

	// Rules grant access to topics. With no rules, a connected client may
	// publish and subscribe anywhere. With rules, a publish needs a Write
	// rule whose filter matches the topic, and a subscription a Read rule
	// whose filter covers the whole subscription filter. Refused
	// publishes get the reason code "not authorized" (QoS 1 and 2), as do
	// refused subscriptions.
	Rules []Rule

	// OnLogin, if set, is called with the user name each time a user
	// logs in with the right password. It must not block. Defaults to
	// nil: nothing is told.
	OnLogin func(username string)
}

// Rule grants read (subscribe), write (publish) or both on the topics
// its filter matches. In Filter, %u stands for the client's user name
// and %c for its client ID, as in mosquitto's "pattern" lines: the rule
// "pattern write game/+/presence/%u" is Rule{Filter: "game/+/presence/%u",
// Write: true}. A rule with %u never applies to an anonymous client.
type Rule struct {
	Filter      string
	Read, Write bool
}

// authHook enforces an Auth.
type authHook struct {
	mqtt.HookBase
	mu        sync.RWMutex
	users     map[string]string
	anonymous bool
	rules     []Rule
	onLogin   func(string)
}

func newAuthHook(a *Auth) *authHook {
	h := &authHook{users: make(map[string]string), anonymous: a.Anonymous, rules: append([]Rule(nil), a.Rules...), onLogin: a.OnLogin}
	for u, p := range a.Users {
		h.users[u] = p
	}
	return h
}

func (h *authHook) ID() string { return "auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *authHook) addUser(name, password string) {
	h.mu.Lock()
	h.users[name] = password
	h.mu.Unlock()
}

// OnConnectAuthenticate checks the user name and password.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	name := string(pk.Connect.Username)
	if name == "" {
		return h.anonymous && len(pk.Connect.Password) == 0
	}
	h.mu.RLock()
	want, ok := h.users[name]
	h.mu.RUnlock()
	if !ok {
		// Compare anyway, so a missing user takes as long as a wrong password.
		subtle.ConstantTimeCompare(pk.Connect.Password, pk.Connect.Password)
		return false
	}
	if subtle.ConstantTimeCompare(pk.Connect.Password, []byte(want)) != 1 {
		return false
	}
	if h.onLogin != nil {
		h.onLogin(name)
	}
	return true
}

func (h *authHook) removeUser(name string) {
	h.mu.Lock()
	delete(h.users, name)
	h.mu.Unlock()
}

// OnACLCheck decides a publish (write) to a topic or a subscription
// (read) to a filter.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if len(h.rules) == 0 {
		return true
	}
	user := string(cl.Properties.Username)
	for _, r := range h.rules {
		if write && !r.Write || !write && !r.Read {
			continue
		}
		f, ok := expand(r.Filter, user, cl.ID)
		if !ok {
			continue
		}
		if write && topicMatches(f, topic) || !write && covers(f, topic) {
			return true
		}
	}
	return false
}

// expand replaces %u and %c in a rule's filter. A user name or client ID
// holding a wildcard or '/' would widen the rule, so it never matches.
func expand(filter, user, clientID string) (string, bool) {
	if strings.Contains(filter, "%u") {
		if user == "" || strings.ContainsAny(user, "+#/") {
			return "", false
		}
		filter = strings.ReplaceAll(filter, "%u", user)
	}
	if strings.Contains(filter, "%c") {
		if clientID == "" || strings.ContainsAny(clientID, "+#/") {
			return "", false
		}
		filter = strings.ReplaceAll(filter, "%c", clientID)
	}
	return filter, true
}

// topicMatches reports whether a topic name matches a filter, with MQTT's
// rules ('+' one level, '#' the rest; '$' topics only by explicit levels).
func topicMatches(filter, topic string) bool {
	return covers(filter, topic) && !strings.ContainsAny(topic, "+#")
}

// covers reports whether every topic the filter sub matches is matched by
// filter f: level by level, '#' in f covers the rest, '+' in f covers any
// one level of sub except '#', and other levels must be equal.
func covers(f, sub string) bool {
	if strings.HasPrefix(sub, "$share/") {
		if parts := strings.SplitN(sub, "/", 3); len(parts) == 3 {
			sub = parts[2]
		}
	}
	if sub != "" && sub[0] == '$' && f != "" && (f[0] == '+' || f[0] == '#') {
		return false
	}
	fl, sl := strings.Split(f, "/"), strings.Split(sub, "/")
	for i, part := range fl {
		if part == "#" {
			return true
		}
		if i >= len(sl) {
			return false
		}
		switch {
		case sl[i] == "#":
			return false
		case part == "+":
		case part != sl[i]:
			return false
		}
	}
	if len(sl) == len(fl) {
		return true
	}
	// "a/#" in sub also matches "a": a filter "a" does not cover it.
	return false
}

// RemoveUser stops a user from logging in; connections already up stay.
// It only has an effect on a broker started with Options.Auth.
func (b *Broker) RemoveUser(name string) {
	if b.auth != nil {
		b.auth.removeUser(name)
	}
}

// AddUser lets a new user connect, or changes a password. It only has an
// effect on a broker started with Options.Auth.
func (b *Broker) AddUser(name, password string) {
	if b.auth != nil {
		b.auth.addUser(name, password)
	}
}
