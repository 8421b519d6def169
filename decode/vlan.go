package decode

import "encoding/binary"

// VLAN is one 802.1Q / 802.1ad tag: the 4 bytes that follow a 0x8100, 0x88a8,
// 0x9100 or 0x9200 EtherType. Payload aliases the input of DecodeFrom.
type VLAN struct {
	TCI       uint16 // priority (3 bits), DEI (1 bit), VLAN id (12 bits)
	EtherType uint16 // of the next header
	Payload   []byte
}

// ID is the 12-bit VLAN identifier.
func (v *VLAN) ID() uint16 { return v.TCI & 0x0fff }

// DecodeFrom parses a tag from data.
func (v *VLAN) DecodeFrom(data []byte) error {
	if len(data) < 4 {
		*v = VLAN{}
		return errVLANTruncated
	}
	v.TCI = binary.BigEndian.Uint16(data[0:2])
	v.EtherType = binary.BigEndian.Uint16(data[2:4])
	v.Payload = data[4:]
	return nil
}

func isVLANEtherType(t uint16) bool {
	return t == etherTypeVLAN || t == etherTypeQinQ || t == etherType9100 || t == etherType9200
}
