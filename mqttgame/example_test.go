//go:build !js

package mqttgame_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// runTicks stands in for a game loop: it calls Update 60 times a second
// until done reports true, for at most a minute (seconds are plenty on an
// idle machine; a busy one may take far longer).
func runTicks(c *mqttgame.Client, done func() bool) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second / 60) {
		c.Update()
		if done() {
			return
		}
	}
}

// A chat line sent and received by one client, through an embedded broker.
func Example() {
	b, err := broker.Start(nil) // a broker in this process, on a free port
	if err != nil {
		panic(err)
	}
	defer b.Close()

	c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Connect()
	c.SubscribeWith("chat/lobby", mqttgame.SubscribeOptions{QoS: mqttgame.AtLeastOnce, DataLoss: mqttgame.FIFO})
	c.PublishString("chat/lobby", "hello, world", mqttgame.AtLeastOnce, false)

	// In a game, this is the body of Update.
	runTicks(c, func() bool {
		if c.OnMessage("chat/lobby") {
			fmt.Println(c.LastMessage("chat/lobby"))
			return true
		}
		return false
	})
	// Output: hello, world
}

// Positions want the newest value only: with LatestWins, a tick shows the
// last of the messages that arrived since the tick before.
func ExampleClient_LastMessage() {
	b, _ := broker.Start(nil)
	defer b.Close()
	c, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}, DataLoss: mqttgame.LatestWins})
	defer c.Close()
	c.Connect()
	c.Subscribe("players/bob/pos", mqttgame.AtLeastOnce)
	for _, pos := range []string{"1,1", "2,2", "3,3"} {
		c.PublishString("players/bob/pos", pos, mqttgame.AtLeastOnce, false)
	}
	runTicks(c, func() bool { return c.LastMessage("players/bob/pos") == "3,3" })
	fmt.Println("bob is at", c.LastMessage("players/bob/pos"))
	// Output: bob is at 3,3
}

// Messages that arrive through a wildcard are kept under their own topic
// and can be read together by filter.
func ExampleClient_AppendMessages() {
	b, _ := broker.Start(nil)
	defer b.Close()
	c, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}})
	defer c.Close()
	c.Connect()
	c.Subscribe("players/+/score", mqttgame.AtLeastOnce)
	c.PublishString("players/ann/score", "12", mqttgame.AtLeastOnce, false)
	c.PublishString("players/bob/score", "7", mqttgame.AtLeastOnce, false)

	var msgs []mqttgame.Message // reused from tick to tick
	seen := 0
	runTicks(c, func() bool {
		msgs = c.AppendMessages(msgs[:0], "players/+/score")
		for _, m := range msgs {
			fmt.Println(m.Topic, m.Text())
			seen++
		}
		return seen == 2
	})
	// Output:
	// players/ann/score 12
	// players/bob/score 7
}

// The presence pattern: the will marks the player offline if the game
// crashes; DisconnectWithWill does the same when the player quits, so the
// others see both alike.
func ExampleClient_DisconnectWithWill() {
	b, _ := broker.Start(nil)
	defer b.Close()
	lobby, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}})
	defer lobby.Close()
	lobby.Connect()
	lobby.Subscribe("presence/+", mqttgame.AtLeastOnce)
	runTicks(lobby, func() bool { return lobby.IsSubscribed("presence/+") })

	player, _ := mqttgame.New(&mqttgame.Options{
		Brokers: []string{b.URL()},
		Will:    &mqttgame.Will{Topic: "presence/ann", Payload: []byte("offline"), QoS: 1, Retain: true},
	})
	defer player.Close()
	player.Connect()
	player.PublishString("presence/ann", "online", mqttgame.AtLeastOnce, true)
	runTicks(lobby, func() bool { return lobby.LastMessage("presence/ann") == "online" })
	fmt.Println("ann is", lobby.LastMessage("presence/ann"))

	player.DisconnectWithWill()
	runTicks(lobby, func() bool { return lobby.LastMessage("presence/ann") == "offline" })
	fmt.Println("ann is", lobby.LastMessage("presence/ann"))
	// Output:
	// ann is online
	// ann is offline
}

// Errors are typed: errors.Is tells what went wrong.
func ExampleClient_Err() {
	c, _ := mqttgame.New(&mqttgame.Options{
		Brokers:        []string{"ws://127.0.0.1:1/mqtt"}, // nothing listens there
		ConnectTimeout: time.Second,
	})
	defer c.Close()
	c.Connect()
	runTicks(c, c.ConnectFailed)
	switch err := c.Err(); {
	case errors.Is(err, mqttgame.ReasonBadUsernameOrPassword):
		fmt.Println("wrong password")
	case errors.Is(err, mqttgame.ErrUnreachable):
		fmt.Println("no broker there")
	case errors.Is(err, mqttgame.ErrTimeout):
		fmt.Println("the broker is too slow")
	}
	// Output: no broker there
}

// A bad argument is refused at once, with the reason.
func ExampleClient_Publish() {
	c, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{"ws://localhost:8080/mqtt"}})
	defer c.Close()
	nick := "ann/#1"
	_, err := c.PublishString("chat/"+nick, "hi", mqttgame.AtLeastOnce, false)
	fmt.Println(err)
	fmt.Println(errors.Is(err, mqttgame.ErrInvalidTopic))
	// Output:
	// mqttgame: invalid topic "chat/ann/#1": contains the wildcard '#'; wildcards belong in subscription filters
	// true
}

// A handle reads a topic with no lookup, for what the game reads every tick.
func ExampleClient_Topic() {
	b, _ := broker.Start(nil)
	defer b.Close()
	c, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}})
	defer c.Close()
	score, _ := c.Topic("game/score")
	c.Connect()
	c.Subscribe("game/score", mqttgame.AtLeastOnce)
	c.PublishString("game/score", "42", mqttgame.AtLeastOnce, false)
	runTicks(c, score.OnMessage)
	fmt.Println("score:", score.LastMessage())
	// Output: score: 42
}

// A program with no frame loop, such as a bot or a command-line tool,
// waits for what arrives instead of polling.
func ExampleClient_Wait() {
	b, _ := broker.Start(nil)
	defer b.Close()
	c, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}})
	defer c.Close()
	c.Connect()
	c.Subscribe("bot/commands", mqttgame.AtLeastOnce)
	c.PublishString("bot/commands", "jump", mqttgame.AtLeastOnce, false)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for c.Wait(ctx) == nil {
		c.Update()
		if c.OnMessage("bot/commands") {
			fmt.Println("command:", c.LastMessage("bot/commands"))
			break
		}
	}
	// Output: command: jump
}
