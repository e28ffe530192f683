// Package leaderboard keeps a live high-score table from retained
// messages: each player's best score is the retained message of their own
// topic, so any newcomer gets the whole table from the broker at once,
// and every client sees records live.
//
// Only a better score replaces a player's best: Submit publishes a score
// only if it beats the best the board knows, and a board ignores a lower
// score that arrives for a player it has a better one for.
//
// A newcomer's board is empty until the retained scores arrive. To tell
// "no scores yet" from "not loaded yet", the board subscribes to the
// scores, then publishes a marker to a topic only it subscribes to: the
// broker sends the retained scores before the marker, so when the marker
// comes back the snapshot is complete (IsComplete). Scores and marker are
// QoS 1, which the client never drops: a score it has no room for yet (a
// game that stopped ticking, more players than Options.MaxTopics) is held
// unacknowledged, and the marker waits behind it. A broker that drops
// messages itself makes a board complete without them: mosquitto drops
// what passes its queue for a client, retained messages included
// (max_queued_messages, 1,000 by default), so a board with more players
// needs it raised.
//
// The marker's topic is the board's topic, then "sync", then a random
// nonce of 16 hexadecimal digits: for the board "game/scores",
// "game/scores/sync/0f3a9c2e71b45d86". It is two levels below the board's
// topic, so the scores' filter ("game/scores/+") never matches it. A
// broker with access rules must let every player subscribe and publish to
// "game/scores/sync/+", or boards never complete.
//
// Past one broker, a node may keep retained messages to itself (ejabberd
// does): the marker then comes back after the retained scores of the
// newcomer's node only. So with the marker the board also publishes an
// ask, an empty message (its payload the board's nonce) to the board's
// topic, then "sync", then "ask" ("game/scores/sync/ask", which the rule
// above already allows). Every board subscribes to it and answers with
// the best score of each player it speaks for (Claim, and every ID given
// to Submit), published live (not retained) on the player's own topic in
// the same format, at most once per AnswerGap; a board reads answers as
// any score. IsComplete turns true once the marker is back and
// AnswerWindow has passed since the ask: the board then holds its node's
// retained scores and the best of every live player whose board answers
// within the window (a board answers from Update: one whose game stopped
// ticking, as in a hidden browser tab, does not). Scores of players who
// are gone and whose retained score another node keeps never reach it.
//
// Scores are JSON: {"name":"ann","score":42,"date":"2025-01-31T12:00:00Z"}.
package leaderboard

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mqttgame/mqttgame/internal/jsonmsg"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// AnswerWindow is how long after its ask a board waits for answers
// before it is complete.
const AnswerWindow = 2 * time.Second

// AnswerGap is the shortest time between two answers of one board.
const AnswerGap = 500 * time.Millisecond

// Entry is one player's best score.
type Entry struct {
	ID    string    `json:"-"` // the player's level under the board's topic
	Name  string    `json:"name"`
	Score int       `json:"score"`
	Date  time.Time `json:"date"`
}

// Outcome is what Submit did with a score.
type Outcome uint8

const (
	// NotBest: the player's best is at least as high; nothing was published.
	NotBest Outcome = iota
	// NewBest: the score beats the player's best and was published.
	NewBest
	// Pending: the board has not loaded the scores yet; the score is kept
	// and published once they are, if it is still the best.
	Pending
)

// String names the outcome, as "new best".
func (o Outcome) String() string {
	switch o {
	case NotBest:
		return "not best"
	case NewBest:
		return "new best"
	case Pending:
		return "pending"
	}
	return fmt.Sprintf("Outcome(%d)", o)
}

// Board is a live leaderboard. Its methods must be called from the
// goroutine that calls the client's Update.
type Board struct {
	c       *mqttgame.Client
	topic   string
	filter  string
	marker  string
	ask     string
	nonce   string
	size    int
	entries map[string]Entry
	pending map[string]Entry // submitted before the snapshot was complete
	own     map[string]bool  // the players the board answers for

	markerSent   bool
	markerBack   bool
	askedAt      time.Time
	answerDue    bool
	lastAnswer   time.Time
	complete     bool
	justComplete bool
	changed      bool
	err          error
	msgs         []mqttgame.Message
}

// New returns a board of the scores under topic (each player's at
// topic + "/" + their ID) that ranks the best size entries (10 if size is
// 0 or less). It subscribes at once; the subscription is sent when the
// client connects.
func New(c *mqttgame.Client, topic string, size int) (*Board, error) {
	if err := mqttgame.ValidateTopic(topic); err != nil {
		return nil, fmt.Errorf("leaderboard: %w", err)
	}
	if size <= 0 {
		size = 10
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	b := &Board{
		c:       c,
		topic:   topic,
		filter:  topic + "/+",
		nonce:   hex.EncodeToString(nonce[:]),
		ask:     topic + "/sync/ask", // not hexadecimal: never a marker
		size:    size,
		entries: make(map[string]Entry),
		pending: make(map[string]Entry),
		own:     make(map[string]bool),
	}
	b.marker = topic + "/sync/" + b.nonce // two levels: "/+" never matches it
	if err := c.SubscribeWith(b.filter, mqttgame.SubscribeOptions{QoS: mqttgame.AtLeastOnce, DataLoss: mqttgame.LatestWins}); err != nil {
		return nil, err
	}
	if err := c.SubscribeWith(b.marker, mqttgame.SubscribeOptions{QoS: mqttgame.AtLeastOnce}); err != nil {
		return nil, err
	}
	if err := c.SubscribeWith(b.ask, mqttgame.SubscribeOptions{QoS: mqttgame.AtLeastOnce, DataLoss: mqttgame.FIFO}); err != nil {
		return nil, err
	}
	return b, nil
}

// Update reads this tick's scores. Call it every tick, after the client's
// Update.
func (b *Board) Update() {
	b.changed, b.justComplete = false, false
	now := time.Now()
	if !b.complete {
		if !b.c.IsConnected() {
			b.markerSent, b.markerBack = false, false // a new connection subscribes anew: send another
		}
		// Only once both subscriptions are granted does the marker come
		// back after the retained scores.
		if !b.markerSent && b.c.IsSubscribed(b.filter) && b.c.IsSubscribed(b.marker) {
			if _, err := b.c.PublishString(b.marker, "", mqttgame.AtLeastOnce, false); err != nil {
				b.err = err
			} else if _, err := b.c.PublishString(b.ask, b.nonce, mqttgame.AtLeastOnce, false); err != nil {
				b.err = err
			} else {
				b.markerSent, b.askedAt = true, now
			}
		}
	}
	b.msgs = b.c.AppendMessages(b.msgs[:0], b.filter)
	for i := range b.msgs {
		b.read(&b.msgs[i])
	}
	b.msgs = b.c.AppendMessages(b.msgs[:0], b.ask)
	for i := range b.msgs {
		if string(b.msgs[i].Payload) != b.nonce {
			b.answerDue = true
		}
	}
	clear(b.msgs)
	if b.answerDue && b.c.IsConnected() && now.Sub(b.lastAnswer) >= AnswerGap {
		b.answerDue, b.lastAnswer = false, now
		b.answer()
	}
	if !b.complete && b.markerSent && b.c.OnMessage(b.marker) {
		b.markerBack = true
	}
	if !b.complete && b.markerBack && now.Sub(b.askedAt) >= AnswerWindow {
		b.complete, b.justComplete, b.changed = true, true, true
		_ = b.c.Unsubscribe(b.marker)
		for _, e := range b.pending {
			b.submit(e)
		}
		clear(b.pending)
	}
}

// answer publishes, live, the best of each player the board speaks for.
func (b *Board) answer() {
	for id := range b.own {
		if e, ok := b.entries[id]; ok {
			if err := b.publish(e, false); err != nil {
				b.err = err
			}
		}
	}
}

func (b *Board) read(m *mqttgame.Message) {
	id := m.Topic[len(b.topic)+1:]
	if len(m.Payload) == 0 { // cleared: the player's score is gone
		if _, ok := b.entries[id]; ok {
			delete(b.entries, id)
			b.changed = true
		}
		return
	}
	var e Entry
	if err := json.Unmarshal(m.Payload, &e); err != nil || e.Name == "" {
		return // not a score; ignored rather than trusted
	}
	e.ID = id
	if old, ok := b.entries[id]; ok && old.Score >= e.Score {
		return // best only: a lower score never replaces a higher one
	}
	b.entries[id] = e
	b.changed = true
}

// IsComplete reports whether the retained scores have all arrived, and
// the live players' answers to the board's ask (see the package doc):
// before that, an empty or short board may just not be loaded yet. It
// turns true AnswerWindow after the ask at the earliest, and never while
// a score the broker sent before the marker is still held by the client.
func (b *Board) IsComplete() bool { return b.complete }

// JustCompleted reports whether the board became complete this tick.
func (b *Board) JustCompleted() bool { return b.justComplete }

// Changed reports whether an entry changed this tick.
func (b *Board) Changed() bool { return b.changed }

// AppendTop appends the best entries, at most the board's size, best
// first (equal scores: the earlier first), to dst and returns it.
func (b *Board) AppendTop(dst []Entry) []Entry {
	start := len(dst)
	for _, e := range b.entries {
		dst = append(dst, e)
	}
	top := dst[start:]
	slices.SortFunc(top, compare)
	return dst[:start+min(len(top), b.size)]
}

func compare(a, b Entry) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	if c := a.Date.Compare(b.Date); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// Best returns the best score of the player with this ID, if the board
// has one.
func (b *Board) Best(id string) (Entry, bool) {
	e, ok := b.entries[id]
	return e, ok
}

// Rank returns the 1-based place of the player with this ID among all
// entries, or 0 if they have none.
func (b *Board) Rank(id string) int {
	e, ok := b.entries[id]
	if !ok {
		return 0
	}
	rank := 1
	for _, o := range b.entries {
		if compare(o, e) < 0 {
			rank++
		}
	}
	return rank
}

// ErrBadEntry is returned by Submit for an entry without a valid ID or name.
var ErrBadEntry = errors.New("leaderboard: entry needs a one-level ID and a name")

// Claim makes the board answer for the player with this ID: a newcomer's
// ask gets their best, live. Submit claims the IDs it is given; a game
// claims its player's ID at once to answer before the first score.
func (b *Board) Claim(id string) { b.own[id] = true }

// Submit offers a player's score. If it beats the player's best, it is
// published as their retained best and shows on the board at once
// (NewBest); otherwise nothing happens (NotBest). Before the board is
// complete it cannot know, and keeps the score for then (Pending). A
// zero Date is set to now.
func (b *Board) Submit(e Entry) (Outcome, error) {
	if e.ID == "" || strings.ContainsAny(e.ID, "/+#") || e.Name == "" {
		return NotBest, ErrBadEntry
	}
	if err := mqttgame.ValidateTopic(b.topic + "/" + e.ID); err != nil {
		return NotBest, fmt.Errorf("%w: %w", ErrBadEntry, err)
	}
	if e.Date.IsZero() {
		e.Date = time.Now()
	}
	e.Date = e.Date.UTC().Truncate(time.Second)
	b.own[e.ID] = true
	if !b.complete {
		if p, ok := b.pending[e.ID]; !ok || e.Score > p.Score {
			b.pending[e.ID] = e
		}
		return Pending, nil
	}
	return b.submit(e)
}

func (b *Board) submit(e Entry) (Outcome, error) {
	if old, ok := b.entries[e.ID]; ok && old.Score >= e.Score {
		return NotBest, nil
	}
	if err := b.publish(e, true); err != nil {
		b.err = err
		return NotBest, err
	}
	b.entries[e.ID] = e
	b.changed = true
	return NewBest, nil
}

func (b *Board) publish(e Entry, retain bool) error {
	m, err := jsonmsg.New(b.topic+"/"+e.ID, e, retain)
	if err != nil {
		return err
	}
	_, err = b.c.PublishMessage(m)
	return err
}

// Err returns the error of the last failed publish, if any.
func (b *Board) Err() error { return b.err }
