package decode

import "encoding/binary"

// TCP flag bits.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// TCP is a TCP header (RFC 9293). Options and Payload alias the input of
// DecodeFrom.
type TCP struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	DataOffset       uint8 // header length in 32-bit words
	Flags            uint8
	Window           uint16
	Options          []byte
	Payload          []byte
}

// SYN, FIN and RST report the flags of the same names.
func (t *TCP) SYN() bool { return t.Flags&tcpSYN != 0 }
func (t *TCP) FIN() bool { return t.Flags&tcpFIN != 0 }
func (t *TCP) RST() bool { return t.Flags&tcpRST != 0 }

// DecodeFrom parses a TCP header from data.
func (t *TCP) DecodeFrom(data []byte) error {
	if len(data) < 20 {
		*t = TCP{}
		return errTCPTruncated
	}
	t.SrcPort = binary.BigEndian.Uint16(data[0:2])
	t.DstPort = binary.BigEndian.Uint16(data[2:4])
	t.Seq = binary.BigEndian.Uint32(data[4:8])
	t.Ack = binary.BigEndian.Uint32(data[8:12])
	t.DataOffset = data[12] >> 4
	t.Flags = data[13]
	t.Window = binary.BigEndian.Uint16(data[14:16])
	hl := int(t.DataOffset) * 4
	if hl < 20 {
		t.Options, t.Payload = nil, nil
		return errTCPMalformed
	}
	if hl > len(data) {
		t.Options, t.Payload = nil, nil
		return errTCPTruncated
	}
	t.Options = data[20:hl]
	t.Payload = data[hl:]
	return nil
}
