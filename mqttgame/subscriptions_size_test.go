package mqttgame

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/paho"
)

// TestRequestSize: the size the client reckons for a SUBSCRIBE or
// UNSUBSCRIBE is the size paho writes, byte for byte, across the
// remaining-length boundaries of 127 and 16,383 bytes.
func TestRequestSize(t *testing.T) {
	t.Parallel()
	sub := &subscription{}
	testCases := []struct {
		name    string
		filters []string
		opts    SubscribeOptions
	}{
		{"one filter", []string{"a/b"}, SubscribeOptions{}},
		{"just under 128", []string{strings.Repeat("x", 120)}, SubscribeOptions{}},
		{"just over 128", []string{strings.Repeat("x", 122)}, SubscribeOptions{}},
		{"many", []string{"room/+/chat", "room/+/pos", "$share/g/t", "#"}, SubscribeOptions{QoS: 2, NoLocal: true}},
		{"over 16383", []string{strings.Repeat("y", 9000), strings.Repeat("z", 9000)}, SubscribeOptions{}},
		{"subscription identifier", []string{"a"}, SubscribeOptions{SubscriptionID: 200}},
		{"large identifier", []string{"a"}, SubscribeOptions{SubscriptionID: 268435455}},
		{"user properties", []string{"a/#"}, SubscribeOptions{SubscriptionID: 5, UserProperties: []UserProperty{{"k", "v"}, {"key", strings.Repeat("v", 200)}}}},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			var subs, unsubs []subOp
			sp := &paho.Subscribe{}
			up := &paho.Unsubscribe{}
			for _, f := range tc.filters {
				subs = append(subs, subOp{filter: f, sub: sub, opts: tc.opts})
				unsubs = append(unsubs, subOp{filter: f})
				sp.Subscriptions = append(sp.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: byte(tc.opts.QoS), NoLocal: tc.opts.NoLocal})
				up.Topics = append(up.Topics, f)
			}
			if o := tc.opts; o.SubscriptionID != 0 || len(o.UserProperties) > 0 {
				sp.Properties = &paho.SubscribeProperties{User: pahoUser(o.UserProperties)}
				if o.SubscriptionID != 0 {
					id := o.SubscriptionID
					sp.Properties.SubscriptionIdentifier = &id
				}
			}
			var b bytes.Buffer
			if _, err := sp.Packet().WriteTo(&b); err != nil {
				t.Fatal(err)
			}
			if got := requestSize(subs); got != b.Len() {
				t.Errorf("SUBSCRIBE: reckoned %d bytes, paho writes %d", got, b.Len())
			}
			b.Reset()
			if _, err := up.Packet().WriteTo(&b); err != nil {
				t.Fatal(err)
			}
			if got := requestSize(unsubs); got != b.Len() {
				t.Errorf("UNSUBSCRIBE: reckoned %d bytes, paho writes %d", got, b.Len())
			}
		})
	}
}

// TestBatchFitsLimit: batch puts as many operations in a packet as fit
// the limit, never fewer than one, and keeps kinds apart.
func TestBatchFitsLimit(t *testing.T) {
	t.Parallel()
	sub := &subscription{}
	var ops []subOp
	for range 10 {
		ops = append(ops, subOp{filter: strings.Repeat("f", 20), sub: sub}) // 23 bytes each
	}
	for _, tc := range []struct {
		max, want int
	}{
		{0, 10},
		{1 + 1 + 2 + 1 + 23*3, 3},
		{1 + 1 + 2 + 1 + 23*3 - 1, 2},
		{10, 1},
	} {
		if got := batch(ops, tc.max); got != tc.want {
			t.Errorf("batch with a %d-byte limit = %d, want %d", tc.max, got, tc.want)
		}
	}
	mixed := []subOp{ops[0], {filter: "u"}, ops[1]}
	if got := batch(mixed, 0); got != 1 {
		t.Errorf("a subscribe and an unsubscribe batched together: %d", got)
	}
	alone := []subOp{ops[0], {filter: "g", sub: sub, alone: true}, ops[1]}
	if got := batch(alone, 0); got != 1 {
		t.Errorf("an operation to send alone batched with others: %d", got)
	}
}
