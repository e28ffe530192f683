package presence

import (
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// newBare is a roster without a client, for the timing rules alone.
func newBare(send func(*mqttgame.Message) error) *Roster {
	cfg := Config{Topic: "room", ID: "me", Name: "me"}
	return &Roster{
		cfg:     cfg,
		filter:  "room/+",
		self:    Record{Name: "me", Online: true, Refresh: cfg.refresh().Seconds()},
		players: make(map[string]*member),
		now:     time.Now,
		send:    send,
	}
}

func liveRecord(t *testing.T, id string, refresh time.Duration) *mqttgame.Message {
	b, err := json.Marshal(Record{Name: id, Online: true, Refresh: refresh.Seconds()})
	if err != nil {
		t.Fatal(err)
	}
	return &mqttgame.Message{Topic: "room/" + id, Payload: b}
}

// TestSilenceOnFakeClock: a player announcing 30 s is online until 90 s
// pass without a record, and each record restarts the count.
func TestSilenceOnFakeClock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := newBare(nil)
		r.read(liveRecord(t, "ann", 30*time.Second), time.Now())
		r.read(liveRecord(t, "old", 0), time.Now())
		time.Sleep(80 * time.Second)
		r.read(liveRecord(t, "ann", 30*time.Second), time.Now()) // a refresh
		time.Sleep(89 * time.Second)
		r.expire(time.Now())
		if r.Online() != 2 {
			t.Fatalf("%d online 89 s after ann's refresh, want 2", r.Online())
		}
		time.Sleep(2 * time.Second)
		r.events = r.events[:0]
		r.expire(time.Now())
		if p, _ := r.Player("ann"); p.Online || len(r.events) != 1 || r.events[0].Kind != Left {
			t.Fatalf("91 s after ann's refresh: %+v, events %v", p, r.events)
		}
		if p, _ := r.Player("old"); !p.Online {
			t.Fatal("a record without refresh fell silent")
		}
	})
}

// TestRefreshTimer: the refresh runs every interval with no tick, live at
// QoS 0 with the interval in the record; it stops on Leave's flag and on
// a closed client.
func TestRefreshTimer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int32
		var closed atomic.Bool
		r := newBare(func(m *mqttgame.Message) error {
			var rec Record
			if m.Retain || m.QoS != mqttgame.AtMostOnce || json.Unmarshal(m.Payload, &rec) != nil || rec.Refresh != 30 || !rec.Online {
				t.Errorf("refresh %+v", m)
			}
			if closed.Load() {
				return mqttgame.ErrClosed
			}
			sent.Add(1)
			return nil
		})
		r.mu.Lock()
		r.startRefreshLocked()
		r.mu.Unlock()
		time.Sleep(95 * time.Second)
		if n := sent.Load(); n != 3 {
			t.Errorf("%d refreshes in 95 s, want 3", n)
		}
		closed.Store(true)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if !errors.Is(r.Err(), mqttgame.ErrClosed) || sent.Load() != 3 {
			t.Errorf("after the client closed: %d refreshes, err %v", sent.Load(), r.Err())
		}
		if r.timer.Stop() {
			t.Error("the refresh timer still runs after the client closed")
		}

		closed.Store(false)
		r.mu.Lock()
		r.startRefreshLocked()
		r.leaving = true
		r.mu.Unlock()
		time.Sleep(5 * time.Minute)
		if sent.Load() != 3 {
			t.Errorf("%d refreshes after leaving", sent.Load()-3)
		}
	})
}
