package decode

import "encoding/binary"

// maxMPLSLabels bounds the label stack walked before giving up.
const maxMPLSLabels = 16

// MPLS is an MPLS label stack (RFC 3032). Payload aliases the input of
// DecodeFrom and starts after the bottom-of-stack entry.
type MPLS struct {
	// Labels is the number of stack entries; Top is the first label.
	Labels int
	Top    uint32
	// Next is the EtherType guessed for the payload from its first nibble
	// (IPv4 or IPv6), etherTypeTEB for a pseudowire control word (nibble 0)
	// followed by Ethernet, or 0 when unknown.
	Next    uint16
	Payload []byte
}

// DecodeFrom walks the label stack in data.
func (m *MPLS) DecodeFrom(data []byte) error {
	*m = MPLS{}
	for i := 0; ; i++ {
		if i >= maxMPLSLabels {
			return errMPLSMalformed
		}
		if len(data) < 4*(i+1) {
			return errMPLSTruncated
		}
		e := binary.BigEndian.Uint32(data[4*i:])
		if i == 0 {
			m.Top = e >> 12
		}
		if e&0x100 != 0 { // bottom of stack
			m.Labels = i + 1
			m.Payload = data[4*(i+1):]
			break
		}
	}
	if len(m.Payload) == 0 {
		return errMPLSTruncated
	}
	switch m.Payload[0] >> 4 {
	case 4:
		m.Next = etherTypeIPv4
	case 6:
		m.Next = etherTypeIPv6
	case 0: // RFC 4385 pseudowire control word, then Ethernet
		if len(m.Payload) < 4 {
			return errMPLSTruncated
		}
		m.Next = etherTypeTEB
		m.Payload = m.Payload[4:]
	}
	return nil
}
