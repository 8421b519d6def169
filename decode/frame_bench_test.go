package decode

import (
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// benchINVITEFrame is the ~860-byte Ethernet/802.1Q/IPv4/UDP INVITE frame.
func benchINVITEFrame(b *testing.B) []byte {
	msg := loadFixture(b, "invite.sip")
	return serialize(b, cat(ls(ethL(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}), innerUDP4(msg))...)
}

// BenchmarkEthernetToUDPPayload is the layer walk alone: Ethernet, one VLAN
// tag, IPv4, UDP, ending at the payload.
func BenchmarkEthernetToUDPPayload(b *testing.B) {
	frame := benchINVITEFrame(b)
	var (
		e  Ethernet
		v  VLAN
		ip IPv4
		u  UDP
	)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = e.DecodeFrom(frame)
		_ = v.DecodeFrom(e.Payload)
		_ = ip.DecodeFrom(v.Payload)
		_ = u.DecodeFrom(ip.Payload)
		n += len(u.Payload)
	}
	if n == 0 {
		b.Fatal("no payload")
	}
}

// BenchmarkPathINVITE is the whole path on the INVITE frame down to the SIP
// fields (handler counts).
func BenchmarkPathINVITE(b *testing.B) {
	frame := benchINVITEFrame(b)
	p, _ := NewPath(nil)
	h := &countHandler{}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	ts := int64(0)
	for b.Loop() {
		ts++
		_ = p.Decode(frame, LinkEthernet, ts, 0, h)
	}
	if h.n == 0 {
		b.Fatal("no message")
	}
}

// BenchmarkPathNonSIP is the whole path on an RTP-like frame: link to UDP,
// no SIP.
func BenchmarkPathNonSIP(b *testing.B) {
	frame := serialize(b, ethL(layers.EthernetTypeIPv4), ip4L(tSrc4, tDst4, layers.IPProtocolUDP), udpL(30000, 30002), gopacket.Payload(make([]byte, 172)))
	p, _ := NewPath(nil)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Decode(frame, LinkEthernet, 1, 0, nil)
	}
}

// BenchmarkPathEncap runs the whole path on each generated encapsulation.
func BenchmarkPathEncap(b *testing.B) {
	msg := loadFixture(b, "invite.sip")
	for _, c := range encapCases(b, msg) {
		switch c.name {
		case "eth/ip4/udp", "802.1Q", "802.1ad QinQ", "MPLS stack", "IPIP 4in4", "GRE key+seq+csum", "GRE TEB", "ERSPAN II", "VXLAN", "GENEVE", "eth/ip6/udp", "SLL", "SCTP":
		default:
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			p, _ := NewPath(nil)
			h := &countHandler{}
			b.SetBytes(int64(len(c.frame)))
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Decode(c.frame, c.link, 1, c.tci, h)
			}
		})
	}
}

// BenchmarkPathTCPSplit feeds an INVITE split over two TCP segments.
func BenchmarkPathTCPSplit(b *testing.B) {
	inv := loadFixture(b, "invite.sip")
	var segs [][]byte
	seq := uint32(1)
	for i := 0; i < 1024; i++ {
		segs = append(segs, tcpSeg(b, 5060, seq, inv[:400], false), tcpSeg(b, 5060, seq+400, inv[400:], false))
		seq += uint32(len(inv))
	}
	p, _ := NewPath(nil)
	h := &countHandler{}
	b.SetBytes(int64(len(segs[0]) + len(segs[1])))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(segs) { // start a new connection direction
			p, _ = NewPath(nil)
			i = 0
		}
		_ = p.Decode(segs[i], LinkEthernet, 1, 0, h)
		_ = p.Decode(segs[i+1], LinkEthernet, 1, 0, h)
		i += 2
	}
}

// BenchmarkPathDefrag reassembles a 3000-byte SIP message from 3 IPv4
// fragments delivered out of order.
func BenchmarkPathDefrag(b *testing.B) {
	dgram := udpDatagram(b, bigSIP(b, 3000))
	frags := fragments(b, false, 7, dgram, []fragPiece{{2960, 9999}, {0, 1480}, {1480, 2960}})
	p, _ := NewPath(nil)
	h := &countHandler{}
	b.SetBytes(int64(len(dgram)))
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frags {
			_ = p.Decode(f, LinkEthernet, 1, 0, h)
		}
	}
	if h.n == 0 {
		b.Fatal("no message")
	}
}

// BenchmarkPathCaptures runs the whole path over the frames of real SIP
// captures (each file's frames in a loop, one Path per file).
func BenchmarkPathCaptures(b *testing.B) {
	dir := sharedPcapDir(b)
	for _, name := range []string{"sip-udp-register-auth-invite-cancel-ipv4.pcap", "sip-udp-in-gre-teb.pcapng", "sip-tcp-segmented-port6060-ipv4.pcap", "sip-udp-ipv6-fragmented-sll.pcap"} {
		pkts := readCapture(b, filepath.Join(dir, name))
		b.Run(name, func(b *testing.B) {
			var bytes int64
			for _, pk := range pkts {
				bytes += int64(len(pk.data))
			}
			b.SetBytes(bytes)
			b.ReportAllocs()
			h := &countHandler{}
			var p *Path
			for b.Loop() {
				p, _ = NewPath(nil) // a fresh Path per pass so TCP data is new
				for _, pk := range pkts {
					_ = p.Decode(pk.data, pk.link, pk.ts, 0, h)
				}
			}
			b.ReportMetric(float64(h.n)/float64(b.N), "msgs/op")
		})
	}
}

// Per-layer decoders on their headers from the INVITE frames.
func BenchmarkLayers(b *testing.B) {
	frame := benchINVITEFrame(b)
	tcp := tcpSeg(b, 5060, 1, loadFixture(b, "ok.sip"), false)
	gre := []byte{0xb0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2}
	vx := []byte{8, 0, 0, 0, 0, 0x13, 0x89, 0, 0}
	ip6 := serialize(b, innerUDP6([]byte("x"))...)
	var (
		e  Ethernet
		v  VLAN
		i4 IPv4
		i6 IPv6
		u  UDP
		t  TCP
		g  GRE
		x  VXLAN
	)
	for _, c := range []struct {
		name string
		n    int
		fn   func()
	}{
		{"Ethernet", 14, func() { _ = e.DecodeFrom(frame) }},
		{"VLAN", 4, func() { _ = v.DecodeFrom(frame[14:]) }},
		{"IPv4", 20, func() { _ = i4.DecodeFrom(frame[18:]) }},
		{"IPv6", 40, func() { _ = i6.DecodeFrom(ip6) }},
		{"UDP", 8, func() { _ = u.DecodeFrom(frame[38:]) }},
		{"TCP", 20, func() { _ = t.DecodeFrom(tcp[34:]) }},
		{"GRE", 16, func() { _ = g.DecodeFrom(gre) }},
		{"VXLAN", 8, func() { _ = x.DecodeFrom(vx) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(c.n))
			b.ReportAllocs()
			for b.Loop() {
				c.fn()
			}
		})
	}
}
