package decode

import "encoding/binary"

// ERSPAN is a Cisco ERSPAN header carried in GRE: type I (GRE 0x88be with no
// sequence number, no header), type II (0x88be, 8 bytes) or type III (0x22eb,
// 12 bytes plus an optional 8-byte platform sub-header). Payload is the
// mirrored Ethernet frame and aliases the input of DecodeFrom.
type ERSPAN struct {
	Type      uint8 // 1, 2 or 3
	VLAN      uint16
	SessionID uint16
	Payload   []byte
}

// DecodeFrom parses the ERSPAN header of the given GRE protocol. greSeq says
// whether the GRE header had a sequence number, which tells type I (none)
// from type II.
func (e *ERSPAN) DecodeFrom(data []byte, greProto uint16, greHasSeq bool) error {
	*e = ERSPAN{}
	if greProto == etherTypeERSPAN2 && !greHasSeq {
		e.Type = 1
		e.Payload = data
		return nil
	}
	if len(data) < 8 {
		return errERSPANTruncated
	}
	w := binary.BigEndian.Uint16(data[0:2])
	ver := w >> 12
	e.VLAN = w & 0x0fff
	e.SessionID = binary.BigEndian.Uint16(data[2:4]) & 0x03ff
	switch {
	case greProto == etherTypeERSPAN2 && ver == 1:
		e.Type = 2
		e.Payload = data[8:]
	case greProto == etherTypeERSPAN3 && ver == 2:
		if len(data) < 12 {
			return errERSPANTruncated
		}
		e.Type = 3
		n := 12
		if data[11]&1 != 0 { // O: platform-specific sub-header present
			n += 8
		}
		if len(data) < n {
			return errERSPANTruncated
		}
		e.Payload = data[n:]
	default:
		return errERSPANMalformed
	}
	return nil
}
