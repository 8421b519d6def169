package decode

import "net/netip"

// Meta is what the frame path or a HEP header says about one SIP message
// besides the message itself: when and where it was seen. Byte-slice fields
// alias the frame or HEP packet and share its lifetime.
type Meta struct {
	// TS is the capture time in microseconds since the Unix epoch (UTC).
	TS int64
	// Family is 2 for IPv4 and 10 for IPv6, as the sipcapture schema stores it.
	Family uint8
	// Proto is the IP protocol of the SIP transport: 17 UDP, 6 TCP, 132 SCTP.
	Proto uint8
	// Src and Dst are the addresses of the innermost IP packet (after tunnels)
	// or of the HEP address chunks.
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	// VLAN is the outermost VLAN id (0 when untagged); InnerVLAN the second tag.
	VLAN, InnerVLAN uint16
	// Encap is the path of layers the message was found under.
	Encap Encap
	// CaptureID is the HEP capture agent id (chunk 0x000c), 0 when not HEP.
	CaptureID uint32
	// Node is the HEP capture agent name (chunk 0x0013), nil when absent.
	Node []byte
	// CorrelationID is HEP chunk 0x0011, nil when absent.
	CorrelationID []byte
	// HEPVersion is 1, 2 or 3 for messages received as HEP, 0 otherwise.
	HEPVersion uint8
}

// Reset clears m for reuse.
func (m *Meta) Reset() { *m = Meta{} }
