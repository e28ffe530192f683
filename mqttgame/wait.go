package mqttgame

import "context"

// arrival is a one-slot signal: the network goroutines set it when
// something arrives for the next tick, and Wait takes it. A nil arrival
// is never set.
type arrival chan struct{}

func newArrival() arrival { return make(arrival, 1) }

// set marks that something arrived. It never blocks.
func (a arrival) set() {
	select {
	case a <- struct{}{}:
	default:
	}
}

// Wait blocks until something has arrived for Update to show — a message,
// or an event such as a connection change or a publish's outcome — or
// until ctx ends, and then returns ctx's error. What arrived since the
// last Wait returned counts, so Wait may return at once, and the next
// Update may then show nothing new (an Update in between showed it).
//
// A game does not need Wait: its frames call Update anyway. Wait is for
// programs that have no frame loop (a bot, a command-line tool, a
// server, a test), so that they need not poll. It may be called from any
// goroutine; Update still belongs to the one that reads the tick.
func (c *Client) Wait(ctx context.Context) error {
	select {
	case <-c.arrived:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
