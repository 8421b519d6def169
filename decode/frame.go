package decode

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"time"
)

// Handler receives each SIP message the frame path finds: every payload that
// starts with a valid SIP request or status line. err is nil for a message
// that decoded cleanly, else the SIP decoder's sentinel (*SIPError, never
// ErrNotSIP): s then holds what could be read (Msg is always set), so the
// caller chooses whether to store malformed messages. m and s are owned by
// the Path and valid only during the call: their byte slices alias the frame
// handed to Decode or the Path's own reassembly buffers (IP defrag, TCP
// stream), both reused by the next Decode. Copy what must outlive the call.
type Handler interface {
	SIP(m *Meta, s *SIP, err error)
}

// PortRange is an inclusive range of UDP/TCP ports.
type PortRange struct{ Lo, Hi uint16 }

// Default ports.
const (
	DefaultSIPPortLo    = 5060
	DefaultSIPPortHi    = 5061
	DefaultHEPPort      = 9060
	DefaultVXLANPort    = 4789
	DefaultGENEVEPort   = 6081
	DefaultTunnelDepth  = 4
	maxTunnelDepthLimit = 16
	maxVLANTags         = 8
	expireEveryMicros   = 1_000_000 // how often (capture time) state is swept
	maxHEPPerDatagram   = 8
	maxSCTPChunksPerPkt = 64
)

// PathConfig configures a Path. The zero value of each field means its
// default; a nil *PathConfig means all defaults.
type PathConfig struct {
	// SIPPorts are the UDP/TCP ports whose payloads are expected to be SIP;
	// default 5060-5061. Payloads on these ports that are not SIP are counted
	// as NonSIP. A payload on any other port is still decoded as SIP when it
	// starts with a SIP request or status line (the kernel filter already
	// chose the traffic), so SIP on 6060 or 5080 is found without listing it.
	SIPPorts []PortRange
	// HEPPorts are UDP destination ports carrying HEP; default 9060. A UDP
	// payload that starts with "HEP3" or "EEP3" is decoded as HEP on any port.
	HEPPorts []uint16
	// VXLANPorts are UDP destination ports carrying VXLAN; default 4789.
	VXLANPorts []uint16
	// GENEVEPorts are UDP destination ports carrying Geneve; default 6081.
	GENEVEPorts []uint16
	// MaxTunnelDepth bounds nested tunnels (IPIP, GRE, VXLAN, Geneve);
	// default 4, at most 16.
	MaxTunnelDepth int
	// SIP configures the SIP decoder (a-leg and custom headers); nil = defaults.
	SIP *SIPConfig
	// Defrag bounds IP reassembly; TCP bounds SIP-over-TCP reassembly.
	Defrag DefragConfig
	TCP    TCPConfig
}

// Validate checks c. A nil c is valid.
func (c *PathConfig) Validate() error {
	if c == nil {
		return nil
	}
	switch {
	case c.MaxTunnelDepth < 0 || c.MaxTunnelDepth > maxTunnelDepthLimit:
		return fmt.Errorf("tunnel depth %d must be between 0 and %d", c.MaxTunnelDepth, maxTunnelDepthLimit)
	}
	for _, r := range c.SIPPorts {
		if r.Lo > r.Hi || r.Lo == 0 {
			return fmt.Errorf("sip port range %d-%d is empty or starts at 0", r.Lo, r.Hi)
		}
	}
	var seen [65536]uint8
	mark := func(what string, bit uint8, ports []uint16) error {
		for _, p := range ports {
			if p == 0 {
				return fmt.Errorf("%s port 0 is not a port", what)
			}
			if seen[p]&^bit != 0 {
				return fmt.Errorf("%s port %d is already used by another decoder", what, p)
			}
			seen[p] |= bit
		}
		return nil
	}
	if err := mark("hep", portHEP, c.HEPPorts); err != nil {
		return err
	}
	if err := mark("vxlan", portVXLAN, c.VXLANPorts); err != nil {
		return err
	}
	if err := mark("geneve", portGENEVE, c.GENEVEPorts); err != nil {
		return err
	}
	if err := c.SIP.Validate(); err != nil {
		return err
	}
	if err := c.Defrag.Validate(); err != nil {
		return err
	}
	return c.TCP.Validate()
}

// Port classes in Path.ports.
const (
	portSIP uint8 = 1 << iota
	portHEP
	portVXLAN
	portGENEVE
)

// Stats counts what a Path saw. All counters only grow. Arrays are indexed by
// Layer and FrameErrorKind so that counting never allocates.
type Stats struct {
	Frames      uint64 // frames handed to Decode
	SIPMessages uint64 // messages handed to the Handler
	// ByLayer[l] counts SIP messages whose Encap contains layer l (once per
	// message); Plain counts those with no VLAN, MPLS, tunnel, fragment or HEP.
	ByLayer [maxFrameLayers]uint64
	Plain   uint64
	// Errors[layer][kind] counts frame errors returned by Decode.
	Errors [maxFrameLayers][numFrameErrorKinds]uint64
	// SIPErrors counts messages the SIP decoder flagged, by kind (index
	// names: SIPErrorKindAt). Flagged messages other than not_sip are still
	// handed to the Handler and counted in SIPMessages.
	SIPErrors [8]uint64
	// HEPErrors counts HEP datagrams that did not decode, by HEPError value.
	HEPErrors [16]uint64
	HEP       uint64 // HEP packets decoded
	HEPNonSIP uint64 // HEP packets of another payload type (RTCP, logs)
	NonIP     uint64 // frames with no IP (ARP, STP, LLC)
	// NonSIP counts UDP/TCP/SCTP payloads on SIP ports (or in SIP flows) that
	// are not SIP (HTTP on 5060, "hello" and CRLF keepalives, junk).
	NonSIP uint64
	// Other counts IP packets that are neither SIP nor a known tunnel
	// (RTP, DNS, ICMP, …).
	Other          uint64
	SCTPFragmented uint64 // SCTP DATA fragments dropped (missing start, hole, over 64 KiB)
	Defrag         DefragStats
	TCP            TCPStats
}

// Path decodes captured frames down to SIP messages: link layer, VLAN, MPLS,
// IPv4/IPv6, tunnels, IP defragmentation, UDP, TCP stream reassembly, SCTP,
// HEP and SIP. It owns its decoders and reassembly state; one Path per
// worker, never shared between goroutines, no locks. Decode never allocates
// on the per-packet path once reassembly buffers have grown.
type Path struct {
	cfg    PathConfig
	ports  [65536]uint8
	depth  int // tunnels entered in the current frame
	maxDep int
	// layersOnly turns plainUDP4 off, for the tests that compare it with
	// the layer by layer path.
	layersOnly bool

	meta Meta
	sip  SIP
	hep  HEP
	h    Handler

	defrag Defrag
	tcp    TCPStreams
	now    int64
	swept  int64

	eth    Ethernet
	sll    SLL
	sll2   SLL2
	vlan   VLAN
	mpls   MPLS
	ip4    IPv4
	ip6    IPv6
	udp    UDP
	tcph   TCP
	sctp   SCTP
	chunk  SCTPChunk
	sctpRe sctpReasm
	gre    GRE
	erspan ERSPAN
	vxlan  VXLAN
	geneve GENEVE

	stats Stats
}

// NewPath returns a Path for cfg (nil means defaults). It returns an error
// when cfg does not validate.
func NewPath(cfg *PathConfig) (*Path, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure frame path: %w", err)
	}
	p := &Path{}
	if cfg != nil {
		p.cfg = *cfg
	}
	c := &p.cfg
	if len(c.SIPPorts) == 0 {
		c.SIPPorts = []PortRange{{DefaultSIPPortLo, DefaultSIPPortHi}}
	}
	if len(c.HEPPorts) == 0 {
		c.HEPPorts = []uint16{DefaultHEPPort}
	}
	if len(c.VXLANPorts) == 0 {
		c.VXLANPorts = []uint16{DefaultVXLANPort}
	}
	if len(c.GENEVEPorts) == 0 {
		c.GENEVEPorts = []uint16{DefaultGENEVEPort}
	}
	if c.MaxTunnelDepth == 0 {
		c.MaxTunnelDepth = DefaultTunnelDepth
	}
	p.maxDep = c.MaxTunnelDepth
	for _, r := range c.SIPPorts {
		for q := int(r.Lo); q <= int(r.Hi); q++ {
			p.ports[q] |= portSIP
		}
	}
	for _, q := range c.HEPPorts {
		p.ports[q] |= portHEP
	}
	for _, q := range c.VXLANPorts {
		p.ports[q] |= portVXLAN
	}
	for _, q := range c.GENEVEPorts {
		p.ports[q] |= portGENEVE
	}
	if err := p.sip.Configure(c.SIP); err != nil {
		return nil, fmt.Errorf("configure sip decoder: %w", err)
	}
	p.defrag.init(&c.Defrag)
	p.tcp.init(&c.TCP)
	return p, nil
}

// Stats returns a copy of the counters.
func (p *Path) Stats() Stats { return p.stats }

// StatsRef returns the live counters, for a worker that publishes them
// itself; read them only from the Path's goroutine.
func (p *Path) StatsRef() *Stats { return &p.stats }

// Decode finds every SIP message in one captured frame and calls h.SIP for
// each (zero, one or several: TCP segments and completed IP datagrams may
// carry several). link is the frame's link type; tsMicros its capture time in
// microseconds since the Unix epoch, which also drives reassembly timeouts;
// vlanTCI a VLAN tag the kernel stripped from the frame (TPACKET_V3
// tp_vlan_tci; 0 = none), recorded as the outermost tag. h may be nil to only
// count. Decode returns a FrameError for a frame it could not decode (after
// counting it); SIP decode failures are counted in Stats.SIPErrors and not
// returned. Decode does not retain frame after it returns, except for
// fragments and TCP data copied into the Path's own buffers.
func (p *Path) Decode(frame []byte, link LinkType, tsMicros int64, vlanTCI uint16, h Handler) error {
	p.stats.Frames++
	p.h = h
	if tsMicros-p.swept >= expireEveryMicros || tsMicros < p.swept {
		p.Expire(tsMicros)
	}
	p.now = tsMicros
	p.depth = 0
	p.meta = Meta{TS: tsMicros}
	if link == LinkEthernet && vlanTCI == 0 && !p.layersOnly && p.plainUDP4(frame) {
		p.h = nil
		return nil
	}
	err := p.link(frame, link, vlanTCI)
	p.h = nil
	if err != nil {
		p.countErr(err)
	}
	return err
}

// DecodeHEP decodes one HEP packet received by a listener (a UDP datagram,
// or a message framed out of a TCP or TLS stream) exactly as HEP found in a
// captured frame: every HEP message in it, SIP handed to h, other payload
// types and errors counted. tsMicros is the receive time, used when the
// packet carries none. It returns the HEP decoder's error for the first
// message that did not decode, nil otherwise.
func (p *Path) DecodeHEP(packet []byte, tsMicros int64, h Handler) error {
	p.h = h
	p.now = tsMicros
	p.meta = Meta{TS: tsMicros}
	err := p.hepIn(packet)
	p.h = nil
	return err
}

// Expire evicts IP fragments and TCP flows idle since before now (capture
// time in microseconds) and hands on SIP messages held behind TCP holes that
// waited too long (to the Handler of the Decode call in progress; when a
// worker calls Expire itself, between frames, they are counted but not
// handed on — use ExpireTo). Decode calls it once per second of capture time.
func (p *Path) Expire(now int64) {
	p.swept = now
	p.defrag.Expire(now)
	p.tcp.expire(now, p)
	p.stats.Defrag = p.defrag.stats
	p.stats.TCP = p.tcp.stats
}

// Flush hands on the SIP messages held behind TCP holes, for the end of a
// capture file: call it after the last Decode. h receives them as in Decode,
// with a Meta rebuilt from the flow (addresses, ports, VLAN ids, encapsulation
// and the time of the flow's last segment).
func (p *Path) Flush(h Handler) {
	p.h = h
	p.tcp.flush(p)
	p.h = nil
	p.stats.TCP = p.tcp.stats
}

// flowSink makes p emit messages of flow f outside Decode: p.meta is rebuilt
// from the flow.
func (p *Path) flowSink(f *tcpFlow) sipSink {
	k := &f.key
	p.meta = Meta{TS: f.last, Family: k.family, Proto: 6, SrcPort: k.sport, DstPort: k.dport,
		VLAN: f.vlan, InnerVLAN: f.ivlan, Encap: f.encap}
	if k.family == 2 {
		p.meta.Src = netip.AddrFrom4([4]byte(k.src[:4]))
		p.meta.Dst = netip.AddrFrom4([4]byte(k.dst[:4]))
	} else {
		p.meta.Src, p.meta.Dst = netip.AddrFrom16(k.src), netip.AddrFrom16(k.dst)
	}
	return p
}

// ExpireTo is Expire for a worker with no traffic: released messages go to h.
func (p *Path) ExpireTo(now int64, h Handler) {
	p.h = h
	p.Expire(now)
	p.h = nil
}

func (p *Path) countErr(err error) {
	if fe, ok := err.(FrameError); ok {
		l, k := int(fe.Layer()), fe.Kind()
		if l < maxFrameLayers && k < numFrameErrorKinds {
			p.stats.Errors[l][k]++
		}
	}
}

func (p *Path) link(b []byte, link LinkType, tci uint16) error {
	switch link {
	case LinkEthernet:
		p.meta.Encap.Push(LayerEthernet)
		if err := p.eth.DecodeFrom(b); err != nil {
			return err
		}
		p.strippedVLAN(tci)
		return p.etherType(p.eth.EtherType, p.eth.Payload)
	case LinkSLL:
		p.meta.Encap.Push(LayerSLL)
		if err := p.sll.DecodeFrom(b); err != nil {
			return err
		}
		p.strippedVLAN(tci)
		return p.etherType(p.sll.Protocol, p.sll.Payload)
	case LinkSLL2:
		p.meta.Encap.Push(LayerSLL2)
		if err := p.sll2.DecodeFrom(b); err != nil {
			return err
		}
		p.strippedVLAN(tci)
		return p.etherType(p.sll2.Protocol, p.sll2.Payload)
	case LinkRaw, LinkRawBSD, LinkRawAlt, LinkIPv4, LinkIPv6:
		p.meta.Encap.Push(LayerRawIP)
		p.strippedVLAN(tci)
		et := rawEtherType(b)
		if et == 0 || (link == LinkIPv4 && et != etherTypeIPv4) || (link == LinkIPv6 && et != etherTypeIPv6) {
			return errRawMalformed
		}
		return p.etherType(et, b)
	case LinkNull, LinkLoop:
		p.meta.Encap.Push(LayerLoopback)
		if len(b) < 4 {
			return errNullTruncated
		}
		et := loopbackEtherType(b[:4])
		if et == 0 {
			p.stats.NonIP++
			return nil
		}
		return p.etherType(et, b[4:])
	}
	return frameErr(LayerNone, KindUnsupported)
}

// plainUDP4 takes the commonest frame, Ethernet then IPv4 without options
// or fragmentation then UDP to a port that is neither a tunnel's nor HEP's,
// through its layers in one function, with the effects the layer by layer
// path has on it (Encap, Meta, counts, the datagram handed on); a frame
// with a VLAN tag, a tunnel, a fragment, options or any length out of the
// ordinary gets false, with nothing changed, and takes that path instead.
// Half the frames of a mirror port are plain; on them the layer structs
// and the calls between them were a tenth of the time per message.
func (p *Path) plainUDP4(b []byte) bool {
	if len(b) < 14+20+8 || b[12] != 0x08 || b[13] != 0x00 || b[14] != 0x45 || b[23] != 17 {
		return false
	}
	ip := b[14:]
	tl := int(binary.BigEndian.Uint16(ip[2:4]))
	if tl < 20+8 || tl > len(ip) || binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		return false // a TSO length of 0, truncated, or a fragment
	}
	u := ip[20:tl]
	sport, dport := binary.BigEndian.Uint16(u[0:2]), binary.BigEndian.Uint16(u[2:4])
	n := int(binary.BigEndian.Uint16(u[4:6]))
	if n < 8 || n > len(u) {
		return false
	}
	payload := u[8:n]
	dc, sc := p.ports[dport], p.ports[sport]
	if dc&(portVXLAN|portGENEVE|portHEP) != 0 || looksLikeHEP3(payload) {
		return false
	}
	e := &p.meta.Encap
	e.Push(LayerEthernet)
	e.Push(LayerIPv4)
	e.Push(LayerUDP)
	p.meta.Family, p.meta.Proto = 2, 17
	p.meta.Src = netip.AddrFrom4([4]byte(ip[12:16]))
	p.meta.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
	p.meta.SrcPort, p.meta.DstPort = sport, dport
	p.datagram(payload, (dc|sc)&portSIP != 0)
	return true
}

func (p *Path) strippedVLAN(tci uint16) {
	if tci != 0 {
		p.meta.Encap.Push(LayerVLAN)
		p.noteVLAN(tci & 0x0fff)
	}
}

// noteVLAN records a tag: the first non-zero id is VLAN, the next InnerVLAN
// (priority tags, id 0, are skipped).
func (p *Path) noteVLAN(id uint16) {
	switch {
	case p.meta.VLAN == 0:
		p.meta.VLAN = id
	case p.meta.InnerVLAN == 0:
		p.meta.InnerVLAN = id
	}
}

// etherType dispatches on an EtherType, following VLAN tags first.
func (p *Path) etherType(et uint16, b []byte) error {
	for n := 0; isVLANEtherType(et); n++ {
		if n >= maxVLANTags {
			return errVLANTooDeep
		}
		if err := p.vlan.DecodeFrom(b); err != nil {
			return err
		}
		p.meta.Encap.Push(LayerVLAN)
		p.noteVLAN(p.vlan.ID())
		et, b = p.vlan.EtherType, p.vlan.Payload
	}
	switch et {
	case etherTypeIPv4:
		return p.ipv4(b)
	case etherTypeIPv6:
		return p.ipv6(b)
	case etherTypeMPLS, etherTypeMPLSMC:
		if err := p.mpls.DecodeFrom(b); err != nil {
			p.meta.Encap.Push(LayerMPLS)
			return err
		}
		p.meta.Encap.Push(LayerMPLS)
		switch p.mpls.Next {
		case etherTypeIPv4, etherTypeIPv6:
			return p.etherType(p.mpls.Next, p.mpls.Payload)
		case etherTypeTEB:
			return p.ethernetIn(p.mpls.Payload)
		}
		p.stats.NonIP++
		return nil
	case 0x8864: // PPPoE session: 6-byte header, then PPP
		if len(b) < 6 {
			return errPPPTruncated
		}
		p.meta.Encap.Push(LayerPPP)
		et2, rest, err := pppEtherType(b[6:])
		if err != nil {
			return err
		}
		if et2 == 0 {
			p.stats.NonIP++
			return nil
		}
		return p.etherType(et2, rest)
	}
	p.stats.NonIP++
	return nil
}

// ethernetIn decodes an Ethernet frame carried in a tunnel.
func (p *Path) ethernetIn(b []byte) error {
	p.meta.Encap.Push(LayerEthernet)
	if err := p.eth.DecodeFrom(b); err != nil {
		return err
	}
	return p.etherType(p.eth.EtherType, p.eth.Payload)
}

func (p *Path) ipv4(b []byte) error {
	p.meta.Encap.Push(LayerIPv4)
	ip := &p.ip4
	if err := ip.DecodeFrom(b); err != nil {
		return err
	}
	p.meta.Family = 2
	p.meta.Src = netip.AddrFrom4(ip.Src)
	p.meta.Dst = netip.AddrFrom4(ip.Dst)
	proto, payload := ip.Protocol, ip.Payload
	if ip.IsFragment() {
		var k fragKey
		copy(k.src[:4], ip.Src[:])
		copy(k.dst[:4], ip.Dst[:])
		k.id, k.proto = uint32(ip.ID), ip.Protocol
		data, done, err := p.defrag.add(&k, int(ip.FragOff)*8, ip.MoreFragments(), payload, proto, p.now)
		p.stats.Defrag = p.defrag.stats
		if err != nil || !done {
			return err
		}
		p.meta.Encap.Push(LayerFragment)
		payload = data
	}
	if proto == 17 { // nearly every packet: straight to udpIn, one call frame fewer than through transport
		return p.udpIn(payload)
	}
	return p.transport(proto, payload)
}

func (p *Path) ipv6(b []byte) error {
	p.meta.Encap.Push(LayerIPv6)
	ip := &p.ip6
	if err := ip.DecodeFrom(b); err != nil {
		return err
	}
	p.meta.Family = 10
	p.meta.Src = netip.AddrFrom16(ip.Src)
	p.meta.Dst = netip.AddrFrom16(ip.Dst)
	proto, payload := ip.Protocol, ip.Payload
	if ip.IsFragment() {
		var k fragKey
		k.src, k.dst, k.id, k.v6 = ip.Src, ip.Dst, ip.FragID, true
		data, done, err := p.defrag.add(&k, int(ip.FragOff)*8, ip.MoreFrags, payload, proto, p.now)
		p.stats.Defrag = p.defrag.stats
		if err != nil || !done {
			return err
		}
		p.meta.Encap.Push(LayerFragment)
		// The fragmentable part may start with more extension headers.
		var err2 error
		proto, payload, err2 = ip.walk(p.defrag.lastProto, data)
		if err2 != nil {
			return err2
		}
	}
	if proto == 17 { // as in ipv4
		return p.udpIn(payload)
	}
	return p.transport(proto, payload)
}

func (p *Path) enterTunnel(tooDeep FrameError) error {
	p.depth++
	if p.depth > p.maxDep {
		return tooDeep
	}
	return nil
}

// transport dispatches on an IP protocol number.
func (p *Path) transport(proto uint8, b []byte) error {
	switch proto {
	case 17:
		return p.udpIn(b)
	case 6:
		return p.tcpIn(b)
	case 132:
		return p.sctpIn(b)
	case 4, 41:
		p.meta.Encap.Push(LayerIPIP)
		if err := p.enterTunnel(errIPIPTooDeep); err != nil {
			return err
		}
		if proto == 4 {
			return p.ipv4(b)
		}
		return p.ipv6(b)
	case 47:
		return p.greIn(b)
	}
	p.stats.Other++
	return nil
}

func (p *Path) greIn(b []byte) error {
	p.meta.Encap.Push(LayerGRE)
	if err := p.enterTunnel(errGRETooDeep); err != nil {
		return err
	}
	g := &p.gre
	if err := g.DecodeFrom(b); err != nil {
		return err
	}
	switch g.Protocol {
	case etherTypeTEB:
		return p.ethernetIn(g.Payload)
	case etherTypeERSPAN2, etherTypeERSPAN3:
		p.meta.Encap.Push(LayerERSPAN)
		if err := p.erspan.DecodeFrom(g.Payload, g.Protocol, g.HasSeq); err != nil {
			return err
		}
		return p.ethernetIn(p.erspan.Payload)
	case etherTypePPP:
		p.meta.Encap.Push(LayerPPP)
		et, rest, err := pppEtherType(g.Payload)
		if err != nil {
			return err
		}
		if et == 0 {
			p.stats.NonIP++
			return nil
		}
		return p.etherType(et, rest)
	}
	return p.etherType(g.Protocol, g.Payload)
}

func (p *Path) udpIn(b []byte) error {
	p.meta.Encap.Push(LayerUDP)
	u := &p.udp
	if err := u.DecodeFrom(b); err != nil {
		return err
	}
	p.meta.Proto = 17
	p.meta.SrcPort, p.meta.DstPort = u.SrcPort, u.DstPort
	dc, sc := p.ports[u.DstPort], p.ports[u.SrcPort]
	payload := u.Payload
	if dc&(portVXLAN|portGENEVE|portHEP) == 0 && !looksLikeHEP3(payload) {
		// Neither a tunnel nor HEP (almost every packet): one test for all
		// three port classes before the tunnels' cases.
		p.datagram(payload, (dc|sc)&portSIP != 0)
		return nil
	}
	switch {
	case dc&portVXLAN != 0:
		p.meta.Encap.Push(LayerVXLAN)
		if err := p.enterTunnel(errVXLANTooDeep); err != nil {
			return err
		}
		if err := p.vxlan.DecodeFrom(payload); err != nil {
			return err
		}
		return p.ethernetIn(p.vxlan.Payload)
	case dc&portGENEVE != 0:
		p.meta.Encap.Push(LayerGENEVE)
		if err := p.enterTunnel(errGENEVETooDeep); err != nil {
			return err
		}
		g := &p.geneve
		if err := g.DecodeFrom(payload); err != nil {
			return err
		}
		if g.Protocol == etherTypeTEB {
			return p.ethernetIn(g.Payload)
		}
		return p.etherType(g.Protocol, g.Payload)
	}
	// A HEP port or the HEP v3 magic.
	p.hepIn(payload)
	return nil
}

// looksLikeHEP3 reports whether b starts with the HEP v3 magic.
func looksLikeHEP3(b []byte) bool {
	return len(b) >= 4 && (b[0] == 'H' || b[0] == 'E') && b[1] == 'E' && b[2] == 'P' && b[3] == '3'
}

// datagram handles one UDP payload or SCTP user message. The SIP decoder
// itself decides whether the payload is SIP (ErrNotSIP), so the start line
// is parsed once.
func (p *Path) datagram(b []byte, sipPort bool) {
	if len(b) == 0 || !tokenTable[b[0]] { // cheap reject: RTP, DTLS, keepalives
		p.notSIP(sipPort)
		return
	}
	err := p.sip.DecodeFrom(b)
	if err == ErrNotSIP {
		p.notSIP(sipPort)
		return
	}
	p.handOn(err)
}

func (p *Path) notSIP(sipPort bool) {
	if sipPort {
		p.stats.NonSIP++
	} else {
		p.stats.Other++
	}
}

func (p *Path) hepIn(b []byte) error {
	outer := p.meta
	for i := 0; len(b) > 0 && i < maxHEPPerDatagram; i++ {
		// Only v3 carries its length, so only v3 can follow another
		// message; v1 or v2 bytes there are not a message (and a listener's
		// auth check, decode.HEPAuthorized, would not have seen them).
		if i > 0 && b[0] != 'H' && b[0] != 'E' {
			p.stats.HEPErrors[ErrHEPBadVersion]++
			return ErrHEPBadVersion
		}
		if err := p.hep.DecodeFrom(b); err != nil {
			if he, ok := err.(HEPError); ok && int(he) < len(p.stats.HEPErrors) {
				p.stats.HEPErrors[he]++
			}
			return err
		}
		p.stats.HEP++
		p.meta = outer
		p.hep.FillMeta(&p.meta)
		if p.hep.IsSIP() {
			p.emitSIP(p.hep.Payload)
		} else {
			p.stats.HEPNonSIP++
		}
		b = p.hep.Rest
	}
	return nil
}

func (p *Path) tcpIn(b []byte) error {
	p.meta.Encap.Push(LayerTCP)
	t := &p.tcph
	if err := t.DecodeFrom(b); err != nil {
		return err
	}
	p.meta.Proto = 6
	p.meta.SrcPort, p.meta.DstPort = t.SrcPort, t.DstPort
	sipPort := (p.ports[t.SrcPort]|p.ports[t.DstPort])&portSIP != 0
	var k flowKey
	p.flowKeyOf(&k, t.SrcPort, t.DstPort)
	p.tcp.segment(&k, t, &p.meta, sipPort, p)
	p.stats.TCP = p.tcp.stats
	return nil
}

// flowKeyOf fills k with the innermost addresses and the given ports.
func (p *Path) flowKeyOf(k *flowKey, sport, dport uint16) {
	if p.meta.Family == 2 {
		a, d := p.meta.Src.As4(), p.meta.Dst.As4()
		copy(k.src[:4], a[:])
		copy(k.dst[:4], d[:])
	} else {
		k.src, k.dst = p.meta.Src.As16(), p.meta.Dst.As16()
	}
	k.sport, k.dport, k.family = sport, dport, p.meta.Family
}

func (p *Path) sctpIn(b []byte) error {
	p.meta.Encap.Push(LayerSCTP)
	s := &p.sctp
	if err := s.DecodeFrom(b); err != nil {
		return err
	}
	p.meta.Proto = 132
	p.meta.SrcPort, p.meta.DstPort = s.SrcPort, s.DstPort
	sipPort := (p.ports[s.SrcPort]|p.ports[s.DstPort])&portSIP != 0
	rest := s.Chunks
	for i := 0; len(rest) > 0 && i < maxSCTPChunksPerPkt; i++ {
		var err error
		if rest, err = p.chunk.NextChunk(rest); err != nil {
			return err
		}
		if p.chunk.Type != sctpChunkData {
			continue
		}
		tsn, sid, _, data, err := p.chunk.Data()
		if err != nil {
			return err
		}
		if !p.chunk.IsCompleteData() {
			var k flowKey
			p.flowKeyOf(&k, s.SrcPort, s.DstPort)
			msg, done, ok := p.sctpRe.add(&k, sid, tsn, p.chunk.Flags, data, p.now)
			if !ok {
				p.stats.SCTPFragmented++
			}
			if !done {
				continue
			}
			data = msg
		}
		p.datagram(data, sipPort)
	}
	return nil
}

// emitSIP decodes one SIP message and hands it to the Handler. It is the
// sink of the TCP stream reassembler and of HEP.
func (p *Path) emitSIP(msg []byte) {
	err := p.sip.DecodeFrom(msg)
	if err == ErrNotSIP {
		p.stats.SIPErrors[sipErrorIndex(err)]++
		p.stats.NonSIP++
		return
	}
	p.handOn(err)
}

// streamSIP decodes the SIP message at the start of the stream bytes b
// (SIP.DecodeStream) and, when it is complete, hands it on; it returns its
// length. ErrSIPIncomplete, ErrNotSIP and ErrSIPContentLength are the
// stream's to handle: nothing is counted or handed on for them.
func (p *Path) streamSIP(b []byte) (int, error) {
	err := p.sip.DecodeStream(b)
	switch err {
	case ErrSIPIncomplete, ErrNotSIP, ErrSIPContentLength:
		return 0, err
	}
	p.handOn(err)
	return len(p.sip.Msg), nil
}

// nonPlainLayers is the set of layers (bit l for Layer l) that keep a message
// out of Stats.Plain: VLAN, MPLS, tunnels, fragments, HEP, PPP.
const nonPlainLayers = 1<<LayerVLAN | 1<<LayerMPLS | 1<<LayerIPIP | 1<<LayerGRE | 1<<LayerERSPAN |
	1<<LayerVXLAN | 1<<LayerGENEVE | 1<<LayerFragment | 1<<LayerHEP | 1<<LayerPPP

// handOn counts the message just decoded into p.sip and calls the Handler.
func (p *Path) handOn(err error) {
	if err != nil {
		p.stats.SIPErrors[sipErrorIndex(err)]++
	}
	p.stats.SIPMessages++
	// One count per layer in the path's set (Encap.Push keeps it): a layer
	// that repeats (eth/ip4/gre/eth/ip4) counts once. A Layer past
	// maxFrameLayers has no slot in ByLayer and no bit in the set.
	seen := p.meta.Encap.set
	for m := seen; m != 0; m &= m - 1 {
		p.stats.ByLayer[bits.TrailingZeros32(m)%maxFrameLayers]++
	}
	if seen&nonPlainLayers == 0 {
		p.stats.Plain++
	}
	if p.h != nil {
		p.h.SIP(&p.meta, &p.sip, err)
	}
}

// sipErrorIndex maps a SIP decoder error to a Stats.SIPErrors index: the
// position of its sentinel in SIPErrors(), or len-1 for anything else.
func sipErrorIndex(err error) int {
	switch err {
	case ErrNotSIP:
		return 0
	case ErrSIPBadStartLine:
		return 1
	case ErrSIPTruncated:
		return 2
	case ErrSIPBadHeader:
		return 3
	case ErrSIPContentLength:
		return 4
	case ErrSIPNoCallID:
		return 5
	case ErrSIPIncomplete:
		return 6
	}
	return 7
}

// SIPErrorKindAt names index i of Stats.SIPErrors.
func SIPErrorKindAt(i int) string {
	all := [...]string{"not_sip", "bad_start_line", "truncated", "bad_header", "content_length", "no_call_id", "incomplete", "other"}
	if i >= 0 && i < len(all) {
		return all[i]
	}
	return ""
}

// durationMicros converts d to microseconds, with def when d is 0.
func durationMicros(d, def time.Duration) int64 {
	if d == 0 {
		d = def
	}
	return int64(d / time.Microsecond)
}
