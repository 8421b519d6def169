package decode

import (
	"fmt"
	"time"
)

// Defaults for DefragConfig.
const (
	DefaultDefragDatagrams = 256
	DefaultDefragBytes     = 4 << 20
	DefaultDefragTimeout   = 30 * time.Second // Linux ipfrag_time
	maxFragRanges          = 64               // distinct received ranges per datagram
	maxDatagram            = 65535            // largest reassembled payload
)

// DefragConfig bounds IPv4/IPv6 reassembly. Zero fields mean defaults.
type DefragConfig struct {
	// MaxDatagrams is the number of datagrams reassembled at once; default 256.
	// When all slots are busy the oldest datagram is evicted.
	MaxDatagrams int
	// MaxBytes caps the fragment bytes held across all datagrams; default
	// 4 MiB. Oldest datagrams are evicted to make room. The buffers themselves
	// are retained per slot for reuse (at most MaxDatagrams × 64 KiB).
	MaxBytes int
	// Timeout evicts a datagram whose first fragment is older; default 30 s.
	Timeout time.Duration
}

// Validate checks c.
func (c *DefragConfig) Validate() error {
	switch {
	case c.MaxDatagrams < 0 || c.MaxDatagrams > 1<<16:
		return fmt.Errorf("defrag datagrams %d must be between 0 and 65536", c.MaxDatagrams)
	case c.MaxBytes < 0:
		return fmt.Errorf("defrag bytes %d must not be negative", c.MaxBytes)
	case c.MaxBytes != 0 && c.MaxBytes < maxDatagram:
		return fmt.Errorf("defrag bytes %d must be at least %d", c.MaxBytes, maxDatagram)
	case c.Timeout < 0:
		return fmt.Errorf("defrag timeout %s must not be negative", c.Timeout)
	}
	return nil
}

// Reasons a datagram under reassembly is dropped.
const (
	EvictTimeout      = iota // not completed within Timeout
	EvictFull                // all MaxDatagrams slots busy: the oldest made room
	EvictBytes               // MaxBytes reached: the oldest made room
	EvictTooLarge            // a fragment ends beyond 65535 bytes
	EvictInconsistent        // fragments disagree on the total length
	EvictTooManyFrags        // more than 64 disjoint pieces
	NumEvictReasons
)

// EvictReasonName names an eviction reason for metric labels.
func EvictReasonName(r int) string {
	names := [...]string{"timeout", "full", "bytes", "too_large", "inconsistent", "too_many_fragments"}
	if r >= 0 && r < len(names) {
		return names[r]
	}
	return "unknown"
}

// DefragStats counts reassembly outcomes.
type DefragStats struct {
	Fragments   uint64 // fragments received
	Reassembled uint64 // datagrams completed
	Overlaps    uint64 // fragments overlapping data already held (later bytes win)
	Malformed   uint64 // fragments rejected on their own (bad length or offset)
	Evicted     [NumEvictReasons]uint64
	InFlight    int // datagrams being reassembled now
	HeldBytes   int // fragment bytes held now
}

// fragKey identifies a datagram: addresses (IPv4 in the first 4 bytes), the
// identification field and, for IPv4, the protocol.
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	v6       bool
}

type fragRange struct{ lo, hi int }

type fragSlot struct {
	key    fragKey
	used   bool
	first  int64 // capture time of the first fragment
	total  int   // payload length, -1 until the last fragment arrives
	held   int   // bytes covered by ranges
	proto  uint8 // upper-layer protocol from the fragment at offset 0
	haveP  bool
	nr     int
	ranges [maxFragRanges]fragRange
	buf    []byte // reassembly area, payload offset 0 at buf[0]; kept for reuse
}

// Defrag reassembles IPv4 and IPv6 datagrams from their fragments into
// per-slot buffers that are reused: the reassembled datagram is the only
// copy. It keeps at most MaxDatagrams datagrams and MaxBytes fragment bytes
// and counts every eviction by reason. One Defrag per worker: with
// PACKET_FANOUT_FLAG_DEFRAG (or a hash on addresses only) all fragments of a
// datagram reach the same worker. Not safe for concurrent use.
type Defrag struct {
	slots    []fragSlot
	maxBytes int
	timeout  int64 // microseconds
	held     int
	inFlight int
	// lastProto is the upper-layer protocol of the datagram add just completed.
	lastProto uint8
	stats     DefragStats
}

// NewDefrag returns a Defrag for cfg (nil = defaults).
func NewDefrag(cfg *DefragConfig) (*Defrag, error) {
	var c DefragConfig
	if cfg != nil {
		c = *cfg
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("configure defrag: %w", err)
	}
	d := &Defrag{}
	d.init(&c)
	return d, nil
}

func (d *Defrag) init(c *DefragConfig) {
	n := c.MaxDatagrams
	if n == 0 {
		n = DefaultDefragDatagrams
	}
	d.slots = make([]fragSlot, n)
	d.maxBytes = c.MaxBytes
	if d.maxBytes == 0 {
		d.maxBytes = DefaultDefragBytes
	}
	d.timeout = durationMicros(c.Timeout, DefaultDefragTimeout)
}

// Stats returns the counters.
func (d *Defrag) Stats() DefragStats { return d.stats }

// AddIPv4 adds one fragment of ip (already decoded, ip.IsFragment true) at
// capture time now. When the fragment completes its datagram it returns the
// reassembled upper-layer payload and true; the slice aliases d's buffer and
// is valid until the next call on d.
func (d *Defrag) AddIPv4(ip *IPv4, now int64) ([]byte, bool, error) {
	var k fragKey
	copy(k.src[:4], ip.Src[:])
	copy(k.dst[:4], ip.Dst[:])
	k.id, k.proto = uint32(ip.ID), ip.Protocol
	return d.add(&k, int(ip.FragOff)*8, ip.MoreFragments(), ip.Payload, ip.Protocol, now)
}

// AddIPv6 is AddIPv4 for an IPv6 fragment; it also returns the Next Header
// of the reassembled data (the fragment header's).
func (d *Defrag) AddIPv6(ip *IPv6, now int64) ([]byte, uint8, bool, error) {
	var k fragKey
	k.src, k.dst, k.id, k.v6 = ip.Src, ip.Dst, ip.FragID, true
	b, ok, err := d.add(&k, int(ip.FragOff)*8, ip.MoreFrags, ip.Payload, ip.Protocol, now)
	return b, d.lastProto, ok, err
}

func (d *Defrag) add(k *fragKey, off int, more bool, data []byte, proto uint8, now int64) ([]byte, bool, error) {
	d.stats.Fragments++
	end := off + len(data)
	if (more && (len(data) == 0 || len(data)%8 != 0)) || (!more && off == 0) {
		d.stats.Malformed++
		return nil, false, errFragMalformed
	}
	s := d.find(k)
	if end > maxDatagram {
		if s != nil {
			d.evict(s, EvictTooLarge)
		} else {
			d.stats.Evicted[EvictTooLarge]++
		}
		return nil, false, errFragMalformed
	}
	if s == nil {
		s = d.alloc(k, now)
	}
	if !more {
		if (s.total >= 0 && s.total != end) || (s.nr > 0 && s.ranges[s.nr-1].hi > end) {
			d.evict(s, EvictInconsistent)
			return nil, false, errFragMalformed
		}
		s.total = end
	} else if s.total >= 0 && end > s.total {
		d.evict(s, EvictInconsistent)
		return nil, false, errFragMalformed
	}
	if off == 0 {
		s.proto, s.haveP = proto, true
	}
	// Make room under the byte cap, oldest first, never this slot.
	for d.held+len(data) > d.maxBytes {
		o := d.oldest(s)
		if o == nil {
			break
		}
		d.evict(o, EvictBytes)
	}
	if cap(s.buf) < end {
		nb := make([]byte, end, roundUpFrag(end))
		copy(nb, s.buf)
		s.buf = nb
	} else if len(s.buf) < end {
		s.buf = s.buf[:end]
	}
	copy(s.buf[off:end], data)
	if !s.insert(off, end, &d.stats) {
		d.evict(s, EvictTooManyFrags)
		return nil, false, errFragMalformed
	}
	d.held -= s.held
	s.held = 0
	for i := 0; i < s.nr; i++ {
		s.held += s.ranges[i].hi - s.ranges[i].lo
	}
	d.held += s.held
	d.stats.HeldBytes = d.held
	if s.total >= 0 && s.haveP && s.nr == 1 && s.ranges[0].lo == 0 && s.ranges[0].hi == s.total {
		d.lastProto = s.proto
		out := s.buf[:s.total]
		d.release(s)
		d.stats.Reassembled++
		return out, true, nil
	}
	return nil, false, nil
}

func roundUpFrag(n int) int {
	c := (n + 2047) &^ 2047
	if c > maxDatagram {
		c = maxDatagram
	}
	if c < n {
		c = n
	}
	return c
}

// insert adds [lo,hi) to the sorted, merged range list. It reports false
// when the list is full.
func (s *fragSlot) insert(lo, hi int, st *DefragStats) bool {
	if hi == lo {
		return true
	}
	i := 0
	for i < s.nr && s.ranges[i].hi < lo {
		i++
	}
	// ranges[i:] end at or after lo; merge every one that touches [lo,hi).
	j := i
	overlap := false
	for j < s.nr && s.ranges[j].lo <= hi {
		if s.ranges[j].lo < hi && s.ranges[j].hi > lo {
			overlap = true
		}
		if s.ranges[j].lo < lo {
			lo = s.ranges[j].lo
		}
		if s.ranges[j].hi > hi {
			hi = s.ranges[j].hi
		}
		j++
	}
	if overlap {
		st.Overlaps++
	}
	if j == i { // no merge: insert at i
		if s.nr == maxFragRanges {
			return false
		}
		copy(s.ranges[i+1:s.nr+1], s.ranges[i:s.nr])
		s.nr++
	} else if j > i+1 { // several merged into one
		copy(s.ranges[i+1:], s.ranges[j:s.nr])
		s.nr -= j - i - 1
	}
	s.ranges[i] = fragRange{lo, hi}
	return true
}

func (d *Defrag) find(k *fragKey) *fragSlot {
	if d.inFlight == 0 {
		return nil
	}
	for i := range d.slots {
		if s := &d.slots[i]; s.used && s.key == *k {
			return s
		}
	}
	return nil
}

func (d *Defrag) alloc(k *fragKey, now int64) *fragSlot {
	var s *fragSlot
	for i := range d.slots {
		if !d.slots[i].used {
			s = &d.slots[i]
			break
		}
	}
	if s == nil {
		s = d.oldest(nil)
		d.evict(s, EvictFull)
	}
	s.key, s.used, s.first, s.total, s.held, s.nr, s.haveP = *k, true, now, -1, 0, 0, false
	s.buf = s.buf[:0]
	d.inFlight++
	d.stats.InFlight = d.inFlight
	return s
}

func (d *Defrag) oldest(except *fragSlot) *fragSlot {
	var o *fragSlot
	for i := range d.slots {
		s := &d.slots[i]
		if s.used && s != except && (o == nil || s.first < o.first) {
			o = s
		}
	}
	return o
}

func (d *Defrag) release(s *fragSlot) {
	d.held -= s.held
	s.held, s.used = 0, false
	d.inFlight--
	d.stats.InFlight, d.stats.HeldBytes = d.inFlight, d.held
}

func (d *Defrag) evict(s *fragSlot, reason int) {
	d.stats.Evicted[reason]++
	d.release(s)
}

// Expire evicts datagrams whose first fragment is older than the timeout at
// capture time now (microseconds).
func (d *Defrag) Expire(now int64) {
	if d.inFlight == 0 {
		return
	}
	for i := range d.slots {
		if s := &d.slots[i]; s.used && now-s.first > d.timeout {
			d.evict(s, EvictTimeout)
		}
	}
}
