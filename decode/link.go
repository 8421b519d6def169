package decode

import "encoding/binary"

// LinkType is the link-layer header type of a captured frame, with the
// numbering of the pcap LINKTYPE_* registry (tcpdump.org/linktypes.html), so
// that a pcap or pcapng reader's link type converts directly:
// decode.LinkType(r.LinkType()).
type LinkType uint16

// Link types the frame path decodes.
const (
	LinkNull     LinkType = 0   // BSD loopback: 4-byte address family in host byte order
	LinkEthernet LinkType = 1   // Ethernet II
	LinkRawBSD   LinkType = 12  // DLT_RAW on OpenBSD and others: bare IPv4 or IPv6
	LinkRawAlt   LinkType = 14  // DLT_RAW on some BSDs
	LinkRaw      LinkType = 101 // LINKTYPE_RAW: bare IPv4 or IPv6 (tunl0, sit0, tun)
	LinkLoop     LinkType = 108 // OpenBSD loopback: address family in network byte order
	LinkSLL      LinkType = 113 // Linux cooked capture v1
	LinkIPv4     LinkType = 228 // bare IPv4
	LinkIPv6     LinkType = 229 // bare IPv6
	LinkSLL2     LinkType = 276 // Linux cooked capture v2
)

// EtherTypes the frame path follows.
const (
	etherTypeIPv4    = 0x0800
	etherTypeIPv6    = 0x86dd
	etherTypeVLAN    = 0x8100 // 802.1Q C-tag
	etherTypeQinQ    = 0x88a8 // 802.1ad S-tag
	etherType9100    = 0x9100 // pre-standard QinQ S-tag
	etherType9200    = 0x9200 // pre-standard QinQ S-tag (some vendors)
	etherTypeMPLS    = 0x8847
	etherTypeMPLSMC  = 0x8848
	etherTypeTEB     = 0x6558 // transparent Ethernet bridging (GRE, GENEVE)
	etherTypePPP     = 0x880b // PPP in GRE (PPTP)
	etherTypeERSPAN2 = 0x88be // ERSPAN type I and II
	etherTypeERSPAN3 = 0x22eb // ERSPAN type III
)

// Ethernet is an Ethernet II header. Payload aliases the input of DecodeFrom.
type Ethernet struct {
	Dst, Src  []byte
	EtherType uint16
	Payload   []byte
}

// DecodeFrom parses an Ethernet II header from data. A frame whose type field
// is an 802.3 length (≤ 1500) decodes with EtherType set to that length.
func (e *Ethernet) DecodeFrom(data []byte) error {
	if len(data) < 14 {
		*e = Ethernet{}
		return errEthTruncated
	}
	e.Dst = data[0:6]
	e.Src = data[6:12]
	e.EtherType = binary.BigEndian.Uint16(data[12:14])
	e.Payload = data[14:]
	return nil
}

// SLL is a Linux cooked capture (v1) header: 16 bytes, protocol last.
type SLL struct {
	PacketType uint16
	ARPHRD     uint16
	Addr       []byte
	Protocol   uint16 // an EtherType
	Payload    []byte
}

// DecodeFrom parses an SLL header from data.
func (s *SLL) DecodeFrom(data []byte) error {
	if len(data) < 16 {
		*s = SLL{}
		return errSLLTruncated
	}
	s.PacketType = binary.BigEndian.Uint16(data[0:2])
	s.ARPHRD = binary.BigEndian.Uint16(data[2:4])
	n := int(binary.BigEndian.Uint16(data[4:6]))
	if n > 8 {
		n = 8
	}
	s.Addr = data[6 : 6+n]
	s.Protocol = binary.BigEndian.Uint16(data[14:16])
	s.Payload = data[16:]
	return nil
}

// SLL2 is a Linux cooked capture v2 header: 20 bytes, protocol first.
type SLL2 struct {
	Protocol   uint16 // an EtherType
	IfIndex    uint32
	ARPHRD     uint16
	PacketType uint8
	Addr       []byte
	Payload    []byte
}

// DecodeFrom parses an SLL2 header from data.
func (s *SLL2) DecodeFrom(data []byte) error {
	if len(data) < 20 {
		*s = SLL2{}
		return errSLL2Truncated
	}
	s.Protocol = binary.BigEndian.Uint16(data[0:2])
	s.IfIndex = binary.BigEndian.Uint32(data[4:8])
	s.ARPHRD = binary.BigEndian.Uint16(data[8:10])
	s.PacketType = data[10]
	n := int(data[11])
	if n > 8 {
		n = 8
	}
	s.Addr = data[12 : 12+n]
	s.Payload = data[20:]
	return nil
}

// loopbackEtherType maps the 4-byte address family of a BSD null/loopback
// header to an EtherType. The family is in the capturing host's byte order
// (LinkNull) or network order (LinkLoop); both are tried. AF_INET is 2
// everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD) or
// 30 (Darwin). It returns 0 for other families.
func loopbackEtherType(hdr []byte) uint16 {
	v := binary.LittleEndian.Uint32(hdr)
	if v > 0xffff {
		v = binary.BigEndian.Uint32(hdr)
	}
	switch v {
	case 2:
		return etherTypeIPv4
	case 10, 24, 28, 30:
		return etherTypeIPv6
	}
	return 0
}

// rawEtherType returns the EtherType of a bare IP packet from its version
// nibble, 0 when it is neither 4 nor 6.
func rawEtherType(b []byte) uint16 {
	if len(b) == 0 {
		return 0
	}
	switch b[0] >> 4 {
	case 4:
		return etherTypeIPv4
	case 6:
		return etherTypeIPv6
	}
	return 0
}
