// Package jsonmsg builds the JSON records the helper packages publish:
// presence's player records and the leaderboard's scores share one shape
// of message, so they share its construction.
package jsonmsg

import (
	"encoding/json"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// New returns an at-least-once message on topic whose payload is v as
// JSON, marked as UTF-8 text of content type application/json.
func New(topic string, v any, retain bool) (*mqttgame.Message, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &mqttgame.Message{
		Topic:       topic,
		Payload:     payload,
		QoS:         mqttgame.AtLeastOnce,
		Retain:      retain,
		ContentType: "application/json",
		PayloadUTF8: true,
	}, nil
}
