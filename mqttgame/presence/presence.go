// Package presence keeps a live list of the players in a room, by the
// retained-last-will pattern:
//
//   - Before connecting, Prepare sets the client's will to a retained
//     "offline" record on the player's presence topic, published by the
//     broker if the connection is lost (window killed, tab closed, network
//     cut), after a short delay so that a page reload does not flicker.
//   - Once connected, the Roster publishes a retained "online" record
//     (name, colour, since) that replaces it, again after every reconnect.
//   - Everyone subscribes to the room's records, so a newcomer gets the
//     retained ones at once and everyone sees changes live.
//   - Leave quits on purpose through the will (DisconnectWithWill), so a
//     player who quits and one who crashes look the same to the others.
//
// That is all a single broker needs. Past one broker, retained messages
// may stay on the node that got them (ejabberd keeps them per node) and a
// will dies with its node, so a live protocol covers the rest:
//
//   - Ask: once subscribed after each connection, the roster publishes its
//     online record again, live (not retained), with "ask": true, and once
//     more AskRepeat later (a cluster spreads a new subscription in its own
//     time). The ask is on the player's own topic, so no access rule
//     changes.
//   - Answer: a roster that reads a live record with "ask": true from
//     another player republishes its own online record, live, at most once
//     per AnswerGap (asks in between are answered together when it ends).
//     It answers from Update: a game that stopped ticking is seen at its
//     next refresh instead.
//   - Refresh: every Config.RefreshInterval (30 s by default) the player
//     republishes its online record live, from a timer rather than from
//     Update, so a game whose tab is hidden (no more ticks) but whose
//     connection is alive keeps refreshing. The record says the interval
//     ("refresh", in seconds).
//   - Silence: a player whose record announces a refresh interval and who
//     is heard from (record, refresh or answer) for none of SilentIntervals
//     intervals is shown offline (a Left event, not a replay), and online
//     again with the next record heard. Records without "refresh" (older
//     clients) never fall silent: only their will takes them offline.
//
// A newcomer on another node than a player sees them within one round
// trip of the ask, and at worst within one refresh interval (the ask or
// its answer lost); a player whose node died is shown offline after
// SilentIntervals refresh intervals plus one tick: 90 s by default. On a
// single broker a live player refreshes before the silence ends, and the
// will takes a lost one offline as before: nothing flickers.
//
// A game calls Prepare on its client options, New once the client exists,
// and Roster.Update every tick after Client.Update:
//
//	cfg := presence.Config{Topic: "game/lobby/presence", ID: segment.Escape(nick), Name: nick}
//	presence.Prepare(&opts, cfg)
//	mq, _ := mqttgame.New(&opts)
//	roster := presence.New(mq, cfg)
//	mq.Connect()
//	// each tick: mq.Update(); roster.Update(); then roster.AppendEvents, roster.AppendOnline
//
// Records are JSON: {"name":"ann","color":"#e06c75","since":"…","online":true,"refresh":30}.
package presence

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mqttgame/mqttgame/internal/jsonmsg"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// MaxNameLength caps, in runes, the names a Roster accepts from others;
// longer ones are cut.
const MaxNameLength = 32

// DefaultWillDelay is the will delay when Config.WillDelay is zero.
const DefaultWillDelay = 5 * time.Second

// DefaultRefreshInterval is the refresh interval when
// Config.RefreshInterval is zero.
const DefaultRefreshInterval = 30 * time.Second

// SilentIntervals is how many of a player's announced refresh intervals
// may pass without a word from them before a roster shows them offline.
// Three leaves room for a lost refresh, and for a browser that runs a
// hidden tab's timers only once a minute.
const SilentIntervals = 3

// AskRepeat is how long after its first ask a roster asks once more.
const AskRepeat = 2 * time.Second

// AnswerGap is the shortest time between two answers of one roster.
const AnswerGap = time.Second

// Config says who the player is and where the room's records live.
type Config struct {
	// Topic is the room's presence topic; each player's record is at
	// Topic + "/" + ID. It must be a valid topic name.
	Topic string
	// ID is the player's level under Topic: one level, the same each time
	// the player comes back. Build it with segment.Escape from what the
	// player typed, never from the raw text.
	ID string
	// Name and Color (as "#rrggbb") are published for the others to show.
	Name  string
	Color string
	// WillDelay is how long the broker waits before publishing the
	// offline record after a lost connection; a player back within it
	// (same client ID) never shows as offline. Defaults to
	// DefaultWillDelay; negative means no delay.
	WillDelay time.Duration
	// RefreshInterval is how often the player's online record is
	// published again, live, for rosters that cannot rely on the will
	// (see the package doc); the record announces it, and others show the
	// player offline after SilentIntervals of them without a word.
	// Defaults to DefaultRefreshInterval; negative means no refresh, and a
	// record that never falls silent.
	RefreshInterval time.Duration
}

func (c *Config) check() error {
	if err := mqttgame.ValidateTopic(c.Topic); err != nil {
		return fmt.Errorf("presence: Topic: %w", err)
	}
	if c.ID == "" || strings.Contains(c.ID, "/") {
		return fmt.Errorf("presence: ID %q is not one topic level (use segment.Escape)", c.ID)
	}
	if err := mqttgame.ValidateTopic(c.topic()); err != nil {
		return fmt.Errorf("presence: ID: %w", err)
	}
	return nil
}

func (c *Config) topic() string { return c.Topic + "/" + c.ID }

func (c *Config) willDelay() time.Duration {
	switch {
	case c.WillDelay == 0:
		return DefaultWillDelay
	case c.WillDelay < 0:
		return 0
	}
	return c.WillDelay
}

func (c *Config) refresh() time.Duration {
	switch {
	case c.RefreshInterval == 0:
		return DefaultRefreshInterval
	case c.RefreshInterval < 0:
		return 0
	}
	return c.RefreshInterval
}

// Record is the retained message a player's presence topic holds, and
// what its live asks, answers and refreshes carry.
type Record struct {
	Name   string    `json:"name"`
	Color  string    `json:"color,omitempty"`
	Since  time.Time `json:"since,omitzero"` // when the player came online
	Online bool      `json:"online"`
	// Refresh is the interval, in seconds, at which the player publishes
	// the record again while online; 0 for a player that does not.
	Refresh float64 `json:"refresh,omitempty"`
	// Ask, on a live record, asks every other player for theirs.
	Ask bool `json:"ask,omitempty"`
}

// Prepare sets o.Will to the player's retained offline record, and makes
// o.SessionExpiry outlast the will delay: a broker publishes a delayed
// will when the delay passes or the session ends, whichever comes first,
// so a session that ends with the connection would publish it at once.
// Call it before mqttgame.New.
func Prepare(o *mqttgame.Options, cfg Config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	payload, err := json.Marshal(Record{Name: cfg.Name, Color: cfg.Color, Online: false})
	if err != nil {
		return err
	}
	delay := cfg.willDelay()
	o.Will = &mqttgame.Will{
		Topic:       cfg.topic(),
		Payload:     payload,
		QoS:         mqttgame.AtLeastOnce,
		Retain:      true,
		Delay:       delay,
		ContentType: "application/json",
	}
	if delay > 0 {
		// Some brokers (mochi-mqtt among them) only retain a delayed will
		// while the session exists; keep it a little longer than the delay.
		o.SessionExpiry = max(o.SessionExpiry, delay+5*time.Second)
	}
	return nil
}

// Player is what a Roster knows of one player.
type Player struct {
	ID     string // the player's level under Config.Topic
	Name   string
	Color  string    // "#rrggbb", or "" if the record had none
	Since  time.Time // when the player came online, as the record says
	Online bool
	// Seen is when this roster saw the player's record change, or showed
	// the player offline for their silence, by the local clock. It is
	// zero for records that were already there when the roster
	// subscribed: an offline one is "offline since before you came",
	// which is how a game knows whom to fade out.
	Seen time.Time
	Self bool // the roster's own player
}

// EventKind says what an Event reports.
type EventKind uint8

// The changes a Roster reports.
const (
	// Joined: the player is online; either they just came, or (Replay)
	// they were already there when this roster subscribed.
	Joined EventKind = iota + 1
	// Left: the player went offline, by quitting or by losing the
	// connection (the broker published their will), or fell silent for
	// SilentIntervals of their refresh intervals.
	Left
)

// String names the kind: "joined" or "left".
func (k EventKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Left:
		return "left"
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// Event is a change a Roster saw in one tick.
type Event struct {
	Kind   EventKind
	Player Player
	// Replay marks an event for a record that was already there when the
	// roster subscribed (a retained message): not news, just the state.
	Replay bool
}

// Roster follows the presence records of a room. Its methods must be
// called from the goroutine that calls the client's Update, like the
// client's own tick methods.
type Roster struct {
	c       *mqttgame.Client
	cfg     Config
	filter  string
	players map[string]*member
	events  []Event
	msgs    []mqttgame.Message
	now     func() time.Time

	asks       int       // asks sent since the last connection
	askAgain   time.Time // when to send the second
	answerDue  bool      // someone asked since the last answer
	lastAnswer time.Time

	// Shared with the refresh timer, which runs on its own goroutine.
	mu      sync.Mutex
	self    Record
	leaving bool
	err     error
	timer   *time.Timer // nil until the first connection
	send    func(m *mqttgame.Message) error
}

// member is a player and when the roster last heard from them.
type member struct {
	Player
	heard  time.Time     // by the local clock
	silent time.Duration // silence after which they are offline; 0: never
}

// New returns a roster of the room that cfg names, for a client made with
// options that Prepare set up. It subscribes at once; the subscription is
// sent when the client connects.
func New(c *mqttgame.Client, cfg Config) (*Roster, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	r := &Roster{
		c:       c,
		cfg:     cfg,
		filter:  cfg.Topic + "/+",
		self:    Record{Name: cfg.Name, Color: cfg.Color, Online: true, Refresh: cfg.refresh().Seconds()},
		players: make(map[string]*member),
		now:     time.Now,
	}
	r.send = func(m *mqttgame.Message) error { _, err := c.PublishMessage(m); return err }
	err := c.SubscribeWith(r.filter, mqttgame.SubscribeOptions{QoS: mqttgame.AtLeastOnce, DataLoss: mqttgame.LatestWins})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Update reads this tick's presence records. Call it every tick, after
// the client's Update. After every connection it publishes the player's
// online record again, as the will may have replaced it meanwhile, then
// asks the others for theirs; it answers others' asks, and shows offline
// the players silent for too long.
func (r *Roster) Update() {
	clear(r.events)
	r.events = r.events[:0]
	r.mu.Lock()
	leaving := r.leaving
	r.mu.Unlock()
	if leaving {
		return
	}
	now := r.now()
	if r.c.JustConnected() {
		r.mu.Lock()
		if r.self.Since.IsZero() {
			r.self.Since = now.UTC().Truncate(time.Second)
		}
		r.publishLocked(r.self, true)
		r.startRefreshLocked()
		r.mu.Unlock()
		r.asks = 0
	}
	if r.c.IsConnected() && r.c.IsSubscribed(r.filter) {
		if r.asks == 0 || r.asks == 1 && !now.Before(r.askAgain) {
			r.ask()
			r.asks++
			r.askAgain = now.Add(AskRepeat)
		}
	}
	r.msgs = r.c.AppendMessages(r.msgs[:0], r.filter)
	for i := range r.msgs {
		r.read(&r.msgs[i], now)
	}
	clear(r.msgs)
	if r.answerDue && r.c.IsConnected() && now.Sub(r.lastAnswer) >= AnswerGap {
		r.answerDue, r.lastAnswer = false, now
		r.live(false, mqttgame.AtLeastOnce)
	}
	r.expire(now)
}

// ask publishes the online record live with Ask set.
func (r *Roster) ask() { r.live(true, mqttgame.AtLeastOnce) }

// live publishes the online record, not retained: an ask, an answer or a
// refresh. It expires after a refresh interval, when a newer one is due.
func (r *Roster) live(ask bool, qos mqttgame.QoS) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leaving {
		return
	}
	rec := r.self
	rec.Ask = ask
	r.sendLocked(rec, false, qos)
}

// startRefreshLocked starts the refresh timer, unless it runs or the
// player does not refresh. A timer is no goroutine until it fires; each
// firing publishes and sets the next, until Leave or a closed client.
func (r *Roster) startRefreshLocked() {
	every := r.cfg.refresh()
	if every == 0 {
		return
	}
	if r.timer == nil {
		r.timer = time.AfterFunc(every, r.refresh)
		return
	}
	r.timer.Reset(every)
}

func (r *Roster) refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leaving {
		return
	}
	if err := r.sendLocked(r.self, false, mqttgame.AtMostOnce); errors.Is(err, mqttgame.ErrClosed) {
		return
	}
	r.timer.Reset(r.cfg.refresh())
}

func (r *Roster) publishLocked(rec Record, retain bool) {
	r.sendLocked(rec, retain, mqttgame.AtLeastOnce)
}

func (r *Roster) sendLocked(rec Record, retain bool, qos mqttgame.QoS) error {
	m, err := jsonmsg.New(r.cfg.topic(), rec, retain)
	if err == nil {
		m.QoS = qos
		if !retain {
			m.Expiry = max(r.cfg.refresh(), AskRepeat)
		}
		err = r.send(m)
	}
	if err != nil {
		r.err = err
	}
	return err
}

// expire shows offline the players silent for longer than their records
// allow.
func (r *Roster) expire(now time.Time) {
	for _, p := range r.players {
		if p.Online && !p.Self && p.silent > 0 && now.Sub(p.heard) > p.silent {
			p.Online, p.Seen = false, now
			r.events = append(r.events, Event{Kind: Left, Player: p.Player})
		}
	}
}

func (r *Roster) read(m *mqttgame.Message, now time.Time) {
	id := m.Topic[len(r.cfg.Topic)+1:]
	self := id == r.cfg.ID
	p := r.players[id]
	if len(m.Payload) == 0 { // a cleared record: the player is forgotten
		if p != nil && p.Online {
			p.Online = false
			r.events = append(r.events, Event{Kind: Left, Player: p.Player})
		}
		delete(r.players, id)
		return
	}
	var rec Record
	if err := json.Unmarshal(m.Payload, &rec); err != nil {
		return // not a presence record; ignored rather than trusted
	}
	if self && !rec.Online && r.c.IsConnected() {
		// The broker published our will while we are connected: an old
		// connection's delayed will, after a quick reconnect. Put it right.
		r.mu.Lock()
		r.publishLocked(r.self, true)
		r.mu.Unlock()
		return
	}
	if rec.Ask && rec.Online && !m.Retain && !self {
		r.answerDue = true
	}
	was := p != nil && p.Online
	if p == nil {
		p = &member{Player: Player{ID: id, Self: self}}
		r.players[id] = p
	}
	p.heard = now
	p.silent = 0
	if rec.Refresh > 0 {
		p.silent = time.Duration(SilentIntervals * rec.Refresh * float64(time.Second))
	}
	p.Name = cutName(rec.Name)
	p.Color = rec.Color
	p.Since = rec.Since
	p.Online = rec.Online
	if m.Retain {
		p.Seen = time.Time{}
	} else {
		p.Seen = now
	}
	switch {
	case rec.Online && !was:
		r.events = append(r.events, Event{Kind: Joined, Player: p.Player, Replay: m.Retain})
	case !rec.Online && was:
		r.events = append(r.events, Event{Kind: Left, Player: p.Player, Replay: m.Retain})
	}
}

func cutName(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if utf8.RuneCountInString(s) <= MaxNameLength {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxNameLength {
			return s[:i]
		}
		n++
	}
	return s
}

// AppendEvents appends this tick's joins and leaves to dst and returns it.
func (r *Roster) AppendEvents(dst []Event) []Event { return append(dst, r.events...) }

// AppendPlayers appends every player the roster knows, online or not, to
// dst, sorted by name, and returns it.
func (r *Roster) AppendPlayers(dst []Player) []Player {
	start := len(dst)
	for _, p := range r.players {
		dst = append(dst, p.Player)
	}
	sortPlayers(dst[start:])
	return dst
}

// AppendOnline appends the players online, sorted by name, to dst and
// returns it.
func (r *Roster) AppendOnline(dst []Player) []Player {
	start := len(dst)
	for _, p := range r.players {
		if p.Online {
			dst = append(dst, p.Player)
		}
	}
	sortPlayers(dst[start:])
	return dst
}

func sortPlayers(ps []Player) {
	slices.SortFunc(ps, func(a, b Player) int {
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Online returns how many players are online, the roster's own included
// once the broker has echoed its record.
func (r *Roster) Online() int {
	n := 0
	for _, p := range r.players {
		if p.Online {
			n++
		}
	}
	return n
}

// Player returns what the roster knows of the player with this ID.
func (r *Roster) Player(id string) (Player, bool) {
	if p, ok := r.players[id]; ok {
		return p.Player, true
	}
	return Player{}, false
}

// Err returns the error of the last failed publish of the player's
// record, if any.
func (r *Roster) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// ErrLeft is returned by Leave after the first call.
var ErrLeft = errors.New("presence: already left")

// Leave quits the room on purpose: it publishes the offline record, then
// disconnects with the will, so the others see the player go offline at
// once and just as after a crash (the will is the same record). The
// client stays usable: call Rejoin, then the client's Connect, to come
// back.
func (r *Roster) Leave() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leaving {
		return ErrLeft
	}
	r.leaving = true
	if r.timer != nil {
		r.timer.Stop()
	}
	off := Record{Name: r.self.Name, Color: r.self.Color}
	r.publishLocked(off, true)
	r.c.DisconnectWithWill()
	return nil
}

// Rejoin undoes Leave: the next connection publishes the online record.
// Call it before the client's Connect.
func (r *Roster) Rejoin() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leaving = false
	r.self.Since = time.Time{}
}
