package decode

import "encoding/binary"

// UDP is a UDP header (RFC 768). Payload aliases the input of DecodeFrom and
// is cut to the header's length field.
type UDP struct {
	SrcPort, DstPort uint16
	Length           uint16
	Checksum         uint16
	Payload          []byte
}

// DecodeFrom parses a UDP header from data. A length field beyond the data is
// ErrFrameTruncated; a length of 0 (IPv6 jumbogram, GSO) takes all of data.
func (u *UDP) DecodeFrom(data []byte) error {
	if len(data) < 8 {
		*u = UDP{}
		return errUDPTruncated
	}
	u.SrcPort = binary.BigEndian.Uint16(data[0:2])
	u.DstPort = binary.BigEndian.Uint16(data[2:4])
	u.Length = binary.BigEndian.Uint16(data[4:6])
	u.Checksum = binary.BigEndian.Uint16(data[6:8])
	n := int(u.Length)
	switch {
	case n == 0:
		n = len(data)
	case n < 8:
		u.Payload = nil
		return errUDPMalformed
	case n > len(data):
		u.Payload = nil
		return errUDPTruncated
	}
	u.Payload = data[8:n]
	return nil
}
