package mqttgame

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session"
)

// TestOutboxSentOutcomes: what the sender makes of paho's answer to a
// publish. A message paho stored in the session is paho's to resend, a
// written QoS 0 message is delivered (counted, with no event), one paho
// refuses fails, and one
// that could not go (the connection going, no place in the broker's
// receive maximum) waits first in line for the next try.
func TestOutboxSentOutcomes(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name   string
		qos    QoS
		stored bool
		err    error
		done   bool // sent reports the message done with
		queued int  // messages left in the queue
		event  EventKind
	}{
		{"QoS 0 written", AtMostOnce, false, nil, true, 0, 0},
		{"QoS 0 on a failed write", AtMostOnce, false, errors.New("write: broken pipe"), false, 1, 0},
		{"QoS 1 stored", AtLeastOnce, true, nil, true, 0, 0},
		{"QoS 1 stored, write failed", AtLeastOnce, true, paho.ErrNetworkErrorAfterStored, true, 0, 0},
		{"QoS 1 refused", AtLeastOnce, false, fmt.Errorf("%w: retain", paho.ErrInvalidArguments), true, 0, EventPublishFailed},
		{"QoS 2 with no connection", ExactlyOnce, false, session.ErrNoConnection, false, 1, 0},
		{"QoS 1 with no place", AtLeastOnce, false, context.DeadlineExceeded, false, 1, 0},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			var got []Event
			o := newOutbox(4, func(e Event) { got = append(got, e) })
			o.connected(limits{maxQoS: ExactlyOnce})
			o.resume()
			if _, err := o.add(Message{Topic: "t", QoS: tc.qos}); err != nil {
				t.Fatal(err)
			}
			m, _ := o.next(context.Background(), nil)
			if m == nil {
				t.Fatal("next returned no message")
			}
			if tc.stored {
				o.storedAs(7)
			}
			if done := o.sent(m, tc.err); done != tc.done {
				t.Errorf("sent = %v, want %v", done, tc.done)
			}
			c := o.counters()
			if c.queued != tc.queued {
				t.Errorf("%d queued, want %d", c.queued, tc.queued)
			}
			if wantSent := tc.qos == AtMostOnce && tc.err == nil || tc.stored; (c.sent == 1) != wantSent {
				t.Errorf("%d counted sent, want sent: %v", c.sent, wantSent)
			}
			switch {
			case tc.event == 0 && len(got) > 0:
				t.Errorf("events %v, want none", got)
			case tc.event != 0 && (len(got) != 1 || got[0].Kind != tc.event):
				t.Errorf("events %v, want one %v", got, tc.event)
			}
			if tc.queued > 0 {
				if again, _ := o.next(context.Background(), nil); again != m {
					t.Error("the message that could not go is not first in line")
				}
			}
		})
	}
}
