// Package mqttgame is an MQTT v5 client made for game loops: chat, high
// scores, live sensor data, remote control and player presence over any
// standard MQTT broker, natively and in the browser with the same code.
//
// A game creates a Client with New, calls Connect when the player is
// ready, and calls Update once at the start of every tick. Everything
// else is polled, never waited for:
//
//	func (g *Game) Update() error {
//		g.mq.Update()
//		if g.mq.JustConnected() {
//			g.mq.Subscribe("chat/lobby", mqttgame.AtLeastOnce)
//		}
//		if g.mq.OnMessage("chat/lobby") {
//			g.lines = append(g.lines, g.mq.LastMessage("chat/lobby"))
//		}
//		return nil
//	}
//
// # Ticks
//
// Messages arrive on network goroutines into a staging area. Each Update
// makes at most one message per topic visible, and nothing the game reads
// changes until the next Update: the state of a tick is stable while the
// game's Update and Draw use it. Ebitengine may call a game's Update more
// than once per drawn frame; each call is a tick.
//
// When a topic gets messages faster than ticks show them, its data-loss
// mode decides what happens to the others: LatestWins keeps only the
// newest (right for positions), FIFO queues them and shows them one per
// tick in order (right for chat). Options.DataLoss sets the default and
// SubscribeOptions.DataLoss overrides it per subscription. Every buffer
// is bounded (Options.TopicQueueSize, MaxTopics, MaxBufferedBytes), so a
// game that stops calling Update, such as a hidden browser tab, does not
// grow without limit; what is dropped is counted in Stats.
// MaxBufferedBytes counts every byte held, topics and properties too. A
// QoS 1 or 2 message is never dropped for any of these limits: when there
// is no room for it, its acknowledgement is withheld and the broker's flow
// control waits, and the QoS 1 and 2 messages after it wait behind it, so
// none is shown before one that arrived earlier.
//
// # Connections
//
// Connect returns at once; the connection comes up in the background and
// is kept up: after a loss the client reconnects by itself, waiting longer
// after each failure, and restores every subscription, whether or not the
// broker kept the session. Publish queues while disconnected. Disconnect
// ends gracefully without the will; DisconnectWithWill asks the broker to
// publish it (MQTT v5 reason 0x04), so a player who quits and one who
// crashes look the same to the others.
//
// Failures show as events (AppendEvents) and as the current error (Err),
// typed so that errors.Is(err, mqttgame.ReasonNotAuthorized) or
// errors.Is(err, mqttgame.ErrTimeout) tells what happened, and a
// *BrokerError carries the broker's reason code and reason string.
//
// # Wasm
//
// Built with GOOS=js GOARCH=wasm, the same code runs in the browser, over
// the browser's WebSocket. What differs:
//
//   - Only ws:// and wss:// broker URLs work; New refuses mqtt://, tcp://
//     and mqtts://.
//   - Options.TLSConfig is ignored: the browser checks certificates.
//   - KeepAlive defaults to 60s instead of 30s, as background tabs
//     throttle timers.
//   - A page served over https:// may only open wss:// connections.
//   - Credentials.Header is ignored: the browser's WebSocket cannot send
//     headers. Put a token in Credentials.Query instead.
package mqttgame
