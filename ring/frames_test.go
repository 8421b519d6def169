package ring

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Test frame builders. Every frame carries a payload that starts with a
// 4-byte marker so the receiver can tell which frame it got.

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xa}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xb}
	ip4A = net.IP{10, 99, 0, 2}
	ip4B = net.IP{10, 99, 0, 1}
	ip6A = net.ParseIP("fd00:99::2")
	ip6B = net.ParseIP("fd00:99::1")
)

func marker(id uint32, n int) []byte {
	p := make([]byte, max(n, 8))
	copy(p, "MRK!")
	binary.BigEndian.PutUint32(p[4:], id)
	return p
}

// markerOf finds the marker in a frame; ok is false when there is none.
func markerOf(frame []byte) (uint32, bool) {
	for i := 0; i+8 <= len(frame); i++ {
		if frame[i] == 'M' && string(frame[i:i+4]) == "MRK!" {
			return binary.BigEndian.Uint32(frame[i+4:]), true
		}
	}
	return 0, false
}

type frameSpec struct {
	vlans      []uint16 // outer first
	v6         bool
	proto      layers.IPProtocol // UDP, TCP, SCTP, ICMPv4
	sport      uint16
	dport      uint16
	payload    []byte
	dstIP      net.IP // overrides the default destination
	ipipInner  bool   // wrap: outer IP proto 4 carrying an inner IPv4/UDP
	fragOffset uint16 // IPv4 fragment offset in 8-byte units (non-first fragment: no L4 header)
}

func buildFrame(t testing.TB, s frameSpec) []byte {
	t.Helper()
	var ls []gopacket.SerializableLayer
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	if s.v6 {
		eth.EthernetType = layers.EthernetTypeIPv6
	}
	ls = append(ls, eth)
	if len(s.vlans) > 0 {
		inner := eth.EthernetType
		eth.EthernetType = layers.EthernetTypeDot1Q
		for i, id := range s.vlans {
			q := &layers.Dot1Q{VLANIdentifier: id, Type: layers.EthernetTypeDot1Q}
			if i == len(s.vlans)-1 {
				q.Type = inner
			}
			ls = append(ls, q)
		}
	}
	var l4 []gopacket.SerializableLayer
	var netl gopacket.NetworkLayer
	proto := s.proto
	if s.ipipInner {
		proto = layers.IPProtocolIPv4
	}
	if s.v6 {
		dst := ip6B
		if s.dstIP != nil {
			dst = s.dstIP
		}
		ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: ip6A, DstIP: dst, NextHeader: proto}
		ls = append(ls, ip)
		netl = ip
	} else {
		dst := ip4B
		if s.dstIP != nil {
			dst = s.dstIP
		}
		ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: ip4A, DstIP: dst, Protocol: proto, Id: 7, FragOffset: s.fragOffset}
		ls = append(ls, ip)
		netl = ip
	}
	if s.ipipInner {
		in := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}, Protocol: layers.IPProtocolUDP}
		u := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
		u.SetNetworkLayerForChecksum(in)
		l4 = append(l4, in, u)
	} else if s.fragOffset == 0 {
		switch s.proto {
		case layers.IPProtocolUDP:
			u := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
			u.SetNetworkLayerForChecksum(netl)
			l4 = append(l4, u)
		case layers.IPProtocolTCP:
			tc := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), Seq: 1, Window: 1000, ACK: true, PSH: true, DataOffset: 5}
			tc.SetNetworkLayerForChecksum(netl)
			l4 = append(l4, tc)
		case layers.IPProtocolSCTP:
			l4 = append(l4, &layers.SCTP{SrcPort: layers.SCTPPort(s.sport), DstPort: layers.SCTPPort(s.dport)})
		case layers.IPProtocolICMPv4:
			l4 = append(l4, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)})
		}
	}
	ls = append(ls, l4...)
	ls = append(ls, gopacket.Payload(s.payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize frame %+v: %v", s, err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// buildIPv6Frag builds an IPv6 packet with a fragment header (next header 44).
func buildIPv6Frag(t testing.TB, id uint32, payload []byte) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: ip6A, DstIP: ip6B, NextHeader: layers.IPProtocolIPv6Fragment}
	fr := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: 100, Identification: id}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, ip, fr, gopacket.Payload(payload)); err != nil {
		t.Fatalf("serialize ipv6 fragment: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// buildARP builds a broadcast ARP request (noise).
func buildARP(t testing.TB) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: 1, SourceHwAddress: macA, SourceProtAddress: ip4A, DstHwAddress: make([]byte, 6), DstProtAddress: ip4B}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, arp, gopacket.Payload(marker(0xffffffff, 8))); err != nil {
		t.Fatalf("serialize arp: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// filterCase is one frame and whether the mirror filter for ports 5060-5070
// must keep it.
type filterCase struct {
	name  string
	frame []byte
	keep  bool
}

// mirrorCases are frames for a mirror filter on ports 5060-5070. Marker ids
// are the case index.
func mirrorCases(t testing.TB) []filterCase {
	udp, tcp, sctp := layers.IPProtocolUDP, layers.IPProtocolTCP, layers.IPProtocolSCTP
	c := []struct {
		name string
		s    frameSpec
		keep bool
	}{
		{"udp4 dst 5060", frameSpec{proto: udp, sport: 40000, dport: 5060}, true},
		{"udp4 src 5070", frameSpec{proto: udp, sport: 5070, dport: 40000}, true},
		{"udp4 dst 5071", frameSpec{proto: udp, sport: 40000, dport: 5071}, false},
		{"udp4 dst 5059", frameSpec{proto: udp, sport: 40000, dport: 5059}, false},
		{"udp4 9999", frameSpec{proto: udp, sport: 9999, dport: 9999}, false},
		{"tcp4 dst 5065", frameSpec{proto: tcp, sport: 40001, dport: 5065}, true},
		{"tcp4 80", frameSpec{proto: tcp, sport: 40001, dport: 80}, false},
		{"sctp4 dst 5060", frameSpec{proto: sctp, sport: 40002, dport: 5060}, true},
		{"sctp4 9", frameSpec{proto: sctp, sport: 40002, dport: 9}, false},
		{"icmp4", frameSpec{proto: layers.IPProtocolICMPv4}, false},
		{"udp4 frag non-first", frameSpec{proto: udp, fragOffset: 185}, true},
		{"icmp4 frag non-first", frameSpec{proto: layers.IPProtocolICMPv4, fragOffset: 185}, false},
		{"udp6 dst 5060", frameSpec{v6: true, proto: udp, sport: 40000, dport: 5060}, true},
		{"udp6 53", frameSpec{v6: true, proto: udp, sport: 40000, dport: 53}, false},
		{"tcp6 src 5061", frameSpec{v6: true, proto: tcp, sport: 5061, dport: 40000}, true},
		{"vlan udp4 5060", frameSpec{vlans: []uint16{100}, proto: udp, sport: 40000, dport: 5060}, true},
		{"vlan udp4 9999", frameSpec{vlans: []uint16{100}, proto: udp, sport: 40000, dport: 9999}, false},
		{"qinq udp4 5060", frameSpec{vlans: []uint16{100, 200}, proto: udp, sport: 40000, dport: 5060}, true},
		{"qinq udp6 5062", frameSpec{vlans: []uint16{100, 200}, v6: true, proto: udp, sport: 40000, dport: 5062}, true},
		{"qinq tcp4 22", frameSpec{vlans: []uint16{100, 200}, proto: tcp, sport: 40000, dport: 22}, false},
		{"ipip to listener", frameSpec{ipipInner: true, sport: 40000, dport: 5060}, false},
	}
	var out []filterCase
	for i, x := range c {
		x.s.payload = marker(uint32(i), 16)
		out = append(out, filterCase{x.name, buildFrame(t, x.s), x.keep})
	}
	out = append(out, filterCase{"ipv6 fragment", buildIPv6Frag(t, 9, marker(uint32(len(out)), 16)), true})
	out = append(out, filterCase{"arp", buildARP(t), false})
	return out
}
