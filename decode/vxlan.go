package decode

import "encoding/binary"

// VXLAN is a VXLAN header (RFC 7348): 8 bytes, then an Ethernet frame.
// Payload aliases the input of DecodeFrom.
type VXLAN struct {
	Flags   uint8
	VNI     uint32
	Payload []byte
}

// DecodeFrom parses a VXLAN header. The I flag (valid VNI) must be set.
func (v *VXLAN) DecodeFrom(data []byte) error {
	if len(data) < 8 {
		*v = VXLAN{}
		return errVXLANTruncated
	}
	v.Flags = data[0]
	v.VNI = binary.BigEndian.Uint32(data[4:8]) >> 8
	if v.Flags&0x08 == 0 {
		v.Payload = nil
		return errVXLANMalformed
	}
	v.Payload = data[8:]
	return nil
}
