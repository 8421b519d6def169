package ring

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// The kernel filters are classic BPF over the frame as an AF_PACKET SOCK_RAW
// socket sees it: starting at the Ethernet header. The kernel usually moves
// the outer 802.1Q tag into packet metadata before the filter runs, but tags
// can also still be in the frame (a second QinQ tag, or no VLAN offload), so
// the programs accept zero, one or two tags in the bytes.

// snapAccept is the length a matching frame is kept to: the whole frame.
const snapAccept = 262144

const (
	etherTypeIPv4   = 0x0800
	etherTypeIPv6   = 0x86dd
	etherType8021Q  = 0x8100
	etherType8021AD = 0x88a8

	ipProtoIPIP = 4
	ipProtoTCP  = 6
	ipProtoUDP  = 17
	ipProtoIPv6 = 41
	ipProtoFrag = 44 // IPv6 fragment header
	ipProtoGRE  = 47 // GRE, and ERSPAN inside it
	ipProtoSCTP = 132

	portVXLAN  = 4789
	portGENEVE = 6081
)

// Filter returns the kernel filter the configuration asks for, or nil when
// there is none (no listen address, or raw_moni_bpf_on=0). IPIP mode builds
// IPIPFilter, otherwise MirrorFilter.
func (c *Config) Filter() ([]bpf.RawInstruction, error) {
	d := c.withDefaults()
	if d.Listen == "" || d.KernelFilterOff {
		return nil, nil
	}
	l, err := ParseListen(d.Listen)
	if err != nil {
		return nil, err
	}
	if d.IPIP {
		return IPIPFilter(l)
	}
	return MirrorFilter(l, d.MirrorTunnels)
}

// MirrorFilter assembles the mirror-mode filter: UDP, TCP and SCTP over IPv4
// or IPv6 with the source or destination port in l's range, IPv4 fragments
// after the first (of those protocols) and every IPv6 packet whose next header
// is a fragment header; untagged or with up to two VLAN tags in the frame.
// The address in l is not used. IPv6 extension headers other than the
// fragment header are not walked: such packets are dropped.
//
// With tunnels, tunnel carriers are kept too, whatever their inner ports:
// IP protocols 4 and 41 (IPIP), 47 (GRE, ERSPAN) and UDP to 4789 (VXLAN) and
// 6081 (GENEVE). Mirrored traffic often arrives that way (remote SPAN is
// ERSPAN over GRE); the frame path finds the SIP inside in user space.
func MirrorFilter(l Listen, tunnels bool) ([]bpf.RawInstruction, error) {
	if l.PortLo == 0 || l.PortLo > l.PortHi {
		return nil, fmt.Errorf("assemble mirror filter: bad port range %d-%d", l.PortLo, l.PortHi)
	}
	var a asm
	a.ethernet()
	for v := uint32(0); v <= 8; v += 4 {
		L := 14 + v
		// IPv4.
		a.label(lbl("ip4", v))
		a.op(bpf.LoadAbsolute{Off: L + 9, Size: 1})
		a.jeq(ipProtoUDP, lbl("p4", v))
		a.jeq(ipProtoTCP, lbl("p4", v))
		a.jeq(ipProtoSCTP, lbl("p4", v))
		if tunnels {
			a.jeq(ipProtoIPIP, "accept")
			a.jeq(ipProtoIPv6, "accept")
			a.jeq(ipProtoGRE, "accept")
		}
		a.ja("drop")
		a.label(lbl("p4", v))
		a.op(bpf.LoadAbsolute{Off: L + 6, Size: 2})
		a.jif(bpf.JumpBitsSet, 0x1fff, "accept", "") // fragment offset != 0
		a.op(bpf.LoadMemShift{Off: L})
		if tunnels {
			a.op(bpf.LoadIndirect{Off: L + 2, Size: 2})
			a.jeq(portVXLAN, "accept")
			a.jeq(portGENEVE, "accept")
		}
		a.op(bpf.LoadIndirect{Off: L, Size: 2})
		a.portRange(l, lbl("d4", v))
		a.label(lbl("d4", v))
		a.op(bpf.LoadIndirect{Off: L + 2, Size: 2})
		a.portRange(l, "drop")
		a.ja("drop")
		// IPv6.
		a.label(lbl("ip6", v))
		a.op(bpf.LoadAbsolute{Off: L + 6, Size: 1})
		a.jeq(ipProtoUDP, lbl("p6", v))
		a.jeq(ipProtoTCP, lbl("p6", v))
		a.jeq(ipProtoSCTP, lbl("p6", v))
		a.jeq(ipProtoFrag, "accept")
		if tunnels {
			a.jeq(ipProtoIPIP, "accept")
			a.jeq(ipProtoIPv6, "accept")
			a.jeq(ipProtoGRE, "accept")
		}
		a.ja("drop")
		a.label(lbl("p6", v))
		if tunnels {
			a.op(bpf.LoadAbsolute{Off: L + 42, Size: 2})
			a.jeq(portVXLAN, "accept")
			a.jeq(portGENEVE, "accept")
		}
		a.op(bpf.LoadAbsolute{Off: L + 40, Size: 2})
		a.portRange(l, lbl("d6", v))
		a.label(lbl("d6", v))
		a.op(bpf.LoadAbsolute{Off: L + 42, Size: 2})
		a.portRange(l, "drop")
		a.ja("drop")
	}
	return a.finish()
}

// IPIPFilter assembles the IPIP-mode filter: IPv4 or IPv6 packets carrying IP
// protocol 4 (IPv4-in-IP) or 41 (IPv6-in-IP) addressed to l.Addr, or to any
// address when l.Addr is unspecified. The ports are not looked at (they are
// in the inner packet).
func IPIPFilter(l Listen) ([]bpf.RawInstruction, error) {
	var a asm
	a.ethernet()
	any := l.AnyAddr()
	for v := uint32(0); v <= 8; v += 4 {
		L := 14 + v
		a.label(lbl("ip4", v))
		if !any && !l.Addr.Is4() {
			a.ja("drop")
		} else {
			a.op(bpf.LoadAbsolute{Off: L + 9, Size: 1})
			a.jeq(ipProtoIPIP, lbl("a4", v))
			a.jeq(ipProtoIPv6, lbl("a4", v))
			a.ja("drop")
			a.label(lbl("a4", v))
			if !any {
				b := l.Addr.As4()
				a.op(bpf.LoadAbsolute{Off: L + 16, Size: 4})
				a.jif(bpf.JumpNotEqual, be32(b[:]), "drop", "")
			}
			a.ja("accept")
		}
		a.label(lbl("ip6", v))
		if !any && !l.Addr.Is6() {
			a.ja("drop")
		} else {
			a.op(bpf.LoadAbsolute{Off: L + 6, Size: 1})
			a.jeq(ipProtoIPIP, lbl("a6", v))
			a.jeq(ipProtoIPv6, lbl("a6", v))
			a.ja("drop")
			a.label(lbl("a6", v))
			if !any {
				b := l.Addr.As16()
				for w := uint32(0); w < 4; w++ {
					a.op(bpf.LoadAbsolute{Off: L + 24 + 4*w, Size: 4})
					a.jif(bpf.JumpNotEqual, be32(b[4*w:]), "drop", "")
				}
			}
			a.ja("accept")
		}
	}
	return a.finish()
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func lbl(s string, v uint32) string { return fmt.Sprintf("%s_%d", s, v) }

// asm is a tiny label-resolving assembler over x/net/bpf: classic BPF jumps
// are forward skip counts, which are easy to get wrong by hand.
type asm struct {
	ins    []bpf.Instruction
	fix    []fixup
	labels map[string]int
}

type fixup struct {
	at   int
	t, f string // "" = fall through
	jmp  bool   // unconditional
}

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

func (a *asm) op(i bpf.Instruction) { a.ins = append(a.ins, i) }

func (a *asm) jif(c bpf.JumpTest, val uint32, t, f string) {
	a.fix = append(a.fix, fixup{at: len(a.ins), t: t, f: f})
	a.ins = append(a.ins, bpf.JumpIf{Cond: c, Val: val})
}

func (a *asm) jeq(val uint32, t string) { a.jif(bpf.JumpEqual, val, t, "") }

func (a *asm) ja(t string) {
	a.fix = append(a.fix, fixup{at: len(a.ins), t: t, jmp: true})
	a.ins = append(a.ins, bpf.Jump{})
}

// portRange jumps to accept when A is within l's range, to below when under it,
// and falls through otherwise.
func (a *asm) portRange(l Listen, below string) {
	a.jif(bpf.JumpLessThan, uint32(l.PortLo), below, "")
	a.jif(bpf.JumpLessOrEqual, uint32(l.PortHi), "accept", "")
}

// ethernet emits the EtherType dispatch over up to two in-frame VLAN tags,
// jumping to ip4_V / ip6_V where V is the number of tag bytes.
func (a *asm) ethernet() {
	for v := uint32(0); v <= 8; v += 4 {
		a.label(lbl("eth", v))
		a.op(bpf.LoadAbsolute{Off: 12 + v, Size: 2})
		if v < 8 {
			a.jeq(etherType8021Q, lbl("eth", v+4))
			a.jeq(etherType8021AD, lbl("eth", v+4))
		}
		a.jeq(etherTypeIPv4, lbl("ip4", v))
		a.jeq(etherTypeIPv6, lbl("ip6", v))
		a.ja("drop")
	}
}

// finish appends the accept and drop returns, resolves the jumps and assembles.
func (a *asm) finish() ([]bpf.RawInstruction, error) {
	a.label("accept")
	a.op(bpf.RetConstant{Val: snapAccept})
	a.label("drop")
	a.op(bpf.RetConstant{Val: 0})
	skip := func(at int, name string) (uint32, error) {
		if name == "" {
			return 0, nil
		}
		to, ok := a.labels[name]
		if !ok {
			return 0, fmt.Errorf("assemble filter: no label %s", name)
		}
		d := to - at - 1
		if d < 0 {
			return 0, fmt.Errorf("assemble filter: backward jump to %s", name)
		}
		return uint32(d), nil
	}
	for _, f := range a.fix {
		t, err := skip(f.at, f.t)
		if err != nil {
			return nil, err
		}
		if f.jmp {
			a.ins[f.at] = bpf.Jump{Skip: t}
			continue
		}
		e, err := skip(f.at, f.f)
		if err != nil {
			return nil, err
		}
		if t > 255 || e > 255 {
			return nil, fmt.Errorf("assemble filter: jump at %d too far", f.at)
		}
		j := a.ins[f.at].(bpf.JumpIf)
		j.SkipTrue, j.SkipFalse = uint8(t), uint8(e)
		a.ins[f.at] = j
	}
	return bpf.Assemble(a.ins)
}
