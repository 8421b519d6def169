//go:build !race

package decode

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestPathAllocs(t *testing.T) {
	msg := loadFixture(t, "invite.sip")
	cases := encapCases(t, msg)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _ := NewPath(nil)
			h := &countHandler{}
			ts := int64(0)
			n := testing.AllocsPerRun(200, func() {
				ts += 10
				_ = p.Decode(c.frame, c.link, ts, c.tci, h)
			})
			if n != 0 {
				t.Errorf("%s: %.1f allocations per frame, want 0", c.name, n)
			}
			if h.n == 0 {
				t.Error("no message decoded")
			}
		})
	}
}

// TestReassemblyAllocs checks that defrag and TCP streams do not allocate
// once their buffers have grown.
func TestReassemblyAllocs(t *testing.T) {
	msg := bigSIP(t, 3000)
	dgram := udpDatagram(t, msg)
	frags := fragments(t, false, 7, dgram, []fragPiece{{1480, len(dgram)}, {0, 1480}})
	p, _ := NewPath(nil)
	h := &countHandler{}
	ts := int64(0)
	run := func() {
		for _, f := range frags {
			ts += 10
			_ = p.Decode(f, LinkEthernet, ts, 0, h)
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("defrag: %.1f allocations, want 0", n)
	}
	inv := loadFixture(t, "invite.sip")
	seq := uint32(1)
	p2, _ := NewPath(nil)
	mk := func(s uint32, b []byte) []byte {
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 5060, Seq: s, DataOffset: 5, ACK: true}
		return serialize(t, ethL(layers.EthernetTypeIPv4), ip4L(tSrc4, tDst4, layers.IPProtocolTCP), tcp, gopacket.Payload(b))
	}
	// Pre-build a long stream of split messages.
	var segs [][]byte
	for i := 0; i < 400; i++ {
		segs = append(segs, mk(seq, inv[:300]), mk(seq+300, inv[300:]))
		seq += uint32(len(inv))
	}
	i := 0
	step := func() {
		ts += 10
		_ = p2.Decode(segs[i], LinkEthernet, ts, 0, h)
		_ = p2.Decode(segs[i+1], LinkEthernet, ts, 0, h)
		i += 2
	}
	step()
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Errorf("tcp stream: %.1f allocations, want 0", n)
	}
}

// TestPathErrorAllocs checks that malformed frames cost no allocation.
func TestPathErrorAllocs(t *testing.T) {
	msg := loadFixture(t, "ok.sip")
	good := serialize(t, cat(ls(ethL(layers.EthernetTypeIPv4)), innerUDP4(msg))...)
	bad := append([]byte(nil), good...)
	bad[14] = 0x43
	p, _ := NewPath(nil)
	for _, fr := range [][]byte{good[:10], good[:30], good[:60], bad, []byte("\x45\x00\x00\x10")} {
		n := testing.AllocsPerRun(100, func() {
			if err := p.Decode(fr, LinkEthernet, 1, 0, nil); err != nil {
				_ = err.Error()
			}
		})
		if n != 0 {
			t.Errorf("%d-byte frame: %.1f allocations", len(fr), n)
		}
	}
}
