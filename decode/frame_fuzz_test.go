package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

// fuzzSeeds adds every generated encapsulation frame, and the frames of the
// shared captures when present, with their link types.
func fuzzSeeds(f *testing.F) {
	msg := loadFixture(f, "invite.sip")
	for _, c := range encapCases(f, msg) {
		f.Add(c.frame, uint16(c.link))
	}
	dir := sharedPcapDirOptional()
	if dir == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	for _, file := range files {
		n := 0
		for _, pk := range readCapture(f, file) {
			if n >= 4 {
				break
			}
			if len(pk.data) <= 1600 { // large seeds slow the mutator down
				f.Add(pk.data, uint16(pk.link))
				n++
			}
		}
	}
}

type sliceCheck struct {
	t     *testing.T
	p     *Path
	frame []byte
	msgs  [][]byte
	metas []Meta
}

func (c *sliceCheck) SIP(m *Meta, s *SIP, err error) {
	if err == ErrNotSIP {
		c.t.Fatal("handler got ErrNotSIP")
	}
	for _, b := range [][]byte{s.Msg, s.Method, s.CallID, s.Via1, s.Body, m.Node, m.CorrelationID} {
		if !c.p.owns(c.frame, b) {
			c.t.Fatalf("a slice of %d bytes aliases neither the frame nor the path's buffers", len(b))
		}
	}
	if m.Encap.Len() == 0 {
		c.t.Fatal("empty encapsulation path")
	}
	c.msgs = append(c.msgs, append([]byte(nil), s.Msg...))
	mc := *m
	mc.Node, mc.CorrelationID = bytes.Clone(m.Node), bytes.Clone(m.CorrelationID)
	c.metas = append(c.metas, mc)
}

// fastPathRun decodes frame on a fresh Path, with or without plainUDP4, and
// returns what the handler saw, the error and the counts.
func fastPathRun(t *testing.T, frame []byte, lt LinkType, layersOnly bool) ([][]byte, []Meta, error, Stats) {
	p, err := NewPath(fuzzPathConfig)
	if err != nil {
		t.Fatal(err)
	}
	p.layersOnly = layersOnly
	c := &sliceCheck{t: t, p: p, frame: frame}
	err = p.Decode(frame, lt, 1, 0, c)
	return c.msgs, c.metas, err, p.Stats()
}

// checkFastPath fails t when plainUDP4 and the layers give frame different
// messages, metadata, errors or counts.
func checkFastPath(t *testing.T, frame []byte, lt LinkType) {
	t.Helper()
	m1, d1, e1, s1 := fastPathRun(t, frame, lt, false)
	m2, d2, e2, s2 := fastPathRun(t, frame, lt, true)
	if e1 != e2 || !reflect.DeepEqual(m1, m2) || !reflect.DeepEqual(d1, d2) || s1 != s2 {
		t.Fatalf("fast path and layers differ on % x:\nerror %v / %v, messages %d / %d\nmetas %+v\n  /   %+v\nstats %+v\n  /   %+v",
			frame[:min(len(frame), 64)], e1, e2, len(m1), len(m2), d1, d2, s1, s2)
	}
}

// TestPlainUDP4 changes every byte of a plain Ethernet/IPv4/UDP SIP frame's
// headers, and the start of its payload, to values that matter to the fast
// path's tests (lengths, flags, ports, version, the HEP magic) and checks
// that the fast path and the layers agree on each.
func TestPlainUDP4(t *testing.T) {
	msg := loadFixture(t, "invite.sip")
	base := encapCases(t, msg)[0].frame // eth/ip4/udp
	if p, err := NewPath(nil); err != nil || !p.plainUDP4(base) {
		t.Fatalf("the plain frame does not take the fast path (%v)", err)
	}
	checkFastPath(t, base, LinkEthernet)
	vals := []byte{0x00, 0x01, 0x06, 0x08, 0x11, 0x12, 0x13, 0x1c, 0x1d, 0x20, 0x3f, 0x40, 0x44, 0x45, 0x46,
		0x55, 0x7f, 0x80, 0xff, 'H', 'E', 'P', '3'}
	for off := 0; off < 14+20+8+4; off++ {
		for _, v := range vals {
			f := bytes.Clone(base)
			f[off] = v
			checkFastPath(t, f, LinkEthernet)
			f[off] = f[off] ^ base[off] ^ (base[off] + 1)
			checkFastPath(t, f, LinkEthernet)
		}
	}
	// Whole-field values: IPv4 total length and UDP length around the
	// frame's, the ports of the tunnels and HEP, a cut frame.
	ipLen := int(binary.BigEndian.Uint16(base[16:18]))
	for _, d := range []int{-ipLen, -ipLen + 27, -ipLen + 28, -1, 0, 1, 100} {
		f := bytes.Clone(base)
		binary.BigEndian.PutUint16(f[16:18], uint16(ipLen+d))
		checkFastPath(t, f, LinkEthernet)
		g := bytes.Clone(base)
		binary.BigEndian.PutUint16(g[38:40], uint16(ipLen-20+d))
		checkFastPath(t, g, LinkEthernet)
	}
	for _, port := range []uint16{4789, 6081, 9060, 9063, 5060, 5061, 0, 65535} {
		f := bytes.Clone(base)
		binary.BigEndian.PutUint16(f[36:38], port)
		checkFastPath(t, f, LinkEthernet)
		g := bytes.Clone(base)
		binary.BigEndian.PutUint16(g[34:36], port)
		checkFastPath(t, g, LinkEthernet)
	}
	for n := 0; n <= 60; n++ {
		checkFastPath(t, base[:n], LinkEthernet)
	}
	checkFastPath(t, base, LinkSLL)
	padded := append(bytes.Clone(base), make([]byte, 30)...) // Ethernet padding after the datagram
	checkFastPath(t, padded, LinkEthernet)
}

// fuzzPathConfig keeps per-input setup cheap.
var fuzzPathConfig = &PathConfig{Defrag: DefragConfig{MaxDatagrams: 4}, TCP: TCPConfig{MaxFlows: 8}}

// FuzzPath decodes one frame on a fresh Path: no panic, every slice handed
// on aliases the frame or the Path's buffers, errors are FrameErrors, and
// decoding is deterministic.
func FuzzPath(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, frame []byte, link uint16) {
		lt := LinkType(link % 300)
		run := func() ([][]byte, error) {
			p, err := NewPath(fuzzPathConfig)
			if err != nil {
				t.Fatal(err)
			}
			c := &sliceCheck{t: t, p: p, frame: frame}
			err = p.Decode(frame, lt, 1, 0, c)
			if err != nil {
				var fe FrameError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a FrameError", err)
				}
			}
			st := p.Stats()
			if st.SIPMessages != uint64(len(c.msgs)) {
				t.Fatalf("stats say %d messages, handler saw %d", st.SIPMessages, len(c.msgs))
			}
			return c.msgs, err
		}
		m1, e1 := run()
		m2, e2 := run()
		if e1 != e2 || len(m1) != len(m2) {
			t.Fatalf("not deterministic: %v/%v, %d/%d messages", e1, e2, len(m1), len(m2))
		}
		for i := range m1 {
			if !bytes.Equal(m1[i], m2[i]) {
				t.Fatal("not deterministic: messages differ")
			}
		}
		// The plain UDP fast path (plainUDP4) does what the layers do.
		checkFastPath(t, frame, lt)
	})
}

// FuzzPathStream feeds a sequence of frames (split at 0xff 0xfe markers) to
// one small Path so that defrag and TCP state interact, and checks the caps.
func FuzzPathStream(f *testing.F) {
	msg := bigSIP(f, 3000)
	dgram := udpDatagram(f, msg)
	var seed []byte
	for _, fr := range fragments(f, false, 3, dgram, []fragPiece{{1480, 9999}, {0, 1480}}) {
		seed = append(append(seed, fr...), 0xff, 0xfe)
	}
	inv := loadFixture(f, "invite.sip")
	seed = append(append(seed, tcpSeg(f, 5060, 1, inv[:200], false)...), 0xff, 0xfe)
	seed = append(seed, tcpSeg(f, 5060, 201, inv[200:], false)...)
	f.Add(seed)
	cfg := &PathConfig{Defrag: DefragConfig{MaxDatagrams: 4, MaxBytes: 65535}, TCP: TCPConfig{MaxFlows: 4, MaxFlowBytes: 4096, MaxBytes: 8192, MaxOutOfOrder: 2048}}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := NewPath(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := &sliceCheck{t: t, p: p}
		ts := int64(0)
		for _, fr := range bytes.Split(data, []byte{0xff, 0xfe}) {
			ts += 400_000
			c.frame = fr
			_ = p.Decode(fr, LinkEthernet, ts, 0, c)
			st := p.Stats()
			if st.Defrag.InFlight > 4 || st.Defrag.HeldBytes > 65535 || st.Defrag.InFlight < 0 || st.Defrag.HeldBytes < 0 {
				t.Fatalf("defrag over caps: %+v", st.Defrag)
			}
			if st.TCP.Flows > 4 || st.TCP.Flows < 0 || st.TCP.HeldBytes > 8192 || st.TCP.HeldBytes < 0 {
				t.Fatalf("tcp over caps: %+v", st.TCP)
			}
			for i := range p.tcp.flows {
				if fl := &p.tcp.flows[i]; len(fl.buf) > 4096 || len(fl.ooo) > 2048 {
					t.Fatalf("flow buffer over cap: %d/%d", len(fl.buf), len(fl.ooo))
				}
			}
		}
	})
}

// layerFuzz runs decode twice on data and checks that the returned payload
// (when there is no error) lies inside data and that both runs agree.
func layerFuzz(t *testing.T, data []byte, decode func([]byte) ([]byte, error)) {
	p1, e1 := decode(data)
	p2, e2 := decode(data)
	if e1 != e2 || !bytes.Equal(p1, p2) {
		t.Fatalf("not deterministic: %v/%v", e1, e2)
	}
	if e1 == nil && len(p1) > 0 && !within(data, p1) {
		t.Fatal("payload outside the input")
	}
	if e1 != nil {
		var fe FrameError
		if !errors.As(e1, &fe) || fe.Kind() == 0 {
			t.Fatalf("error %v is not a FrameError", e1)
		}
	}
}

func FuzzEthernet(f *testing.F) {
	f.Add(make([]byte, 14))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Ethernet
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := e.DecodeFrom(d); return e.Payload, err })
	})
}

func FuzzSLL(f *testing.F) {
	f.Add([]byte(sllHeader(0x800)))
	f.Add([]byte(sll2Header(0x800)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s SLL
		var s2 SLL2
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := s.DecodeFrom(d); return s.Payload, err })
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := s2.DecodeFrom(d); return s2.Payload, err })
		if len(b) >= 4 {
			_ = loopbackEtherType(b[:4])
		}
	})
}

func FuzzVLAN(f *testing.F) {
	f.Add([]byte{0, 100, 8, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v VLAN
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := v.DecodeFrom(d); return v.Payload, err })
		if v.ID() > 0x0fff {
			t.Fatal("vlan id over 12 bits")
		}
	})
}

func FuzzMPLS(f *testing.F) {
	f.Add([]byte{0, 0x3e, 0x81, 0x40, 0x45, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m MPLS
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := m.DecodeFrom(d); return m.Payload, err })
		if m.Labels > maxMPLSLabels {
			t.Fatal("label stack over bound")
		}
	})
}

func FuzzIPv4(f *testing.F) {
	f.Add(serialize(f, innerUDP4([]byte("x"))...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ip IPv4
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := ip.DecodeFrom(d); return ip.Payload, err })
		if ip.Payload != nil && int(ip.IHL)*4+len(ip.Payload) > len(b) {
			t.Fatal("payload beyond input")
		}
	})
}

func FuzzIPv6(f *testing.F) {
	f.Add(serialize(f, innerUDP6([]byte("x"))...))
	f.Add(frag6(f, 1, make([]byte, 16), 8, true)[14:])
	f.Fuzz(func(t *testing.T, b []byte) {
		var ip IPv6
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := ip.DecodeFrom(d); return ip.Payload, err })
	})
}

func FuzzUDP(f *testing.F) {
	f.Add(udpDatagram(f, []byte("INVITE")))
	f.Fuzz(func(t *testing.T, b []byte) {
		var u UDP
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := u.DecodeFrom(d); return u.Payload, err })
		if u.Payload != nil && u.Length != 0 && len(u.Payload) != int(u.Length)-8 {
			t.Fatal("payload length disagrees with the length field")
		}
	})
}

func FuzzTCP(f *testing.F) {
	f.Add(tcpSeg(f, 5060, 1, []byte("x"), false)[34:])
	f.Fuzz(func(t *testing.T, b []byte) {
		var tc TCP
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := tc.DecodeFrom(d); return tc.Payload, err })
	})
}

func FuzzSCTP(f *testing.F) {
	f.Add([]byte(sctpPacket(5060, 5060, sctpDataChunk(3, 1, []byte("OPTIONS")), sctpDataChunk(2, 2, []byte("x")))))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s SCTP
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := s.DecodeFrom(d); return s.Chunks, err })
		var c SCTPChunk
		rest := s.Chunks
		for i := 0; len(rest) > 0 && i < 1000; i++ {
			before := len(rest)
			var err error
			if rest, err = c.NextChunk(rest); err != nil {
				break
			}
			if len(rest) >= before {
				t.Fatal("chunk walk does not advance")
			}
			_, _, _, data, err := c.Data()
			if err == nil && !within(b, data) && len(data) > 0 {
				t.Fatal("data outside input")
			}
		}
	})
}

func FuzzGRE(f *testing.F) {
	f.Add([]byte{0xb0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0x45})
	f.Add([]byte{0x30, 0x81, 0x88, 0x0b, 0, 10, 0, 0, 0, 0, 0, 1, 0xff, 3, 0, 0x21})
	f.Fuzz(func(t *testing.T, b []byte) {
		var g GRE
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := g.DecodeFrom(d); return g.Payload, err })
		_, rest, err := pppEtherType(b)
		if err == nil && len(rest) > 0 && !within(b, rest) {
			t.Fatal("ppp payload outside input")
		}
		var e ERSPAN
		for _, proto := range []uint16{etherTypeERSPAN2, etherTypeERSPAN3} {
			layerFuzz(t, b, func(d []byte) ([]byte, error) { err := e.DecodeFrom(d, proto, true); return e.Payload, err })
		}
	})
}

func FuzzVXLAN(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 0, 0x13, 0x89, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v VXLAN
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := v.DecodeFrom(d); return v.Payload, err })
		var g GENEVE
		layerFuzz(t, b, func(d []byte) ([]byte, error) { err := g.DecodeFrom(d); return g.Payload, err })
	})
}
