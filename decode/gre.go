package decode

import "encoding/binary"

// GRE flag bits in the first 16-bit word (RFC 2784, RFC 2890, RFC 2637).
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greAck      = 0x0080 // version 1 (PPTP) only
)

// GRE is a GRE header: version 0 with the optional checksum, key and sequence
// fields, or version 1 (PPTP enhanced GRE, carrying PPP). Source routing
// (the R bit, deprecated by RFC 2784) is not decoded. Payload aliases the
// input of DecodeFrom.
type GRE struct {
	Flags    uint16 // the flag bits of the first word
	Version  uint8
	Protocol uint16 // an EtherType
	Key      uint32
	Seq      uint32
	HasKey   bool
	HasSeq   bool
	Payload  []byte
}

// DecodeFrom parses a GRE header from data.
func (g *GRE) DecodeFrom(data []byte) error {
	if len(data) < 4 {
		*g = GRE{}
		return errGRETruncated
	}
	w := binary.BigEndian.Uint16(data[0:2])
	g.Flags = w &^ 7
	g.Version = uint8(w & 7)
	g.Protocol = binary.BigEndian.Uint16(data[2:4])
	g.Key, g.Seq, g.HasKey, g.HasSeq, g.Payload = 0, 0, false, false, nil
	if w&greRouting != 0 {
		return errGREUnsupported
	}
	n := 4
	switch g.Version {
	case 0:
		if w&greChecksum != 0 {
			n += 4
		}
	case 1:
		if w&greKey == 0 || w&greChecksum != 0 {
			return errGREMalformed
		}
	default:
		return errGREUnsupported
	}
	if w&greKey != 0 {
		if len(data) < n+4 {
			return errGRETruncated
		}
		g.HasKey = true
		g.Key = binary.BigEndian.Uint32(data[n:])
		n += 4
	}
	if w&greSeq != 0 {
		if len(data) < n+4 {
			return errGRETruncated
		}
		g.HasSeq = true
		g.Seq = binary.BigEndian.Uint32(data[n:])
		n += 4
	}
	if g.Version == 1 && w&greAck != 0 {
		n += 4
	}
	if len(data) < n {
		return errGRETruncated
	}
	g.Payload = data[n:]
	return nil
}

// pppEtherType strips a PPP header (optional 0xff03 address and control,
// then a 1- or 2-byte protocol field) and maps the protocol to an EtherType:
// 0x0021 IPv4, 0x0057 IPv6. It returns 0 for other protocols.
func pppEtherType(b []byte) (uint16, []byte, error) {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) < 1 {
		return 0, nil, errPPPTruncated
	}
	var proto uint16
	if b[0]&1 != 0 { // protocol-field compression: one byte
		proto, b = uint16(b[0]), b[1:]
	} else {
		if len(b) < 2 {
			return 0, nil, errPPPTruncated
		}
		proto, b = binary.BigEndian.Uint16(b), b[2:]
	}
	switch proto {
	case 0x0021:
		return etherTypeIPv4, b, nil
	case 0x0057:
		return etherTypeIPv6, b, nil
	}
	return 0, b, nil
}
