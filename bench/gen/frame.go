package gen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Encap is how a SIP message is carried in Ethernet frames.
type Encap uint8

// Encapsulations. EncapFrag is IPv4/UDP split into IP fragments; it is also
// used for any UDP message larger than the MTU, whatever the mix chose.
const (
	EncapUDP   Encap = iota // eth/ip4/udp
	EncapVLAN               // eth/vlan/ip4/udp
	EncapIPIP               // eth/ip4/ip4/udp (IP protocol 4)
	EncapGRE                // eth/ip4/gre/ip4/udp
	EncapVXLAN              // eth/ip4/udp:4789/vxlan/eth/ip4/udp
	EncapIPv6               // eth/ip6/udp
	EncapTCP                // eth/ip4/tcp, each message split into several segments
	EncapFrag               // eth/ip4 fragments of a UDP datagram
	numEncaps
)

var encapNames = [numEncaps]string{"udp", "vlan", "ipip", "gre", "vxlan", "ipv6", "tcp", "frag"}

func (e Encap) String() string {
	if e < numEncaps {
		return encapNames[e]
	}
	return "encap(" + strconv.Itoa(int(e)) + ")"
}

// ParseEncap parses an encapsulation name as printed by String.
func ParseEncap(s string) (Encap, error) {
	for i, n := range encapNames {
		if n == s {
			return Encap(i), nil
		}
	}
	return 0, fmt.Errorf("encapsulation %q: allowed: %s", s, strings.Join(encapNames[:], ", "))
}

// Mix is a weight per encapsulation; a scenario's encapsulation is drawn
// with these weights.
type Mix [numEncaps]int

// AllEncaps weighs every encapsulation equally.
var AllEncaps = Mix{1, 1, 1, 1, 1, 1, 1, 1}

// ParseMix parses "udp=4,vlan=1,tcp=2" (a name alone weighs 1; "all" is
// AllEncaps).
func ParseMix(s string) (Mix, error) {
	var m Mix
	if s == "all" {
		return AllEncaps, nil
	}
	for _, f := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(f), "=")
		e, err := ParseEncap(name)
		if err != nil {
			return m, err
		}
		n := 1
		if ok {
			if n, err = strconv.Atoi(w); err != nil || n < 0 || n > 1e6 {
				return m, fmt.Errorf("weight of %s %q: allowed: 0 to 1000000", name, w)
			}
		}
		m[e] += n
	}
	if m.total() == 0 {
		return m, errors.New("encapsulation mix has no positive weight")
	}
	return m, nil
}

func (m *Mix) total() int {
	t := 0
	for _, w := range m {
		t += w
	}
	return t
}

// pick draws an encapsulation with r in [0, total).
func (m *Mix) pick(r int) Encap {
	for i, w := range m {
		if r < w {
			return Encap(i)
		}
		r -= w
	}
	return EncapUDP
}

// String prints m as ParseMix reads it.
func (m Mix) String() string {
	var parts []string
	for i, w := range m {
		if w > 0 {
			parts = append(parts, encapNames[i]+"="+strconv.Itoa(w))
		}
	}
	return strings.Join(parts, ",")
}

// MTU is the IP MTU the framer fragments UDP datagrams at.
const MTU = 1500

// Addresses of the outer headers of tunnels and of the link layer.
var (
	macA       = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	macB       = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}
	tunnelSrc  = net.IP{198, 51, 100, 1}
	tunnelDst  = net.IP{198, 51, 100, 2}
	vxlanInner = net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, 0x00, 0x01}
)

// Framer turns messages into Ethernet frames. It keeps TCP sequence numbers
// per direction and the IPv4 id counter. Not safe for concurrent use.
type Framer struct {
	// Segments is how many TCP segments each message over TCP is split
	// into (at least 1; default 3).
	Segments int
	// VLAN is the 802.1Q id of EncapVLAN frames (default 100).
	VLAN uint16
	// SrcMAC and DstMAC override the outer Ethernet addresses (defaults are
	// locally administered addresses foreign to any host).
	SrcMAC, DstMAC net.HardwareAddr

	ipID uint16
	seq  map[[2]netip.AddrPort]uint32
	buf  gopacket.SerializeBuffer
}

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

// Frames appends to dst the frames that carry m under encapsulation e and
// returns them with the encapsulation really used (UDP messages larger than
// the MTU become EncapFrag; a message generated for TCP is always EncapTCP,
// and one generated for UDP is never). Each frame is a new slice.
func (f *Framer) Frames(dst [][]byte, m *Message, e Encap) ([][]byte, Encap, error) {
	if f.buf == nil {
		f.buf = gopacket.NewSerializeBuffer()
		f.seq = map[[2]netip.AddrPort]uint32{}
	}
	switch {
	case m.Transport == TCP:
		e = EncapTCP
	case e == EncapTCP:
		e = EncapUDP
	}
	if m.Src.Addr().Is6() != m.Dst.Addr().Is6() {
		return dst, e, errors.New("message with mixed address families")
	}
	if m.Src.Addr().Is6() {
		if e != EncapTCP {
			e = EncapIPv6
		}
	} else if e == EncapIPv6 {
		e = EncapUDP
	}
	if e != EncapTCP && 8+len(m.Data)+ipHeaderLen(m) > MTU && e != EncapIPv6 {
		e = EncapFrag
	}
	var err error
	switch e {
	case EncapTCP:
		dst, err = f.tcp(dst, m)
	case EncapFrag:
		dst, err = f.frag(dst, m)
	default:
		var frame []byte
		frame, err = f.udpFrame(m, e)
		dst = append(dst, frame)
	}
	return dst, e, err
}

func ipHeaderLen(m *Message) int {
	if m.Src.Addr().Is6() {
		return 40
	}
	return 20
}

func (f *Framer) macs() (net.HardwareAddr, net.HardwareAddr) {
	s, d := f.SrcMAC, f.DstMAC
	if s == nil {
		s = macA
	}
	if d == nil {
		d = macB
	}
	return s, d
}

func (f *Framer) nextID() uint16 {
	f.ipID++
	return f.ipID
}

// innerIP returns the IP layer of m (IPv4 with DF set, or IPv6) carrying proto.
func (f *Framer) innerIP(m *Message, proto layers.IPProtocol) gopacket.SerializableLayer {
	if m.Src.Addr().Is6() {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto,
			SrcIP: m.Src.Addr().AsSlice(), DstIP: m.Dst.Addr().AsSlice()}
	}
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: f.nextID(), Flags: layers.IPv4DontFragment, Protocol: proto,
		SrcIP: m.Src.Addr().AsSlice(), DstIP: m.Dst.Addr().AsSlice()}
}

func (f *Framer) serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	if err := gopacket.SerializeLayers(f.buf, serializeOpts, ls...); err != nil {
		return nil, fmt.Errorf("serialize frame: %w", err)
	}
	return append([]byte(nil), f.buf.Bytes()...), nil
}

func (f *Framer) udpFrame(m *Message, e Encap) ([]byte, error) {
	src, dst := f.macs()
	ip := f.innerIP(m, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(m.Src.Port()), DstPort: layers.UDPPort(m.Dst.Port())}
	udp.SetNetworkLayerForChecksum(ip.(gopacket.NetworkLayer))
	payload := gopacket.Payload(m.Data)
	outer := func(proto layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: f.nextID(), Protocol: proto, SrcIP: tunnelSrc, DstIP: tunnelDst}
	}
	switch e {
	case EncapUDP:
		return f.serialize(&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4}, ip, udp, payload)
	case EncapIPv6:
		return f.serialize(&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv6}, ip, udp, payload)
	case EncapVLAN:
		id := f.VLAN
		if id == 0 {
			id = 100
		}
		return f.serialize(&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: id, Type: layers.EthernetTypeIPv4}, ip, udp, payload)
	case EncapIPIP:
		return f.serialize(&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4},
			outer(layers.IPProtocolIPv4), ip, udp, payload)
	case EncapGRE:
		return f.serialize(&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4},
			outer(layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeIPv4}, ip, udp, payload)
	case EncapVXLAN:
		o := outer(layers.IPProtocolUDP)
		ou := &layers.UDP{SrcPort: layers.UDPPort(49152 + m.Scenario%16384), DstPort: 4789}
		ou.SetNetworkLayerForChecksum(o)
		return f.serialize(&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4}, o, ou,
			&layers.VXLAN{ValidIDFlag: true, VNI: 4242},
			&layers.Ethernet{SrcMAC: vxlanInner, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4}, ip, udp, payload)
	}
	return nil, fmt.Errorf("encapsulation %s is not a single UDP frame", e)
}

// frag splits the IPv4/UDP datagram of m into fragments of at most MTU
// bytes (or, when it fits, into two halves, so that every EncapFrag message
// really is fragmented).
func (f *Framer) frag(dst [][]byte, m *Message) ([][]byte, error) {
	if m.Src.Addr().Is6() {
		return dst, errors.New("fragments are generated for IPv4 only")
	}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: m.Src.Addr().AsSlice(), DstIP: m.Dst.Addr().AsSlice()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(m.Src.Port()), DstPort: layers.UDPPort(m.Dst.Port())}
	udp.SetNetworkLayerForChecksum(ip)
	if err := gopacket.SerializeLayers(f.buf, serializeOpts, udp, gopacket.Payload(m.Data)); err != nil {
		return dst, fmt.Errorf("serialize udp: %w", err)
	}
	dgram := append([]byte(nil), f.buf.Bytes()...)
	chunk := (MTU - 20) &^ 7
	if len(dgram) <= chunk {
		chunk = ((len(dgram) + 1) / 2) &^ 7
		if chunk == 0 {
			chunk = 8
		}
	}
	id := f.nextID()
	src, dmac := f.macs()
	for off := 0; off < len(dgram); off += chunk {
		end := min(off+chunk, len(dgram))
		fr := *ip
		fr.Id = id
		fr.FragOffset = uint16(off / 8)
		if end < len(dgram) {
			fr.Flags = layers.IPv4MoreFragments
		}
		frame, err := f.serialize(&layers.Ethernet{SrcMAC: src, DstMAC: dmac, EthernetType: layers.EthernetTypeIPv4},
			&fr, gopacket.Payload(dgram[off:end]))
		if err != nil {
			return dst, err
		}
		dst = append(dst, frame)
	}
	return dst, nil
}

// tcp splits m into f.Segments segments (fewer for a short message) of the
// direction's stream.
func (f *Framer) tcp(dst [][]byte, m *Message) ([][]byte, error) {
	n := f.Segments
	if n <= 0 {
		n = 3
	}
	key := [2]netip.AddrPort{m.Src, m.Dst}
	seq, ok := f.seq[key]
	if !ok {
		seq = uint32(m.Scenario)*7919 + 1000
	}
	src, dmac := f.macs()
	et := layers.EthernetTypeIPv4
	if m.Src.Addr().Is6() {
		et = layers.EthernetTypeIPv6
	}
	size := (len(m.Data) + n - 1) / n
	for off := 0; off < len(m.Data); {
		end := min(off+size, len(m.Data))
		ip := f.innerIP(m, layers.IPProtocolTCP)
		t := &layers.TCP{SrcPort: layers.TCPPort(m.Src.Port()), DstPort: layers.TCPPort(m.Dst.Port()),
			Seq: seq, Ack: 1, ACK: true, PSH: end == len(m.Data), Window: 65535}
		t.SetNetworkLayerForChecksum(ip.(gopacket.NetworkLayer))
		frame, err := f.serialize(&layers.Ethernet{SrcMAC: src, DstMAC: dmac, EthernetType: et}, ip, t, gopacket.Payload(m.Data[off:end]))
		if err != nil {
			return dst, err
		}
		dst = append(dst, frame)
		seq += uint32(end - off)
		off = end
	}
	f.seq[key] = seq
	return dst, nil
}
