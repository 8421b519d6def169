package decode

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// bigSIP returns a SIP message of about n bytes (padded with a header).
func bigSIP(t testing.TB, n int) []byte {
	msg := loadFixture(t, "ok.sip")
	pad := n - len(msg) - len("X-Pad: \r\n")
	if pad < 0 {
		return msg
	}
	i := bytes.Index(msg, []byte("\r\nContent-Length"))
	var b []byte
	b = append(b, msg[:i+2]...)
	b = append(b, "X-Pad: "...)
	b = append(b, bytes.Repeat([]byte{'p'}, pad)...)
	b = append(b, "\r\n"...)
	b = append(b, msg[i+2:]...)
	return b
}

// udpDatagram returns UDP header + payload (the IP payload to fragment).
func udpDatagram(t testing.TB, payload []byte) []byte {
	return serialize(t, udpL(5060, 5060), gopacket.Payload(payload))
}

// frag4 builds an Ethernet/IPv4 fragment of the IP payload data at byte
// offset off (a multiple of 8).
func frag4(t testing.TB, id uint16, data []byte, off int, more bool) []byte {
	ip := ip4L(tSrc4, tDst4, layers.IPProtocolUDP)
	ip.Id = id
	ip.FragOffset = uint16(off / 8)
	if more {
		ip.Flags = layers.IPv4MoreFragments
	}
	return serialize(t, ethL(layers.EthernetTypeIPv4), ip, gopacket.Payload(data))
}

// frag6 builds an Ethernet/IPv6 fragment with a Fragment header.
func frag6(t testing.TB, id uint32, data []byte, off int, more bool) []byte {
	fh := make([]byte, 8)
	fh[0] = 17
	v := uint16(off/8) << 3
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(fh[2:], v)
	binary.BigEndian.PutUint32(fh[4:], id)
	return serialize(t, ethL(layers.EthernetTypeIPv6), ip6L(tSrc6, tDst6, layers.IPProtocolIPv6Fragment), rawLayer(fh), gopacket.Payload(data))
}

type fragPiece struct{ lo, hi int }

// fragments cuts dgram into pieces and builds frames in the given order.
func fragments(t testing.TB, v6 bool, id uint32, dgram []byte, pieces []fragPiece) [][]byte {
	var out [][]byte
	for _, pc := range pieces {
		hi := pc.hi
		if hi > len(dgram) {
			hi = len(dgram)
		}
		more := hi < len(dgram)
		if v6 {
			out = append(out, frag6(t, id, dgram[pc.lo:hi], pc.lo, more))
		} else {
			out = append(out, frag4(t, uint16(id), dgram[pc.lo:hi], pc.lo, more))
		}
	}
	return out
}

func TestDefragPath(t *testing.T) {
	msg := bigSIP(t, 3000)
	dgram := udpDatagram(t, msg)
	end := len(dgram)
	f := func(name string, v6 bool, pieces []fragPiece, wantMsgs int, check func(st *DefragStats) bool) {
		t.Helper()
		p, _ := NewPath(nil)
		var r recorder
		for i, fr := range fragments(t, v6, 7, dgram, pieces) {
			_ = p.Decode(fr, LinkEthernet, int64(i), 0, &r)
		}
		st := p.Stats()
		if len(r.msgs) != wantMsgs {
			t.Errorf("%s: %d messages, want %d (stats %+v)", name, len(r.msgs), wantMsgs, st.Defrag)
			return
		}
		if wantMsgs == 1 {
			if !bytes.Equal(r.msgs[0], msg) {
				t.Errorf("%s: reassembled message differs", name)
			}
			want := "eth/ip4/frag/udp"
			if v6 {
				want = "eth/ip6/frag/udp"
			}
			if r.metas[0].Encap.String() != want || r.metas[0].SrcPort != 5060 {
				t.Errorf("%s: encap %s port %d", name, r.metas[0].Encap.String(), r.metas[0].SrcPort)
			}
		}
		if check != nil && !check(&st.Defrag) {
			t.Errorf("%s: stats %+v", name, st.Defrag)
		}
	}
	for _, v6 := range []bool{false, true} {
		f("in order", v6, []fragPiece{{0, 1480}, {1480, 2960}, {2960, end}}, 1, func(s *DefragStats) bool {
			return s.Fragments == 3 && s.Reassembled == 1 && s.InFlight == 0 && s.HeldBytes == 0
		})
		f("reverse", v6, []fragPiece{{2960, end}, {1480, 2960}, {0, 1480}}, 1, nil)
		f("overlapping", v6, []fragPiece{{0, 1000}, {800, 2000}, {1600, end}}, 1, func(s *DefragStats) bool { return s.Overlaps == 2 })
		f("duplicate", v6, []fragPiece{{0, 1480}, {0, 1480}, {1480, end}}, 1, func(s *DefragStats) bool { return s.Overlaps == 1 })
		f("middle missing", v6, []fragPiece{{0, 1000}, {2000, end}}, 0, func(s *DefragStats) bool { return s.InFlight == 1 && s.HeldBytes > 0 })
		f("many small", v6, func() []fragPiece {
			var ps []fragPiece
			for o := 0; o < end; o += 64 {
				ps = append(ps, fragPiece{o, o + 64})
			}
			// odd pieces first, then even: up to 24 disjoint ranges
			var out []fragPiece
			for i := 1; i < len(ps); i += 2 {
				out = append(out, ps[i])
			}
			for i := 0; i < len(ps); i += 2 {
				out = append(out, ps[i])
			}
			return out
		}(), 1, nil)
	}
}

func TestDefragEvictions(t *testing.T) {
	msg := bigSIP(t, 3000)
	dgram := udpDatagram(t, msg)
	first := func(id uint16) []byte { return frag4(t, id, dgram[:1480], 0, true) }
	rest := func(id uint16) []byte { return frag4(t, id, dgram[1480:], 1480, false) }
	var r recorder

	// Timeout: the rest arrives 31 s later.
	p, _ := NewPath(nil)
	_ = p.Decode(first(1), LinkEthernet, 0, 0, &r)
	_ = p.Decode(rest(1), LinkEthernet, 31_000_001, 0, &r)
	if st := p.Stats(); len(r.msgs) != 0 || st.Defrag.Evicted[EvictTimeout] != 1 || st.Defrag.InFlight != 1 {
		t.Errorf("timeout: %d messages, %+v", len(r.msgs), st.Defrag)
	}

	// Datagram cap: three in flight with room for two evicts the oldest.
	p, _ = NewPath(&PathConfig{Defrag: DefragConfig{MaxDatagrams: 2}})
	for id := uint16(1); id <= 3; id++ {
		_ = p.Decode(first(id), LinkEthernet, int64(id), 0, &r)
	}
	_ = p.Decode(rest(1), LinkEthernet, 10, 0, &r) // id 1 was evicted: starts over
	_ = p.Decode(rest(3), LinkEthernet, 11, 0, &r) // id 3 completes
	if st := p.Stats(); len(r.msgs) != 1 || st.Defrag.Evicted[EvictFull] != 2 || st.Defrag.Reassembled != 1 {
		t.Errorf("full: %d messages, %+v", len(r.msgs), st.Defrag)
	}

	// Byte cap: 64 KiB held at most.
	r.reset()
	p, _ = NewPath(&PathConfig{Defrag: DefragConfig{MaxBytes: 65535}})
	big := make([]byte, 30000)
	for id := uint16(1); id <= 3; id++ {
		_ = p.Decode(frag4(t, id, big, 0, true), LinkEthernet, int64(id), 0, &r)
	}
	if st := p.Stats(); st.Defrag.Evicted[EvictBytes] != 1 || st.Defrag.HeldBytes > 65535 {
		t.Errorf("bytes: %+v", st.Defrag)
	}

	// Too large: a fragment ending past 65535.
	p, _ = NewPath(nil)
	err := p.Decode(frag4(t, 9, dgram[:1480], 65000, true), LinkEthernet, 0, 0, &r)
	if st := p.Stats(); err == nil || st.Defrag.Evicted[EvictTooLarge] != 1 {
		t.Errorf("too large: %v %+v", err, st.Defrag)
	}

	// Inconsistent: two last fragments with different ends.
	p, _ = NewPath(nil)
	_ = p.Decode(rest(4), LinkEthernet, 0, 0, &r)
	_ = p.Decode(frag4(t, 4, dgram[1480:2000], 1480, false), LinkEthernet, 0, 0, &r)
	if st := p.Stats(); st.Defrag.Evicted[EvictInconsistent] != 1 {
		t.Errorf("inconsistent: %+v", st.Defrag)
	}

	// Malformed: a non-last fragment whose length is not a multiple of 8.
	p, _ = NewPath(nil)
	if err := p.Decode(frag4(t, 5, dgram[:1001], 0, true), LinkEthernet, 0, 0, &r); err == nil || p.Stats().Defrag.Malformed != 1 {
		t.Errorf("malformed: %v", err)
	}
}

func TestDefragRangeMerge(t *testing.T) {
	var s fragSlot
	var st DefragStats
	for _, r := range []fragRange{{100, 200}, {300, 400}, {0, 50}, {50, 100}, {150, 350}, {400, 500}} {
		if !s.insert(r.lo, r.hi, &st) {
			t.Fatal("insert refused")
		}
	}
	if s.nr != 1 || s.ranges[0] != (fragRange{0, 500}) || st.Overlaps != 1 {
		t.Errorf("ranges %v overlaps %d", s.ranges[:s.nr], st.Overlaps)
	}
	var full fragSlot
	for i := 0; i < maxFragRanges; i++ {
		full.insert(i*16, i*16+8, &st)
	}
	if full.insert(maxFragRanges*16, maxFragRanges*16+8, &st) {
		t.Error("65th disjoint range accepted")
	}
	if _, err := NewDefrag(&DefragConfig{MaxDatagrams: -1}); err == nil {
		t.Error("bad config accepted")
	}
	d, err := NewDefrag(nil)
	if err != nil {
		t.Fatal(err)
	}
	ip := &IPv4{ID: 1, Protocol: 17, Flags: 1, Payload: make([]byte, 8)}
	if _, done, err := d.AddIPv4(ip, 0); done || err != nil || d.Stats().InFlight != 1 {
		t.Errorf("AddIPv4: %v %v", done, err)
	}
	ip.Flags, ip.FragOff = 0, 1
	if b, done, err := d.AddIPv4(ip, 0); !done || err != nil || len(b) != 16 {
		t.Errorf("AddIPv4 last: %v %v %d", done, err, len(b))
	}
}
