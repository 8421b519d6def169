package capture

import (
	"encoding/binary"
	"hash/maphash"
	"time"

	"github.com/sipcap/appliance/decode"
)

// DedupConfig configures the suppression of identical messages seen more than
// once within a window, as happens when several capture points (or a mirror
// port and a HEP agent) see the same packet.
type DedupConfig struct {
	// Window is how long a message is remembered; 0 turns dedup off.
	Window time.Duration
	// ByCaptureID makes the HEP capture id part of the key, so that the same
	// message from two agents is kept once per agent.
	ByCaptureID bool
	// Slots is the size of the table (a power of two is used); 0 means 65536.
	// Memory is 16 bytes a slot, fixed at start.
	Slots int
}

// dedupProbe is how many slots a key may occupy; a full neighbourhood evicts
// its oldest entry, so memory stays fixed and an eviction at worst stores a
// duplicate, never loses a message.
const dedupProbe = 8

// Dedup remembers hashes of recent messages. It is owned by one worker. The
// key is the whole SIP message (and the capture id when configured): two
// retransmissions differ in nothing, so they are suppressed; a message seen on
// two capture points is suppressed too. Time is the messages' own capture time,
// so replays of a file behave as the live capture did.
type Dedup struct {
	window int64 // microseconds
	byCID  bool
	mask   uint64
	hash   []uint64
	ts     []int64
	seed   maphash.Seed
	h      maphash.Hash
	// Dropped counts suppressed duplicates; Evicted counts entries replaced
	// before their window ended.
	Dropped, Evicted uint64
}

// NewDedup returns a Dedup, or nil when cfg turns it off.
func NewDedup(cfg DedupConfig) *Dedup {
	if cfg.Window <= 0 {
		return nil
	}
	n := cfg.Slots
	if n <= 0 {
		n = 1 << 16
	}
	size := 1
	for size < n {
		size <<= 1
	}
	d := &Dedup{
		window: cfg.Window.Microseconds(),
		byCID:  cfg.ByCaptureID,
		mask:   uint64(size - 1),
		hash:   make([]uint64, size),
		ts:     make([]int64, size),
		seed:   maphash.MakeSeed(),
	}
	d.h.SetSeed(d.seed)
	return d
}

// Seen reports whether an identical message was seen within the window, and
// remembers this one. A nil Dedup sees nothing.
func (d *Dedup) Seen(m *decode.Meta, s *decode.SIP) bool {
	if d == nil {
		return false
	}
	d.h.Reset()
	d.h.Write(s.Msg)
	if d.byCID {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], m.CaptureID)
		d.h.Write(b[:])
	}
	key := d.h.Sum64() | 1 // 0 marks an empty slot
	now := m.TS
	i := key & d.mask
	victim, oldest := i, int64(1<<63-1)
	for p := uint64(0); p < dedupProbe; p++ {
		j := (i + p) & d.mask
		switch {
		case d.hash[j] == key:
			if age := now - d.ts[j]; age >= 0 && age <= d.window {
				d.Dropped++
				return true
			}
			d.ts[j] = now
			return false
		case d.hash[j] == 0:
			d.hash[j], d.ts[j] = key, now
			return false
		case d.ts[j] < oldest:
			victim, oldest = j, d.ts[j]
		}
	}
	if now-oldest <= d.window {
		d.Evicted++
	}
	d.hash[victim], d.ts[victim] = key, now
	return false
}
