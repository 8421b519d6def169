package decode

import (
	"bytes"
	"encoding/binary"
)

// DefaultHEPStreamMaxMessage is the default largest message a HEPStream frames:
// the largest value of the 16-bit HEP v3 length field.
const DefaultHEPStreamMaxMessage = 65535

// hepStreamHeadroom is added to MaxMessage for the buffer capacity.
const hepStreamHeadroom = 4 << 10

// HEPStreamStats counts what a HEPStream has seen since its last Reset.
// Counters only grow; callers export deltas.
type HEPStreamStats struct {
	// Messages and Bytes count the messages emitted and their total size.
	Messages, Bytes uint64
	// GarbageBytes counts the bytes skipped because they did not belong to a
	// well-framed message.
	GarbageBytes uint64
	// Resyncs counts how often the splitter lost framing and searched for the
	// next magic: once per run of garbage between two good messages.
	Resyncs uint64
	// BadLength counts framing candidates rejected for their length: a total
	// length below 6 or above MaxMessage, or chunks that do not tile it.
	BadLength uint64
}

// HEPStream splits a byte stream (HEP v3 over TCP or TLS) into HEP v3
// messages framed by the length field after the "HEP3" (or "EEP3") magic.
//
// Feed it the bytes of each read as they arrive; it handles messages split
// across reads and several messages in one read. Bytes that do not frame as
// a message (no magic, a length below 6 or above MaxMessage, chunks that do
// not tile the length) are skipped up to the next magic and counted in Stats;
// the splitter never waits for more than MaxMessage bytes, so garbage cannot
// hang it. Its buffer is bounded to MaxMessage plus 4 KiB, allocated on the
// first partial message and reused; the steady state does not allocate.
//
// A HEPStream serves one connection and one goroutine. The zero value is
// ready to use.
type HEPStream struct {
	// MaxMessage is the largest message accepted; larger length fields are
	// treated as garbage. 0 means DefaultHEPStreamMaxMessage. Set it before
	// the first Feed.
	MaxMessage int
	// Stats are the counters since the last Reset.
	Stats HEPStreamStats

	buf      []byte // partial message carried between Feeds; cap fixed once allocated
	skipping bool   // inside a garbage run (for counting Resyncs)
}

// Reset drops any buffered bytes and zeroes Stats, for a new connection.
// MaxMessage and the buffer's memory are kept.
func (s *HEPStream) Reset() {
	s.buf = s.buf[:0]
	s.skipping = false
	s.Stats = HEPStreamStats{}
}

// Buffered returns the number of bytes held back waiting for the rest of a
// message.
func (s *HEPStream) Buffered() int { return len(s.buf) }

func (s *HEPStream) maxMessage() int {
	if s.MaxMessage > 0 && s.MaxMessage < DefaultHEPStreamMaxMessage {
		if s.MaxMessage < 6 {
			return 6
		}
		return s.MaxMessage
	}
	return DefaultHEPStreamMaxMessage
}

// Feed consumes p and calls emit once for each complete message, in stream
// order. msg aliases p or the stream's own buffer and is valid only until
// emit returns: copy or fully process it inside emit. Feed keeps no
// reference to p after it returns. emit must not call Feed.
func (s *HEPStream) Feed(p []byte, emit func(msg []byte)) {
	for len(p) > 0 {
		if len(s.buf) == 0 {
			// Nothing pending: frame straight out of p, keep only the tail.
			n := s.scan(p, emit)
			p = p[n:]
			if len(p) > 0 {
				s.alloc()
				s.buf = append(s.buf[:0], p...)
			}
			return
		}
		// Complete the pending message with as few bytes as it needs, then
		// go back to framing straight out of p.
		k := s.need()
		if k > len(p) {
			k = len(p)
		}
		if free := cap(s.buf) - len(s.buf); k > free {
			k = free
			if k == 0 {
				// Only if MaxMessage grew after the buffer was sized: drop
				// the pending bytes rather than stall.
				if !s.skipping {
					s.skipping = true
					s.Stats.Resyncs++
				}
				s.Stats.GarbageBytes += uint64(len(s.buf))
				s.buf = s.buf[:0]
				continue
			}
		}
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		n := s.scan(s.buf, emit)
		s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	}
}

// alloc allocates the buffer once.
func (s *HEPStream) alloc() {
	if s.buf == nil {
		s.buf = make([]byte, 0, s.maxMessage()+hepStreamHeadroom)
	}
}

// need returns how many more bytes the pending buffer wants before scan can
// make progress. scan leaves only a magic prefix or a well-framed partial
// message in the buffer.
func (s *HEPStream) need() int {
	b := s.buf
	if len(b) < 6 {
		return 6 - len(b)
	}
	if l := int(binary.BigEndian.Uint16(b[4:6])); l > len(b) {
		return l - len(b)
	}
	return 1
}

// scan emits the complete messages at the start of w, skipping garbage, and
// returns the number of bytes consumed. What is left is empty, a possible
// beginning of a magic, or the beginning of a well-framed message.
func (s *HEPStream) scan(w []byte, emit func([]byte)) int {
	max := s.maxMessage()
	i := 0
	for i < len(w) {
		r := w[i:]
		if len(r) < 4 {
			if hepMagicPrefix(r) {
				return i
			}
			i += s.skip(r, 0)
			continue
		}
		if m := binary.BigEndian.Uint32(r); m != hepMagicHEP3 && m != hepMagicEEP3 {
			i += s.skip(r, 0)
			continue
		}
		if len(r) < 6 {
			return i
		}
		l := int(binary.BigEndian.Uint16(r[4:6]))
		if l < 6 || l > max {
			s.Stats.BadLength++
			i += s.skip(r, 1)
			continue
		}
		if len(r) < l {
			return i
		}
		if !hepChunksTile(r[6:l]) {
			s.Stats.BadLength++
			i += s.skip(r, 1)
			continue
		}
		s.skipping = false
		s.Stats.Messages++
		s.Stats.Bytes += uint64(l)
		emit(r[:l:l])
		i += l
	}
	return i
}

// skip counts r[:k] as garbage, where k is the offset of the next magic at or
// after from, or, when there is none, all of r but a tail that could begin
// one. It returns k, which is at least 1 when len(r) >= 4 or r cannot begin
// a magic.
func (s *HEPStream) skip(r []byte, from int) int {
	k := hepNextMagic(r, from)
	if k < 0 {
		k = len(r)
		for t := 3; t > 0; t-- {
			if t < len(r) && hepMagicPrefix(r[len(r)-t:]) {
				k = len(r) - t
				break
			}
		}
	}
	if k == 0 {
		// r itself starts with a magic we were asked to skip past.
		k = 1
	}
	if !s.skipping {
		s.skipping = true
		s.Stats.Resyncs++
	}
	s.Stats.GarbageBytes += uint64(k)
	return k
}

// hepNextMagic returns the offset of the first "HEP3" or "EEP3" in r at or
// after from, or -1.
func hepNextMagic(r []byte, from int) int {
	for from < len(r) {
		j := bytes.Index(r[from:], []byte("EP3"))
		if j < 0 {
			return -1
		}
		at := from + j - 1 // the byte before "EP3"
		if at >= from && (r[at] == 'H' || r[at] == 'E') {
			return at
		}
		from += j + 1
	}
	return -1
}

// hepChunksTile reports whether the chunk headers in b (a message after its
// 6-byte header) tile it exactly.
func hepChunksTile(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 6 {
			return false
		}
		n := int(binary.BigEndian.Uint16(b[4:6]))
		if n < 6 || n > len(b) {
			return false
		}
		b = b[n:]
	}
	return true
}
