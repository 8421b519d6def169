package decode

import "encoding/binary"

// IPv6 extension header protocol numbers walked by IPv6.DecodeFrom.
const (
	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6AH       = 51
	ipv6NoNext   = 59
	ipv6DstOpts  = 60
	ipv6Mobility = 135
)

// maxIPv6ExtHeaders bounds the extension header chain.
const maxIPv6ExtHeaders = 8

// IPv6 is an IPv6 header (RFC 8200) and its extension header chain
// (hop-by-hop, routing, destination options, fragment, AH, mobility).
// Payload aliases the input of DecodeFrom: the upper-layer data after the
// last extension header, cut to the payload length.
type IPv6 struct {
	TrafficClass uint8
	FlowLabel    uint32
	Length       uint16 // payload length
	NextHeader   uint8  // of the fixed header
	HopLimit     uint8
	Src, Dst     [16]byte
	// Protocol is the upper-layer protocol after the extension headers, or
	// for a fragment the Next Header of its Fragment header.
	Protocol uint8
	// Fragment header fields, valid when HasFragment.
	HasFragment bool
	FragOff     uint16 // in 8-byte units
	MoreFrags   bool
	FragID      uint32
	Payload     []byte
}

// IsFragment reports whether the packet is one fragment of a larger datagram
// (an atomic fragment, offset 0 and M clear, is not).
func (ip *IPv6) IsFragment() bool { return ip.HasFragment && (ip.MoreFrags || ip.FragOff != 0) }

// DecodeFrom parses the fixed header and walks the extension headers.
func (ip *IPv6) DecodeFrom(data []byte) error {
	if len(data) < 40 {
		*ip = IPv6{}
		return errIPv6Truncated
	}
	if data[0]>>4 != 6 {
		*ip = IPv6{}
		return errIPv6Malformed
	}
	ip.TrafficClass = uint8(binary.BigEndian.Uint16(data[0:2]) >> 4)
	ip.FlowLabel = binary.BigEndian.Uint32(data[0:4]) & 0xfffff
	ip.Length = binary.BigEndian.Uint16(data[4:6])
	ip.NextHeader = data[6]
	ip.HopLimit = data[7]
	copy(ip.Src[:], data[8:24])
	copy(ip.Dst[:], data[24:40])
	ip.HasFragment, ip.FragOff, ip.MoreFrags, ip.FragID = false, 0, false, 0
	ip.Payload = nil
	end := 40 + int(ip.Length)
	if ip.Length == 0 { // jumbogram or TSO: use what was captured
		end = len(data)
	}
	if end > len(data) {
		return errIPv6Truncated
	}
	proto, rest, err := ip.walk(ip.NextHeader, data[40:end])
	ip.Protocol = proto
	ip.Payload = rest
	return err
}

// walk follows extension headers starting with next header nh over b. It
// stops after a Fragment header (the rest is fragmentable data) and returns
// the upper-layer protocol and data.
func (ip *IPv6) walk(nh uint8, b []byte) (uint8, []byte, error) {
	for i := 0; ; i++ {
		switch nh {
		case ipv6HopByHop, ipv6Routing, ipv6DstOpts, ipv6Mobility:
			if len(b) < 8 {
				return nh, nil, errIPv6Truncated
			}
			n := 8 + int(b[1])*8
			if n > len(b) {
				return nh, nil, errIPv6Truncated
			}
			nh, b = b[0], b[n:]
		case ipv6AH:
			if len(b) < 8 {
				return nh, nil, errIPv6Truncated
			}
			n := (int(b[1]) + 2) * 4
			if n > len(b) {
				return nh, nil, errIPv6Truncated
			}
			nh, b = b[0], b[n:]
		case ipv6Fragment:
			if ip.HasFragment {
				return nh, nil, errIPv6Malformed
			}
			if len(b) < 8 {
				return nh, nil, errIPv6Truncated
			}
			ip.HasFragment = true
			fo := binary.BigEndian.Uint16(b[2:4])
			ip.FragOff = fo >> 3
			ip.MoreFrags = fo&1 != 0
			ip.FragID = binary.BigEndian.Uint32(b[4:8])
			nh, b = b[0], b[8:]
			if ip.MoreFrags || ip.FragOff != 0 {
				return nh, b, nil
			}
		default:
			return nh, b, nil
		}
		if i >= maxIPv6ExtHeaders {
			return nh, nil, errIPv6Malformed
		}
	}
}
