package decode

import "encoding/binary"

// SCTP chunk types and DATA chunk flags (RFC 9260).
const (
	sctpChunkData = 0
	sctpFlagEnd   = 0x01 // E: last fragment of a user message
	sctpFlagBegin = 0x02 // B: first fragment of a user message
)

// SCTP is an SCTP common header (RFC 9260). Chunks aliases the input of
// DecodeFrom: the chunk list, walked with NextChunk.
type SCTP struct {
	SrcPort, DstPort uint16
	VerificationTag  uint32
	Chunks           []byte
}

// DecodeFrom parses the 12-byte common header. The CRC32c checksum is not
// verified.
func (s *SCTP) DecodeFrom(data []byte) error {
	if len(data) < 12 {
		*s = SCTP{}
		return errSCTPTruncated
	}
	s.SrcPort = binary.BigEndian.Uint16(data[0:2])
	s.DstPort = binary.BigEndian.Uint16(data[2:4])
	s.VerificationTag = binary.BigEndian.Uint32(data[4:8])
	s.Chunks = data[12:]
	return nil
}

// SCTPChunk is one chunk. Value aliases the packet: the chunk after its
// 4-byte header, without padding.
type SCTPChunk struct {
	Type, Flags uint8
	Value       []byte
}

// IsCompleteData reports whether c is a DATA chunk holding a whole user
// message (both B and E set).
func (c *SCTPChunk) IsCompleteData() bool {
	return c.Type == sctpChunkData && c.Flags&(sctpFlagBegin|sctpFlagEnd) == sctpFlagBegin|sctpFlagEnd
}

// Data returns the fields of a DATA chunk: TSN, stream id, payload protocol
// id and the user data (aliasing the packet).
func (c *SCTPChunk) Data() (tsn uint32, sid uint16, ppid uint32, data []byte, err error) {
	if len(c.Value) < 12 {
		return 0, 0, 0, nil, errSCTPTruncated
	}
	v := c.Value
	return binary.BigEndian.Uint32(v[0:4]), binary.BigEndian.Uint16(v[4:6]), binary.BigEndian.Uint32(v[8:12]), v[12:], nil
}

// SCTP user-message reassembly bounds.
const (
	sctpReasmSlots = 8
	sctpMaxMessage = 64 << 10
)

// sctpReasm joins DATA chunk fragments (B … E with consecutive TSNs) of a
// few user messages at a time into reused buffers.
type sctpReasm struct {
	slots [sctpReasmSlots]sctpPartial
}

type sctpPartial struct {
	used    bool
	key     flowKey
	sid     uint16
	nextTSN uint32
	last    int64
	buf     []byte
}

// add feeds one fragment; it returns the whole message (aliasing the
// reassembler's buffer, valid until the next add) when f has the E flag and
// every fragment before it arrived in TSN order. ok is false when the
// fragment could not be placed (missing start, hole, over 64 KiB).
func (r *sctpReasm) add(k *flowKey, sid uint16, tsn uint32, flags uint8, data []byte, now int64) (msg []byte, done, ok bool) {
	if flags&sctpFlagBegin != 0 {
		s := &r.slots[0]
		for i := range r.slots {
			c := &r.slots[i]
			if !c.used || (c.key == *k && c.sid == sid) {
				s = c
				break
			}
			if c.last < s.last {
				s = c
			}
		}
		if len(data) > sctpMaxMessage {
			s.used = false
			return nil, false, false
		}
		s.used, s.key, s.sid, s.nextTSN, s.last = true, *k, sid, tsn+1, now
		s.buf = append(s.buf[:0], data...)
		return nil, false, true
	}
	for i := range r.slots {
		s := &r.slots[i]
		if !s.used || s.key != *k || s.sid != sid {
			continue
		}
		if s.nextTSN != tsn || len(s.buf)+len(data) > sctpMaxMessage {
			s.used = false
			return nil, false, false
		}
		s.buf = append(s.buf, data...)
		s.nextTSN++
		s.last = now
		if flags&sctpFlagEnd != 0 {
			s.used = false
			return s.buf, true, true
		}
		return nil, false, true
	}
	return nil, false, false
}

// NextChunk decodes the first chunk of b into c and returns the rest of the
// list (after padding to 4 bytes).
func (c *SCTPChunk) NextChunk(b []byte) ([]byte, error) {
	if len(b) < 4 {
		*c = SCTPChunk{}
		return nil, errSCTPTruncated
	}
	c.Type, c.Flags = b[0], b[1]
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < 4 {
		c.Value = nil
		return nil, errSCTPMalformed
	}
	if n > len(b) {
		c.Value = nil
		return nil, errSCTPTruncated
	}
	c.Value = b[4:n]
	p := (n + 3) &^ 3
	if p > len(b) {
		p = len(b)
	}
	return b[p:], nil
}
