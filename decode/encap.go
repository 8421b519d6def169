package decode

// Layer names one step of an encapsulation path.
type Layer uint8

// Layers that may appear in an Encap path.
const (
	LayerNone Layer = iota
	LayerEthernet
	LayerSLL
	LayerSLL2
	LayerRawIP
	LayerLoopback
	LayerVLAN
	LayerMPLS
	LayerIPv4
	LayerIPv6
	LayerIPIP // an IP header carried directly in IP (protocol 4 or 41)
	LayerGRE
	LayerERSPAN
	LayerVXLAN
	LayerGENEVE
	LayerUDP
	LayerTCP
	LayerSCTP
	LayerHEP
	LayerPPP
	LayerFragment // the datagram was reassembled from IP fragments
)

var layerNames = [...]string{
	LayerNone: "", LayerEthernet: "eth", LayerSLL: "sll", LayerSLL2: "sll2",
	LayerRawIP: "raw", LayerLoopback: "null", LayerVLAN: "vlan", LayerMPLS: "mpls",
	LayerIPv4: "ip4", LayerIPv6: "ip6", LayerIPIP: "ipip", LayerGRE: "gre",
	LayerERSPAN: "erspan", LayerVXLAN: "vxlan", LayerGENEVE: "geneve",
	LayerUDP: "udp", LayerTCP: "tcp", LayerSCTP: "sctp", LayerHEP: "hep",
	LayerPPP: "ppp", LayerFragment: "frag",
}

// String returns the short name of l ("eth", "vlan", "gre", …).
func (l Layer) String() string {
	if int(l) < len(layerNames) {
		return layerNames[l]
	}
	return "?"
}

// MaxEncap is the longest encapsulation path recorded; deeper layers are
// still decoded up to the tunnel depth limit but not recorded.
const MaxEncap = 16

// Encap is a fixed-size encapsulation path, outermost layer first. It is a
// value type so that it can be copied into a row without allocating.
type Encap struct {
	layers [MaxEncap]Layer
	n      uint8
	// set has bit l for every Layer l < 32 in layers[:n], kept by Push so
	// that Has and the per-layer counts of every message need no loop.
	set uint32
}

// Every Layer with a Stats.ByLayer slot has a bit in Encap.set.
var _ = [1]struct{}{}[maxFrameLayers-32]

// Push appends l to the path; layers past MaxEncap are dropped.
func (e *Encap) Push(l Layer) {
	if int(e.n) < MaxEncap {
		e.layers[e.n] = l
		e.n++
		if l < 32 {
			e.set |= 1 << (l % 32)
		}
	}
}

// Len is the number of layers recorded.
func (e *Encap) Len() int { return int(e.n) }

// At returns the i-th layer, outermost first.
func (e *Encap) At(i int) Layer { return e.layers[i] }

// Reset empties the path.
func (e *Encap) Reset() { e.n, e.set = 0, 0 }

// Has reports whether l appears in the path.
func (e *Encap) Has(l Layer) bool {
	if l < 32 {
		return e.set&(1<<(l%32)) != 0
	}
	for i := 0; i < int(e.n); i++ {
		if e.layers[i] == l {
			return true
		}
	}
	return false
}

// AppendText appends the path as "eth/vlan/ip4/udp" to dst.
func (e *Encap) AppendText(dst []byte) []byte {
	for i := 0; i < int(e.n); i++ {
		if i > 0 {
			dst = append(dst, '/')
		}
		dst = append(dst, e.layers[i].String()...)
	}
	return dst
}

// String returns the path as "eth/vlan/ip4/udp". It allocates; not for hot paths.
func (e Encap) String() string { return string(e.AppendText(nil)) }
