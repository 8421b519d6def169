package decode

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Test addresses: outer tunnel endpoints and the innermost SIP hosts.
var (
	tOuterA4 = net.IP{10, 0, 0, 1}
	tOuterB4 = net.IP{10, 0, 0, 2}
	tSrc4    = net.IP{192, 0, 2, 101}
	tDst4    = net.IP{198, 51, 100, 7}
	tOuterA6 = net.ParseIP("2001:db8::a")
	tOuterB6 = net.ParseIP("2001:db8::b")
	tSrc6    = net.ParseIP("2001:db8:1::101")
	tDst6    = net.ParseIP("2001:db8:2::7")
	tMACA    = net.HardwareAddr{0, 1, 2, 3, 4, 5}
	tMACB    = net.HardwareAddr{0, 1, 2, 3, 4, 6}
)

// loadFixture reads a file of testdata/frame.
func loadFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "frame", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serialize builds a packet from gopacket layers, fixing lengths.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ethL(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: tMACA, DstMAC: tMACB, EthernetType: t}
}

func ip4L(src, dst net.IP, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: src, DstIP: dst, Id: 0x1234}
}

func ip6L(src, dst net.IP, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: src, DstIP: dst}
}

func udpL(sp, dp uint16) *layers.UDP {
	return &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
}

// innerUDP4 is the innermost IPv4/UDP/SIP stack.
func innerUDP4(msg []byte) []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{ip4L(tSrc4, tDst4, layers.IPProtocolUDP), udpL(5060, 5060), gopacket.Payload(msg)}
}

func innerUDP6(msg []byte) []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{ip6L(tSrc6, tDst6, layers.IPProtocolUDP), udpL(5060, 5060), gopacket.Payload(msg)}
}

func cat(a ...[]gopacket.SerializableLayer) []gopacket.SerializableLayer {
	var out []gopacket.SerializableLayer
	for _, x := range a {
		out = append(out, x...)
	}
	return out
}

func ls(l ...gopacket.SerializableLayer) []gopacket.SerializableLayer { return l }

// rawLayer is a hand-built header (ERSPAN III, SLL, SLL2, null, SCTP).
type rawLayer []byte

func (r rawLayer) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	p, err := b.PrependBytes(len(r))
	if err != nil {
		return err
	}
	copy(p, r)
	return nil
}
func (r rawLayer) LayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

func sllHeader(proto uint16) rawLayer {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(h[4:], 6)
	copy(h[6:], tMACA)
	binary.BigEndian.PutUint16(h[14:], proto)
	return h
}

func sll2Header(proto uint16) rawLayer {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], proto)
	binary.BigEndian.PutUint32(h[4:], 3)
	binary.BigEndian.PutUint16(h[8:], 1)
	h[11] = 6
	copy(h[12:], tMACA)
	return h
}

// erspan3Header is a type III header (12 bytes, no platform sub-header).
func erspan3Header(vlan uint16) rawLayer {
	h := make([]byte, 12)
	binary.BigEndian.PutUint16(h[0:], 2<<12|vlan)
	binary.BigEndian.PutUint16(h[2:], 7)
	return h
}

// sctpData is an SCTP common header plus the given DATA chunks.
func sctpPacket(sp, dp uint16, chunks ...[]byte) rawLayer {
	h := make([]byte, 12)
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	for _, c := range chunks {
		h = append(h, c...)
	}
	return h
}

func sctpDataChunk(flags uint8, tsn uint32, data []byte) []byte {
	c := make([]byte, 16, 16+len(data)+3)
	c[0], c[1] = 0, flags
	binary.BigEndian.PutUint16(c[2:], uint16(16+len(data)))
	binary.BigEndian.PutUint32(c[4:], tsn)
	c = append(c, data...)
	for len(c)%4 != 0 {
		c = append(c, 0)
	}
	return c
}

func greL(proto layers.EthernetType) *layers.GRE {
	return &layers.GRE{Protocol: proto}
}
