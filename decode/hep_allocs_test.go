//go:build !race

package decode

import (
	"net/netip"
	"testing"
)

func TestHEPAllocs(t *testing.T) {
	v4a, v4b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	all, _ := hepAllChunks()
	cases := []struct {
		name string
		pkt  []byte
		err  error
	}{
		{"v1 ipv4", buildHEP12(1, v4a, v4b, 0, 0, 0, hepTestSIP), nil},
		{"v2 ipv4", buildHEP12(2, v4a, v4b, 1, 2, 3, hepTestSIP), nil},
		{"v2 ipv6", buildHEP12(2, v6a, v6b, 1, 2, 3, hepTestSIP), nil},
		{"v3 typical", buildHEP3(hepTypicalChunks(hepTestSIP)...), nil},
		{"v3 all chunks", all, nil},
		{"not hep", []byte("INVITE sip:x SIP/2.0\r\n"), ErrHEPBadVersion},
		{"bad chunk", buildHEP3WithRaw([]byte{0, 0, 0, 1, 0, 5, 2}), ErrHEPBadChunk},
	}
	var h HEP
	var m Meta
	for _, c := range cases {
		n := testing.AllocsPerRun(100, func() {
			if err := h.DecodeFrom(c.pkt); err != c.err {
				t.Fatal(err)
			}
			_ = HEPErrorKind(c.err)
			m.Reset()
			h.FillMeta(&m)
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per decode, want 0", c.name, n)
		}
	}
}

// TestHEPAllocsCompressed measures what inflating chunk 0x0010 costs in the
// steady state (readers and buffer already created). The remaining
// allocations are inside klauspost/compress and are documented in
// bench/results/hep.md; the bound catches a regression.
func TestHEPAllocsCompressed(t *testing.T) {
	for _, c := range []struct {
		kind string
		max  float64
	}{
		// gzip with a file name in its header: klauspost's gzip.Reader
		// returns Header.Name as a string, one allocation per packet.
		{"gzip", 1},
		{"gzip-noname", 0},
		{"zlib", 0},
		{"deflate", 0},
	} {
		pkt := hepCompressedFixture(t, c.kind, hepTestSIP)
		var h HEP
		if err := h.DecodeFrom(pkt); err != nil { // warm up: create readers and buffer
			t.Fatal(err)
		}
		n := testing.AllocsPerRun(100, func() {
			if err := h.DecodeFrom(pkt); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: %v allocations per decode", c.kind, n)
		if n > c.max {
			t.Errorf("%s: %v allocations per decode, want at most %v", c.kind, n, c.max)
		}
	}
}

func TestHEPStreamAllocs(t *testing.T) {
	msgs := hepStreamMessages(12)
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, m...)
	}
	stream = append(stream, "junk"...)
	// Split points that cut headers, lengths and payloads.
	cuts := [][]byte{stream[:3], stream[3:700], stream[700:701], stream[701 : len(stream)/2], stream[len(stream)/2:]}
	var s HEPStream
	n := 0
	emit := func(msg []byte) { n += len(msg) }
	for _, c := range cuts { // warm up: allocates the buffer once
		s.Feed(c, emit)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, c := range cuts {
			s.Feed(c, emit)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per pass, want 0", allocs)
	}
	if s.Stats.Messages != 102*uint64(len(msgs)) { // warm-up + AllocsPerRun's own warm-up + 100
		t.Fatalf("stats %+v", s.Stats)
	}
}
