package decode

import "encoding/binary"

// GENEVE is a Geneve header (RFC 8926) with its options skipped. Payload
// aliases the input of DecodeFrom; Protocol says what it holds (0x6558
// Ethernet, 0x0800 IPv4, 0x86dd IPv6).
type GENEVE struct {
	Version  uint8
	OptLen   uint8 // options length in 4-byte words
	Flags    uint8 // O (control) and C (critical options) bits
	Protocol uint16
	VNI      uint32
	Payload  []byte
}

// DecodeFrom parses a Geneve header from data. Only version 0 is known.
func (g *GENEVE) DecodeFrom(data []byte) error {
	if len(data) < 8 {
		*g = GENEVE{}
		return errGENEVETruncated
	}
	g.Version = data[0] >> 6
	g.OptLen = data[0] & 0x3f
	g.Flags = data[1] >> 6
	g.Protocol = binary.BigEndian.Uint16(data[2:4])
	g.VNI = binary.BigEndian.Uint32(data[4:8]) >> 8
	g.Payload = nil
	if g.Version != 0 {
		return errGENEVEMalformed
	}
	n := 8 + int(g.OptLen)*4
	if n > len(data) {
		return errGENEVETruncated
	}
	g.Payload = data[n:]
	return nil
}
