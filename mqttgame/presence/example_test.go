package presence_test

import (
	"fmt"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
	"github.com/mqttgame/mqttgame/mqttgame/presence"
	"github.com/mqttgame/mqttgame/mqttgame/segment"
)

// join makes a client and its roster for a player, as a game does once
// the player has picked a name.
func join(url, nick string) (*mqttgame.Client, *presence.Roster) {
	cfg := presence.Config{Topic: "game/lobby/presence", ID: segment.Escape(nick), Name: nick, Color: "#e06c75"}
	opts := mqttgame.Options{Brokers: []string{url}}
	if err := presence.Prepare(&opts, cfg); err != nil {
		panic(err)
	}
	mq, err := mqttgame.New(&opts)
	if err != nil {
		panic(err)
	}
	roster, err := presence.New(mq, cfg)
	if err != nil {
		panic(err)
	}
	mq.Connect()
	return mq, roster
}

// Two players meet in a lobby; one quits and the other sees it.
func Example() {
	b, _ := broker.Start(nil)
	defer b.Close()
	annClient, ann := join(b.URL(), "ann")
	defer annClient.Close()
	bobClient, bob := join(b.URL(), "bob")
	defer bobClient.Close()

	var events []presence.Event
	// In a game, this is the body of Update, one tick at a time.
	for tick := 0; tick < 60*60; tick++ { // a minute at most
		annClient.Update()
		ann.Update()
		bobClient.Update()
		bob.Update()
		for _, e := range ann.AppendEvents(events[:0]) {
			if e.Player.Name == "bob" {
				fmt.Println("ann sees bob:", e.Kind)
				if e.Kind == presence.Joined {
					bob.Leave()
				} else {
					return
				}
			}
		}
		time.Sleep(time.Second / 60)
	}
	// Output:
	// ann sees bob: joined
	// ann sees bob: left
}

// The will is a retained offline record, published by the broker a few
// seconds after a lost connection.
func ExamplePrepare() {
	opts := mqttgame.Options{Brokers: []string{"ws://localhost:8080/mqtt"}}
	presence.Prepare(&opts, presence.Config{Topic: "game/lobby/presence", ID: segment.Escape("Zoë"), Name: "Zoë"})
	fmt.Println(opts.Will.Topic, opts.Will.Retain, opts.Will.Delay)
	fmt.Println(string(opts.Will.Payload))
	// Output:
	// game/lobby/presence/Zo_C3_AB true 5s
	// {"name":"Zoë","online":false}
}
