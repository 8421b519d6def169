package decode

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// recorder keeps a copy of what the handler saw.
type recorder struct {
	msgs   [][]byte
	metas  []Meta
	callID []string
	errs   []error
}

func (r *recorder) SIP(m *Meta, s *SIP, err error) {
	r.msgs = append(r.msgs, append([]byte(nil), s.Msg...))
	r.metas = append(r.metas, *m)
	r.callID = append(r.callID, string(s.CallID))
	r.errs = append(r.errs, err)
}

func (r *recorder) reset() { *r = recorder{} }

type encapCase struct {
	name     string
	link     LinkType
	tci      uint16
	frame    []byte
	encap    string
	src, dst string
	vlan     uint16
	inner    uint16
	proto    uint8
}

func encapCases(t testing.TB, msg []byte) []encapCase {
	in4, in6 := innerUDP4(msg), innerUDP6(msg)
	gre := func(g *layers.GRE) *layers.GRE { return g }
	erspan2 := &layers.ERSPANII{Version: 1, VLANIdentifier: 42, SessionID: 9}
	return []encapCase{
		{name: "eth/ip4/udp", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4)), in4)...),
			encap: "eth/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "eth/ip6/udp", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv6)), in6)...),
			encap: "eth/ip6/udp", src: "2001:db8:1::101", dst: "2001:db8:2::7", proto: 17},
		{name: "ip6 extension headers", link: LinkEthernet, frame: serialize(t, ethL(layers.EthernetTypeIPv6),
			ip6L(tSrc6, tDst6, layers.IPProtocolIPv6HopByHop),
			rawLayer{60, 0, 1, 4, 0, 0, 0, 0},                          // hop-by-hop: PadN, next destination options
			rawLayer{43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // destination options (16 bytes), next routing
			rawLayer{17, 0, 0, 0, 0, 0, 0, 0},                          // routing type 0, segments left 0, next UDP
			udpL(5060, 5060), gopacket.Payload(msg)),
			encap: "eth/ip6/udp", src: "2001:db8:1::101", dst: "2001:db8:2::7", proto: 17},
		{name: "ip4 options", link: LinkEthernet, frame: serialize(t, ethL(layers.EthernetTypeIPv4),
			&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: tSrc4, DstIP: tDst4,
				Options: []layers.IPv4Option{{OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}}},
			udpL(5060, 5060), gopacket.Payload(msg)),
			encap: "eth/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "802.1Q", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeDot1Q),
			&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}), in4)...),
			encap: "eth/vlan/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", vlan: 100, proto: 17},
		{name: "802.1ad QinQ", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeQinQ),
			&layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}), in4)...),
			encap: "eth/vlan/vlan/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", vlan: 200, inner: 100, proto: 17},
		{name: "0x9100 QinQ", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(0x9100),
			&layers.Dot1Q{VLANIdentifier: 300, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 30, Type: layers.EthernetTypeIPv4}), in4)...),
			encap: "eth/vlan/vlan/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", vlan: 300, inner: 30, proto: 17},
		{name: "stripped TCI + tag", link: LinkEthernet, tci: 0x2000 | 500, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeDot1Q),
			&layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4}), in4)...),
			encap: "eth/vlan/vlan/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", vlan: 500, inner: 7, proto: 17},
		{name: "MPLS stack", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeMPLSUnicast),
			&layers.MPLS{Label: 1000, TTL: 64}, &layers.MPLS{Label: 2000, StackBottom: true, TTL: 64}), in4)...),
			encap: "eth/mpls/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "IPIP 4in4", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4),
			ip4L(tOuterA4, tOuterB4, layers.IPProtocolIPv4)), in4)...),
			encap: "eth/ip4/ipip/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "6in4", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4),
			ip4L(tOuterA4, tOuterB4, layers.IPProtocolIPv6)), in6)...),
			encap: "eth/ip4/ipip/ip6/udp", src: "2001:db8:1::101", dst: "2001:db8:2::7", proto: 17},
		{name: "4in6", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv6),
			ip6L(tOuterA6, tOuterB6, layers.IPProtocolIPv4)), in4)...),
			encap: "eth/ip6/ipip/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "6in6", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv6),
			ip6L(tOuterA6, tOuterB6, layers.IPProtocolIPv6)), in6)...),
			encap: "eth/ip6/ipip/ip6/udp", src: "2001:db8:1::101", dst: "2001:db8:2::7", proto: 17},
		{name: "GRE key+seq+csum", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4),
			ip4L(tOuterA4, tOuterB4, layers.IPProtocolGRE),
			gre(&layers.GRE{Protocol: layers.EthernetTypeIPv4, ChecksumPresent: true, KeyPresent: true, Key: 77, SeqPresent: true, Seq: 5})), in4)...),
			encap: "eth/ip4/gre/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "GRE ip6 over ip6", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv6),
			ip6L(tOuterA6, tOuterB6, layers.IPProtocolGRE), greL(layers.EthernetTypeIPv6)), in6)...),
			encap: "eth/ip6/gre/ip6/udp", src: "2001:db8:1::101", dst: "2001:db8:2::7", proto: 17},
		{name: "GRE TEB", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4),
			ip4L(tOuterA4, tOuterB4, layers.IPProtocolGRE), greL(layers.EthernetTypeTransparentEthernetBridging),
			ethL(layers.EthernetTypeIPv4)), in4)...),
			encap: "eth/ip4/gre/eth/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "ERSPAN I", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4),
			ip4L(tOuterA4, tOuterB4, layers.IPProtocolGRE), greL(layers.EthernetTypeERSPAN),
			ethL(layers.EthernetTypeIPv4)), in4)...),
			encap: "eth/ip4/gre/erspan/eth/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "ERSPAN II", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4),
			ip4L(tOuterA4, tOuterB4, layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeERSPAN, SeqPresent: true, Seq: 1},
			erspan2, ethL(layers.EthernetTypeIPv4)), in4)...),
			encap: "eth/ip4/gre/erspan/eth/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "ERSPAN III", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4),
			ip4L(tOuterA4, tOuterB4, layers.IPProtocolGRE), &layers.GRE{Protocol: 0x22eb, SeqPresent: true, Seq: 1},
			erspan3Header(42), ethL(layers.EthernetTypeIPv4)), in4)...),
			encap: "eth/ip4/gre/erspan/eth/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "VXLAN", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4),
			ip4L(tOuterA4, tOuterB4, layers.IPProtocolUDP), udpL(49152, 4789), &layers.VXLAN{ValidIDFlag: true, VNI: 5001},
			ethL(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 12, Type: layers.EthernetTypeIPv4}), in4)...),
			encap: "eth/ip4/udp/vxlan/eth/vlan/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", vlan: 12, proto: 17},
		{name: "GENEVE", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4),
			ip4L(tOuterA4, tOuterB4, layers.IPProtocolUDP), udpL(49152, 6081),
			&layers.Geneve{Protocol: layers.EthernetTypeTransparentEthernetBridging, VNI: 7,
				Options: []*layers.GeneveOption{{Class: 0x0102, Type: 0x80, Length: 8, Data: []byte{1, 2, 3, 4}}}},
			ethL(layers.EthernetTypeIPv4)), in4)...),
			encap: "eth/ip4/udp/geneve/eth/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "nested GRE in VXLAN in IPIP", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4),
			ip4L(tOuterA4, tOuterB4, layers.IPProtocolIPv4), ip4L(tOuterB4, tOuterA4, layers.IPProtocolUDP), udpL(1, 4789),
			&layers.VXLAN{ValidIDFlag: true, VNI: 1}, ethL(layers.EthernetTypeIPv4), ip4L(tOuterA4, tOuterB4, layers.IPProtocolGRE),
			greL(layers.EthernetTypeIPv4)), in4)...),
			encap: "eth/ip4/ipip/ip4/udp/vxlan/eth/ip4/gre/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "SLL", link: LinkSLL, frame: serialize(t, cat(ls(sllHeader(0x0800)), in4)...),
			encap: "sll/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "SLL + VLAN", link: LinkSLL, frame: serialize(t, cat(ls(sllHeader(0x8100), &layers.Dot1Q{VLANIdentifier: 9, Type: layers.EthernetTypeIPv6}), in6)...),
			encap: "sll/vlan/ip6/udp", src: "2001:db8:1::101", dst: "2001:db8:2::7", vlan: 9, proto: 17},
		{name: "SLL2", link: LinkSLL2, frame: serialize(t, cat(ls(sll2Header(0x86dd)), in6)...),
			encap: "sll2/ip6/udp", src: "2001:db8:1::101", dst: "2001:db8:2::7", proto: 17},
		{name: "raw 101", link: LinkRaw, frame: serialize(t, in4...),
			encap: "raw/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "raw 12 ip6", link: LinkRawBSD, frame: serialize(t, in6...),
			encap: "raw/ip6/udp", src: "2001:db8:1::101", dst: "2001:db8:2::7", proto: 17},
		{name: "LINKTYPE_IPV4", link: LinkIPv4, frame: serialize(t, in4...),
			encap: "raw/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "LINKTYPE_IPV6", link: LinkIPv6, frame: serialize(t, in6...),
			encap: "raw/ip6/udp", src: "2001:db8:1::101", dst: "2001:db8:2::7", proto: 17},
		{name: "null", link: LinkNull, frame: serialize(t, cat(ls(rawLayer{2, 0, 0, 0}), in4)...),
			encap: "null/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "null ip6 darwin", link: LinkNull, frame: serialize(t, cat(ls(rawLayer{30, 0, 0, 0}), in6)...),
			encap: "null/ip6/udp", src: "2001:db8:1::101", dst: "2001:db8:2::7", proto: 17},
		{name: "PPPoE", link: LinkEthernet, frame: serialize(t, cat(ls(ethL(layers.EthernetTypePPPoESession),
			rawLayer{0x11, 0, 0, 1, 0, 0}, rawLayer{0, 0x21}), in4)...),
			encap: "eth/ppp/ip4/udp", src: "192.0.2.101", dst: "198.51.100.7", proto: 17},
		{name: "SCTP", link: LinkEthernet, frame: serialize(t, ethL(layers.EthernetTypeIPv4), ip4L(tSrc4, tDst4, layers.IPProtocolSCTP),
			sctpPacket(5060, 5060, sctpDataChunk(3, 1, msg))),
			encap: "eth/ip4/sctp", src: "192.0.2.101", dst: "198.51.100.7", proto: 132},
		{name: "TCP", link: LinkEthernet, frame: serialize(t, ethL(layers.EthernetTypeIPv4), ip4L(tSrc4, tDst4, layers.IPProtocolTCP),
			&layers.TCP{SrcPort: 5060, DstPort: 5060, Seq: 1000, DataOffset: 5, ACK: true, PSH: true, Window: 1000}, gopacket.Payload(msg)),
			encap: "eth/ip4/tcp", src: "192.0.2.101", dst: "198.51.100.7", proto: 6},
	}
}

func TestPathEncapsulations(t *testing.T) {
	msg := loadFixture(t, "invite.sip")
	for _, c := range encapCases(t, msg) {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPath(nil)
			if err != nil {
				t.Fatal(err)
			}
			var r recorder
			for round := 0; round < 2; round++ { // decode twice: reuse must not change the result
				r.reset()
				if c.proto == 6 && round == 1 {
					p, _ = NewPath(nil) // the same segment again would be a retransmission
				}
				if err := p.Decode(c.frame, c.link, 1_700_000_000_000_000, c.tci, &r); err != nil {
					t.Fatalf("round %d: Decode: %v", round, err)
				}
				if len(r.msgs) != 1 {
					t.Fatalf("round %d: got %d messages, want 1", round, len(r.msgs))
				}
				m := r.metas[0]
				if got := m.Encap.String(); got != c.encap {
					t.Errorf("encap %q, want %q", got, c.encap)
				}
				if m.Src != netip.MustParseAddr(c.src) || m.Dst != netip.MustParseAddr(c.dst) {
					t.Errorf("addresses %v -> %v, want %s -> %s", m.Src, m.Dst, c.src, c.dst)
				}
				if m.SrcPort != 5060 || m.DstPort != 5060 || m.Proto != c.proto {
					t.Errorf("ports %d -> %d proto %d", m.SrcPort, m.DstPort, m.Proto)
				}
				if m.VLAN != c.vlan || m.InnerVLAN != c.inner {
					t.Errorf("vlan %d/%d, want %d/%d", m.VLAN, m.InnerVLAN, c.vlan, c.inner)
				}
				if wantFam := uint8(2); m.Src.Is6() && m.Family != 10 || m.Src.Is4() && m.Family != wantFam {
					t.Errorf("family %d for %v", m.Family, m.Src)
				}
				if !bytes.Equal(r.msgs[0], msg) || r.callID[0] != "a84b4c76e66710@pc33.example.net" || r.errs[0] != nil {
					t.Errorf("message %q call-id %q err %v", r.msgs[0][:20], r.callID[0], r.errs[0])
				}
				if m.TS != 1_700_000_000_000_000 {
					t.Errorf("ts %d", m.TS)
				}
			}
		})
	}
}

func TestPathTunnelDepth(t *testing.T) {
	msg := loadFixture(t, "ok.sip")
	// Five IPIP headers around the SIP packet: one more than the default 4.
	var stack []gopacket.SerializableLayer
	stack = append(stack, ethL(layers.EthernetTypeIPv4))
	for i := 0; i < 5; i++ {
		stack = append(stack, ip4L(tOuterA4, tOuterB4, layers.IPProtocolIPv4))
	}
	stack = append(stack, innerUDP4(msg)...)
	frame := serialize(t, stack...)
	p, _ := NewPath(nil)
	var r recorder
	err := p.Decode(frame, LinkEthernet, 0, 0, &r)
	if !errors.Is(err, ErrTunnelTooDeep) || len(r.msgs) != 0 {
		t.Fatalf("got %v and %d messages, want ErrTunnelTooDeep", err, len(r.msgs))
	}
	if fe := err.(FrameError); fe.Layer() != LayerIPIP {
		t.Errorf("layer %v", fe.Layer())
	}
	if st := p.Stats(); st.Errors[LayerIPIP][KindTooDeep] != 1 {
		t.Errorf("error not counted: %v", st.Errors[LayerIPIP])
	}
	p2, _ := NewPath(&PathConfig{MaxTunnelDepth: 5})
	if err := p2.Decode(frame, LinkEthernet, 0, 0, &r); err != nil || len(r.msgs) != 1 {
		t.Fatalf("depth 5: %v, %d messages", err, len(r.msgs))
	}
}

func TestPathErrors(t *testing.T) {
	msg := loadFixture(t, "ok.sip")
	good := serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4)), innerUDP4(msg))...)
	f := func(name string, frame []byte, link LinkType, want error, layer Layer) {
		t.Helper()
		p, _ := NewPath(nil)
		err := p.Decode(frame, link, 0, 0, nil)
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", name, err, want)
			return
		}
		var fe FrameError
		if !errors.As(err, &fe) || fe.Layer() != layer {
			t.Errorf("%s: layer of %v, want %v", name, err, layer)
		}
	}
	f("short ethernet", good[:10], LinkEthernet, ErrFrameTruncated, LayerEthernet)
	f("short ip", good[:14+12], LinkEthernet, ErrFrameTruncated, LayerIPv4)
	f("ip total length beyond capture", good[:14+20+8+10], LinkEthernet, ErrFrameTruncated, LayerIPv4)
	bad := append([]byte(nil), good...)
	bad[14] = 0x43 // IHL 3
	f("ihl", bad, LinkEthernet, ErrFrameMalformed, LayerIPv4)
	bad = append([]byte(nil), good...)
	bad[14+20+4], bad[14+20+5] = 0, 4 // UDP length 4
	f("udp length", bad, LinkEthernet, ErrFrameMalformed, LayerUDP)
	f("raw not ip", []byte{0x55, 1, 2}, LinkRaw, ErrFrameMalformed, LayerRawIP)
	f("unknown link", good, LinkType(999), ErrFrameUnsupported, LayerNone)
	greRouting := serialize(t, ethL(layers.EthernetTypeIPv4), ip4L(tOuterA4, tOuterB4, layers.IPProtocolGRE),
		rawLayer{0x40, 0, 0x08, 0}, gopacket.Payload(msg))
	f("gre routing", greRouting, LinkEthernet, ErrFrameUnsupported, LayerGRE)
	vxBad := serialize(t, ethL(layers.EthernetTypeIPv4), ip4L(tOuterA4, tOuterB4, layers.IPProtocolUDP), udpL(1, 4789),
		rawLayer{0, 0, 0, 0, 0, 0, 0, 0}, gopacket.Payload(msg))
	f("vxlan without I flag", vxBad, LinkEthernet, ErrFrameMalformed, LayerVXLAN)
	if ErrFrameTruncated.Error() == "" || FrameError(0xffff).Error() == "" || errIPv4Truncated.Error() != "decode: ip4: truncated" {
		t.Errorf("error text: %q", errIPv4Truncated.Error())
	}
}

// TestPathNonSIP checks payloads that are not SIP: counted, not handed on.
func TestPathNonSIP(t *testing.T) {
	p, _ := NewPath(nil)
	var r recorder
	for _, payload := range []string{"hello", "\r\n\r\n", "\x00\x00\x00\x00", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"} {
		frame := serialize(t, ethL(layers.EthernetTypeIPv4), ip4L(tSrc4, tDst4, layers.IPProtocolUDP), udpL(5060, 5060), gopacket.Payload(payload))
		if err := p.Decode(frame, LinkEthernet, 0, 0, &r); err != nil {
			t.Fatal(err)
		}
	}
	rtp := serialize(t, ethL(layers.EthernetTypeIPv4), ip4L(tSrc4, tDst4, layers.IPProtocolUDP), udpL(30000, 30002), gopacket.Payload("\x80\x00rtp"))
	_ = p.Decode(rtp, LinkEthernet, 0, 0, &r)
	arp := serialize(t, ethL(layers.EthernetTypeARP), gopacket.Payload(make([]byte, 28)))
	_ = p.Decode(arp, LinkEthernet, 0, 0, &r)
	st := p.Stats()
	if len(r.msgs) != 0 || st.NonSIP != 4 || st.Other != 1 || st.NonIP != 1 || st.Frames != 6 {
		t.Errorf("messages %d, stats %s", len(r.msgs), statsLine(&st))
	}
	// SIP on a port outside the configured range is still found.
	sip := serialize(t, ethL(layers.EthernetTypeIPv4), ip4L(tSrc4, tDst4, layers.IPProtocolUDP), udpL(5080, 6060), gopacket.Payload(loadFixture(t, "ok.sip")))
	if err := p.Decode(sip, LinkEthernet, 0, 0, &r); err != nil || len(r.msgs) != 1 {
		t.Errorf("SIP on 6060: %v, %d messages", err, len(r.msgs))
	}
}

func TestPathConfigValidate(t *testing.T) {
	bad := []*PathConfig{
		{MaxTunnelDepth: -1},
		{MaxTunnelDepth: 17},
		{SIPPorts: []PortRange{{5061, 5060}}},
		{HEPPorts: []uint16{4789}, VXLANPorts: []uint16{4789}},
		{VXLANPorts: []uint16{0}},
		{Defrag: DefragConfig{MaxBytes: 100}},
		{TCP: TCPConfig{MaxFlowBytes: 10}},
		{SIP: &SIPConfig{ALegHeaders: []string{"bad header"}}},
	}
	for i, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: %+v validated", i, c)
		}
		if _, err := NewPath(c); err == nil {
			t.Errorf("case %d: NewPath accepted", i)
		}
	}
	var nilCfg *PathConfig
	if err := nilCfg.Validate(); err != nil {
		t.Error(err)
	}
	p, err := NewPath(&PathConfig{SIPPorts: []PortRange{{5060, 5090}}, VXLANPorts: []uint16{8472}})
	if err != nil {
		t.Fatal(err)
	}
	msg := loadFixture(t, "ok.sip")
	frame := serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4), ip4L(tOuterA4, tOuterB4, layers.IPProtocolUDP), udpL(1, 8472),
		&layers.VXLAN{ValidIDFlag: true, VNI: 3}, ethL(layers.EthernetTypeIPv4)), innerUDP4(msg))...)
	var r recorder
	if err := p.Decode(frame, LinkEthernet, 0, 0, &r); err != nil || len(r.msgs) != 1 || r.metas[0].Encap.String() != "eth/ip4/udp/vxlan/eth/ip4/udp" {
		t.Errorf("vxlan on 8472: %v %d", err, len(r.msgs))
	}
}

// hep3 builds a HEP v3 packet carrying payload with the given protocol type.
func hep3(payload []byte, ptype uint8) []byte {
	var b []byte
	chunk := func(typ uint16, v []byte) {
		b = append(b, 0, 0, byte(typ>>8), byte(typ), byte((6+len(v))>>8), byte(6+len(v)))
		b = append(b, v...)
	}
	chunk(0x0001, []byte{2})
	chunk(0x0002, []byte{17})
	chunk(0x0003, []byte{203, 0, 113, 1})
	chunk(0x0004, []byte{203, 0, 113, 2})
	chunk(0x0007, []byte{0x13, 0xc4})
	chunk(0x0008, []byte{0x13, 0xc5})
	chunk(0x0009, []byte{0x65, 0x53, 0xf1, 0x00})
	chunk(0x000a, []byte{0, 0, 0, 7})
	chunk(0x000b, []byte{ptype})
	chunk(0x000c, []byte{0, 0, 0, 42})
	chunk(0x000f, payload)
	n := 6 + len(b)
	return append([]byte{'H', 'E', 'P', '3', byte(n >> 8), byte(n)}, b...)
}

func TestPathHEP(t *testing.T) {
	msg := loadFixture(t, "ok.sip")
	frame := func(dport uint16, payload []byte) []byte {
		return serialize(t, ethL(layers.EthernetTypeIPv4), ip4L(tSrc4, tDst4, layers.IPProtocolUDP), udpL(40000, dport), gopacket.Payload(payload))
	}
	p, _ := NewPath(&PathConfig{HEPPorts: []uint16{9999}})
	var r recorder
	for _, fr := range [][]byte{frame(9999, hep3(msg, 1)), frame(12345, hep3(msg, 1)), frame(9999, hep3([]byte(`{"rtcp":1}`), 5)), frame(9999, []byte("HEP3\x00\x02"))} {
		_ = p.Decode(fr, LinkEthernet, 5, 0, &r)
	}
	st := p.Stats()
	if len(r.msgs) != 2 || st.HEP != 3 || st.HEPNonSIP != 1 || st.HEPErrors[ErrHEPBadLength]+st.HEPErrors[ErrHEPTruncated] != 1 {
		t.Fatalf("%d messages, stats HEP %d nonSIP %d errors %v", len(r.msgs), st.HEP, st.HEPNonSIP, st.HEPErrors)
	}
	m := r.metas[0]
	if m.Encap.String() != "eth/ip4/udp/hep" || m.Src.String() != "203.0.113.1" || m.SrcPort != 5060 || m.DstPort != 5061 ||
		m.CaptureID != 42 || m.HEPVersion != 3 || m.TS != 0x6553f100*1_000_000+7 || !bytes.Equal(r.msgs[0], msg) {
		t.Errorf("meta %+v", m)
	}
	if st.ByLayer[LayerHEP] != 2 || st.Plain != 0 {
		t.Errorf("by layer: hep %d plain %d", st.ByLayer[LayerHEP], st.Plain)
	}

	// A v3 message followed by a v2 one: only v3 carries its length, so the
	// v2 bytes are not a second message; the first is kept.
	v2 := buildHEP12(2, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 1, 2, 3, msg)
	var r2 recorder
	err := p.DecodeHEP(append(hep3(msg, 1), v2...), 9, &r2)
	if err != ErrHEPBadVersion || len(r2.msgs) != 1 || p.Stats().HEPErrors[ErrHEPBadVersion] != 1 {
		t.Errorf("v3 then v2: err %v, %d messages, bad version %d", err, len(r2.msgs), p.Stats().HEPErrors[ErrHEPBadVersion])
	}
}
