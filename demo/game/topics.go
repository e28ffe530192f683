package game

import (
	"github.com/mqttgame/mqttgame/mqttgame/segment"
)

// TopicRoot is the first level of every topic of the demo.
const TopicRoot = "mqttgame-demo"

// ProtocolVersion is the version of the room protocol (docs/protocol.md)
// this game speaks: in every chat line and in the host's answer to /join.
// A change old readers can ignore (a new JSON field) keeps it; a change
// they cannot read raises it.
const ProtocolVersion = 1

// Topics are where a room's messages go. Every level that comes from what
// a player typed (the room, the player's name) is escaped with
// segment.Escape, so a '/', '+' or '#' in it never changes which topic is
// used: typed text is only ever payload or one escaped level.
type Topics struct {
	Room     string // TopicRoot/room
	Presence string // Room/presence: a retained record per player
	Chat     string // Room/chat: a topic per player below it, Room/chat/<PlayerID>
	Cursors  string // Room/cursor: a topic per player, QoS 0
	Scores   string // Room/scores: a retained best per player
}

// TopicsOf returns the topics of a room.
func TopicsOf(room string) Topics {
	r := TopicRoot + "/" + segment.Escape(room)
	return Topics{
		Room:     r,
		Presence: r + "/presence",
		Chat:     r + "/chat",
		Cursors:  r + "/cursor",
		Scores:   r + "/scores",
	}
}

// PersistFilter names the retained messages a hosting broker keeps on
// disk: the high scores of every room. Presence records are not kept, as
// they mean nothing after a restart.
const PersistFilter = TopicRoot + "/+/scores/+"

// PlayerID is the topic level of a player: their name, escaped.
func PlayerID(name string) string { return segment.Escape(name) }

// NameOf is the name of the player whose ID is id. Who a chat line, a
// score or a presence record is from is the level of its topic, which a
// hosting broker lets only that player write: not a name written in the
// payload, which anyone could write.
func NameOf(id string) string {
	name, err := segment.Unescape(id)
	if err != nil {
		return "?" + clean(id, MaxNameLength-1)
	}
	return clean(name, MaxNameLength)
}

// ClientID is the MQTT client ID of a player in a room. It is the same
// each time the player comes back, so a reload within the will delay
// resumes the session and the others never see the player leave; a
// second window with the same name takes the session over.
func ClientID(room, name string) string {
	// ':' never appears in an escaped level, so no two rooms and names
	// give the same ID.
	return TopicRoot + ":" + segment.Escape(room) + ":" + PlayerID(name)
}

// SandboxRoot is the level under which a hosting broker lets anyone,
// logged in or not, read and write.
const SandboxRoot = "sandbox"

// AccessRule grants read (subscribe), write (publish) or both on the
// topics a filter matches, where %u stands for the client's user name. It
// is the demo's own type, not the broker's, so that the browser build,
// which never hosts, does not carry the broker.
type AccessRule struct {
	Filter      string
	Read, Write bool
}

// AccessRules are the rules of a hosting broker, in the manner of
// mosquitto's ACL patterns, where %u is the client's user name: a player
// (whose user name is their player ID) writes only their own presence,
// score, pointer and chat lines, anyone may mark a leaderboard snapshot,
// and everyone reads everything (mosquitto_sub -t '#' included). Topics
// under SandboxRoot are open to anyone, for trying things out (the README's
// quick start).
func AccessRules() []AccessRule {
	return []AccessRule{
		{Filter: SandboxRoot + "/#", Read: true, Write: true},
		{Filter: TopicRoot + "/+/presence/%u", Write: true},
		{Filter: TopicRoot + "/+/scores/%u", Write: true},
		{Filter: TopicRoot + "/+/scores/sync/+", Write: true},
		{Filter: TopicRoot + "/+/cursor/%u", Write: true},
		{Filter: TopicRoot + "/+/chat/%u", Write: true},
		{Filter: "#", Read: true},
	}
}
