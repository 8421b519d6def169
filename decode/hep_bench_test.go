package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
)

// BenchmarkHEP3 decodes a HEP v3 packet as capture agents send it: 13
// chunks (family, proto, addresses, ports, time, proto type, capture id,
// auth key, correlation id, node name) and an ~800-byte INVITE payload.
func BenchmarkHEP3(b *testing.B) {
	pkt := buildHEP3(hepTypicalChunks(hepTestSIP)...)
	var h HEP
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := h.DecodeFrom(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHEP3Baseline decodes the same packet as BenchmarkHEP3 with
// baselineDecodeHEP3, the way a Go user would without this package.
func BenchmarkHEP3Baseline(b *testing.B) {
	pkt := buildHEP3(hepTypicalChunks(hepTestSIP)...)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		h, err := baselineDecodeHEP3(pkt)
		if err != nil || len(h.Payload) != len(hepTestSIP) {
			b.Fatal(err)
		}
	}
}

func BenchmarkHEP2(b *testing.B) {
	pkt := buildHEP12(2, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 1700000000, 1, 2, hepTestSIP)
	var h HEP
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := h.DecodeFrom(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHEP3Compressed is BenchmarkHEP3 with the payload in chunk 0x0010.
// SetBytes counts the inflated payload.
func BenchmarkHEP3Compressed(b *testing.B) {
	for _, kind := range []string{"zlib", "gzip-noname", "deflate"} {
		b.Run(kind, func(b *testing.B) {
			pkt := hepCompressedFixture(b, kind, hepTestSIP)
			var h HEP
			b.SetBytes(int64(len(hepTestSIP)))
			b.ReportAllocs()
			for b.Loop() {
				if err := h.DecodeFrom(pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHEPStream frames a TCP byte stream of HEP v3 messages delivered in
// 1448-byte segments (messages cross segment boundaries), and decodes each.
func BenchmarkHEPStream(b *testing.B) {
	var stream []byte
	msgs := 0
	for len(stream) < 256<<10 {
		stream = append(stream, buildHEP3(hepTypicalChunks(hepTestSIP)...)...)
		msgs++
	}
	var s HEPStream
	var h HEP
	emit := func(msg []byte) {
		if err := h.DecodeFrom(msg); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		for p := stream; len(p) > 0; {
			n := min(1448, len(p))
			s.Feed(p[:n], emit)
			p = p[n:]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*msgs), "ns/msg")
}

// ---- Baseline: not our code. ----
//
// baselineDecodeHEP3 is how a Go user decodes HEP v3 without this package:
// encoding/binary.Read over a bytes.Reader, one freshly allocated value per
// chunk kept in a map, net.IP addresses, a new result struct per packet (the
// shape of heplify-server's decoder). There is no canonical Go HEP library to
// import instead.

type baselineHEPHeader struct {
	Magic  [4]byte
	Length uint16
}

type baselineChunkHeader struct {
	Vendor, Type, Length uint16
}

type baselineHEP struct {
	Version          string
	Family, Proto    uint8
	Src, Dst         net.IP
	SrcPort, DstPort uint16
	TSSec, TSUsec    uint32
	ProtoType        uint8
	CaptureID        uint32
	AuthKey          string
	CorrelationID    string
	NodeName         string
	Payload          []byte
	Chunks           map[uint16][]byte
}

func baselineDecodeHEP3(data []byte) (*baselineHEP, error) {
	r := bytes.NewReader(data)
	var hdr baselineHEPHeader
	if err := binary.Read(r, binary.BigEndian, &hdr); err != nil {
		return nil, err
	}
	if string(hdr.Magic[:]) != "HEP3" || int(hdr.Length) > len(data) {
		return nil, errors.New("not hep3")
	}
	h := &baselineHEP{Version: string(hdr.Magic[:]), Chunks: make(map[uint16][]byte)}
	for r.Len() > 0 {
		var ch baselineChunkHeader
		if err := binary.Read(r, binary.BigEndian, &ch); err != nil {
			return nil, err
		}
		if ch.Length < 6 {
			return nil, errors.New("bad chunk length")
		}
		val := make([]byte, ch.Length-6)
		if _, err := io.ReadFull(r, val); err != nil {
			return nil, err
		}
		h.Chunks[ch.Type] = val
		if ch.Vendor != 0 {
			continue
		}
		vr := bytes.NewReader(val)
		var err error
		switch ch.Type {
		case 1:
			err = binary.Read(vr, binary.BigEndian, &h.Family)
		case 2:
			err = binary.Read(vr, binary.BigEndian, &h.Proto)
		case 3, 5:
			h.Src = net.IP(val)
		case 4, 6:
			h.Dst = net.IP(val)
		case 7:
			err = binary.Read(vr, binary.BigEndian, &h.SrcPort)
		case 8:
			err = binary.Read(vr, binary.BigEndian, &h.DstPort)
		case 9:
			err = binary.Read(vr, binary.BigEndian, &h.TSSec)
		case 10:
			err = binary.Read(vr, binary.BigEndian, &h.TSUsec)
		case 11:
			err = binary.Read(vr, binary.BigEndian, &h.ProtoType)
		case 12:
			err = binary.Read(vr, binary.BigEndian, &h.CaptureID)
		case 14:
			h.AuthKey = string(val)
		case 15:
			h.Payload = val
		case 17:
			h.CorrelationID = string(val)
		case 19:
			h.NodeName = string(val)
		}
		if err != nil {
			return nil, err
		}
	}
	return h, nil
}

// TestHEPBaselineAgrees checks that the baseline decodes the benchmark packet
// to the same values, so the comparison is like for like.
func TestHEPBaselineAgrees(t *testing.T) {
	t.Parallel()
	pkt := buildHEP3(hepTypicalChunks(hepTestSIP)...)
	var h HEP
	if err := h.DecodeFrom(pkt); err != nil {
		t.Fatal(err)
	}
	bl, err := baselineDecodeHEP3(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if bl.Src.String() != h.Src.String() || bl.DstPort != h.DstPort || bl.TSSec != h.TSSec || bl.CaptureID != h.CaptureID ||
		bl.NodeName != string(h.NodeName) || bl.AuthKey != string(h.AuthKey) || !bytes.Equal(bl.Payload, h.Payload) ||
		len(bl.Chunks) != 14 {
		t.Fatalf("baseline %+v\nours %+v", bl, h)
	}
}
