package decode

import "encoding/binary"

// IPv4 is an IPv4 header (RFC 791) with options. The header checksum is not
// verified: captures from offloading NICs carry bad ones. Payload aliases the
// input of DecodeFrom and is cut to the header's total length, so Ethernet
// padding is dropped.
type IPv4 struct {
	IHL      uint8 // header length in 32-bit words
	TOS      uint8
	Length   uint16 // total length
	ID       uint16
	Flags    uint8  // 3 bits: reserved, DF, MF
	FragOff  uint16 // in 8-byte units
	TTL      uint8
	Protocol uint8
	Src, Dst [4]byte
	Options  []byte
	Payload  []byte
}

// MoreFragments reports the MF flag.
func (ip *IPv4) MoreFragments() bool { return ip.Flags&1 != 0 }

// IsFragment reports whether the packet is one fragment of a larger datagram.
func (ip *IPv4) IsFragment() bool { return ip.Flags&1 != 0 || ip.FragOff != 0 }

// DecodeFrom parses an IPv4 header from data. A total length beyond the
// captured bytes (snap length) is ErrFrameTruncated.
func (ip *IPv4) DecodeFrom(data []byte) error {
	if len(data) < 20 {
		*ip = IPv4{}
		return errIPv4Truncated
	}
	if data[0]>>4 != 4 {
		*ip = IPv4{}
		return errIPv4Malformed
	}
	ip.IHL = data[0] & 0x0f
	hl := int(ip.IHL) * 4
	ip.TOS = data[1]
	ip.Length = binary.BigEndian.Uint16(data[2:4])
	ip.ID = binary.BigEndian.Uint16(data[4:6])
	ff := binary.BigEndian.Uint16(data[6:8])
	ip.Flags = uint8(ff >> 13)
	ip.FragOff = ff & 0x1fff
	ip.TTL = data[8]
	ip.Protocol = data[9]
	ip.Src = [4]byte(data[12:16]) // a 4-byte move; copy also tests for overlap
	ip.Dst = [4]byte(data[16:20])
	tl := int(ip.Length)
	if tl == 0 && len(data) >= hl { // TSO: the kernel leaves the length 0 on outgoing segments
		tl = len(data)
	}
	if hl < 20 || tl < hl {
		ip.Options, ip.Payload = nil, nil
		return errIPv4Malformed
	}
	if tl > len(data) {
		ip.Options, ip.Payload = nil, nil
		return errIPv4Truncated
	}
	ip.Options = data[20:hl]
	ip.Payload = data[hl:tl]
	return nil
}
