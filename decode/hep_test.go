package decode

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/klauspost/compress/flate"
)

// hepTestSIP is a ~800-byte INVITE with SDP, the usual HEP payload.
var hepTestSIP = []byte("INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>\r\n" +
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@pc33.atlanta.example.com:5060;transport=udp>\r\n" +
	"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO\r\n" +
	"Supported: replaces, timer\r\n" +
	"User-Agent: ExamplePhone/1.2.3\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 272\r\n" +
	"\r\n" +
	"v=0\r\n" +
	"o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n" +
	"s=-\r\n" +
	"c=IN IP4 192.0.2.101\r\n" +
	"t=0 0\r\n" +
	"m=audio 49172 RTP/AVP 0 8 18 101\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:18 G729/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-16\r\n" +
	"a=ptime:20\r\n" +
	"a=sendrecv\r\n")

// hepChunk is one HEP v3 chunk for the test builder.
type hepChunk struct {
	vendor, typ uint16
	val         []byte
}

func hc(typ uint16, val []byte) hepChunk { return hepChunk{typ: typ, val: val} }
func hu8(v uint8) []byte                 { return []byte{v} }
func hu16(v uint16) []byte               { return binary.BigEndian.AppendUint16(nil, v) }
func hu32(v uint32) []byte               { return binary.BigEndian.AppendUint32(nil, v) }
func hu64(v uint64) []byte               { return binary.BigEndian.AppendUint64(nil, v) }

// buildHEP3 lays out a HEP v3 packet (HEP v3 rev 37):
//
//	"HEP3" | total length u16 BE (incl. these 6 bytes) | chunks...
//	chunk: vendor u16 BE | type u16 BE | length u16 BE (incl. these 6 bytes) | value
func buildHEP3(chunks ...hepChunk) []byte {
	b := []byte("HEP3\x00\x00")
	for _, c := range chunks {
		b = binary.BigEndian.AppendUint16(b, c.vendor)
		b = binary.BigEndian.AppendUint16(b, c.typ)
		b = binary.BigEndian.AppendUint16(b, uint16(6+len(c.val)))
		b = append(b, c.val...)
	}
	binary.BigEndian.PutUint16(b[4:6], uint16(len(b)))
	return b
}

// hepTypicalChunks is what a capture agent (heplify, Kamailio siptrace)
// sends for one SIP message: 12 chunks plus the payload.
func hepTypicalChunks(payload []byte) []hepChunk {
	return []hepChunk{
		hc(0x0001, hu8(2)),
		hc(0x0002, hu8(17)),
		hc(0x0003, []byte{192, 0, 2, 1}),
		hc(0x0004, []byte{192, 0, 2, 2}),
		hc(0x0007, hu16(5060)),
		hc(0x0008, hu16(5062)),
		hc(0x0009, hu32(1700000000)),
		hc(0x000a, hu32(123456)),
		hc(0x000b, hu8(1)),
		hc(0x000c, hu32(2001)),
		hc(0x000e, []byte("myHep")),
		hc(0x0011, []byte("a84b4c76e66710@pc33")),
		hc(0x0013, []byte("node1")),
		hc(0x000f, payload),
	}
}

// buildHEP12 lays out a HEP v1 or v2 packet (struct hep_hdr, hep_iphdr or
// hep_ip6hdr, hep_timehdr for v2; Kamailio sipcapture hep.h):
//
//	0 version | 1 hdr len | 2 family | 3 proto | 4 sport BE | 6 dport BE
//	8 src, dst (4+4 or 16+16)
//	v2: tv_sec u32 LE | tv_usec u32 LE | captid u16 LE | 2 pad bytes
//	then the SIP payload (IPv4: v1 at 16, v2 at 28; IPv6: v1 at 40, v2 at 52)
func buildHEP12(version uint8, src, dst netip.Addr, sec, usec uint32, capid uint16, payload []byte) []byte {
	fam, alen := uint8(2), 4
	if src.Is6() {
		fam, alen = 10, 16
	}
	b := []byte{version, uint8(8 + 2*alen), fam, 17}
	b = binary.BigEndian.AppendUint16(b, 5060)
	b = binary.BigEndian.AppendUint16(b, 5080)
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	if version == 2 {
		b = binary.LittleEndian.AppendUint32(b, sec)
		b = binary.LittleEndian.AppendUint32(b, usec)
		b = binary.LittleEndian.AppendUint16(b, capid)
		b = append(b, 0, 0)
	}
	return append(b, payload...)
}

func TestHEPv1v2(t *testing.T) {
	t.Parallel()
	v4a, v4b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	f := func(version uint8, src, dst netip.Addr, wantOff int) {
		t.Helper()
		pkt := buildHEP12(version, src, dst, 1700000000, 654321, 0x1234, hepTestSIP)
		if got := len(pkt) - len(hepTestSIP); got != wantOff {
			t.Fatalf("v%d %s: payload offset %d, want %d", version, src, got, wantOff)
		}
		var h HEP
		for pass := 0; pass < 2; pass++ { // decode twice into the same value
			if err := h.DecodeFrom(pkt); err != nil {
				t.Fatalf("v%d %s pass %d: %v", version, src, pass, err)
			}
			fam := uint8(2)
			if src.Is6() {
				fam = 10
			}
			if h.Version != version || h.Family != fam || h.Proto != 17 || h.Src != src || h.Dst != dst ||
				h.SrcPort != 5060 || h.DstPort != 5080 || h.ProtoType != HEPTypeSIP || !h.IsSIP() ||
				!bytes.Equal(h.Payload, hepTestSIP) || &h.Payload[0] != &pkt[wantOff] || h.Len != len(pkt) || h.Rest != nil {
				t.Fatalf("v%d %s pass %d: wrong header %+v", version, src, pass, h)
			}
			if version == 2 {
				if h.TSSec != 1700000000 || h.TSUsec != 654321 || h.CaptureID != 0x1234 || h.MicroTS() != 1700000000654321 {
					t.Fatalf("v2 %s: time block %d.%d capid %d", src, h.TSSec, h.TSUsec, h.CaptureID)
				}
			} else if h.TSSec != 0 || h.TSUsec != 0 || h.CaptureID != 0 {
				t.Fatalf("v1 %s: time fields set: %+v", src, h)
			}
		}
		h.Reset()
		if h.Version != 0 || h.Payload != nil || h.Src.IsValid() {
			t.Fatalf("Reset left fields: %+v", h)
		}
	}
	f(1, v4a, v4b, 16)
	f(2, v4a, v4b, 28)
	f(1, v6a, v6b, 40)
	f(2, v6a, v6b, 52)
}

// TestHEPv2Literal pins the v2 layout with a hand-written byte literal.
func TestHEPv2Literal(t *testing.T) {
	t.Parallel()
	pkt := []byte{
		0x02, 0x10, 0x02, 0x11, // v2, hdr len 16, AF_INET, UDP
		0x13, 0xc4, 0x13, 0xc5, // sport 5060, dport 5061
		0xc0, 0xa8, 0x01, 0x01, // 192.168.1.1
		0xc0, 0xa8, 0x01, 0x02, // 192.168.1.2
		0x00, 0xf1, 0x53, 0x65, // tv_sec LE 0x6553f100 = 1700000000
		0x40, 0xe2, 0x01, 0x00, // tv_usec LE 123456
		0xe9, 0x03, 0x00, 0x00, // captid LE 1001, 2 pad bytes
		'O', 'P', 'T', 'I', 'O', 'N', 'S', ' ', // payload at 28
	}
	var h HEP
	if err := h.DecodeFrom(pkt); err != nil {
		t.Fatal(err)
	}
	if h.Src != netip.MustParseAddr("192.168.1.1") || h.DstPort != 5061 || h.TSSec != 1700000000 ||
		h.TSUsec != 123456 || h.CaptureID != 1001 || string(h.Payload) != "OPTIONS " {
		t.Fatalf("got %+v", h)
	}
}

// hepAllChunks returns a packet with every generic chunk of the rev 37 list,
// a vendor chunk, a reserved generic type, and the expected decode.
func hepAllChunks() ([]byte, HEP) {
	src6, dst6 := netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::20")
	pkt := buildHEP3(
		hc(0x0001, hu8(10)),
		hc(0x0002, hu8(6)),
		hc(0x0003, []byte{192, 0, 2, 1}), // replaced below by the IPv6 chunks
		hc(0x0004, []byte{192, 0, 2, 2}),
		hc(0x0005, src6.AsSlice()),
		hc(0x0006, dst6.AsSlice()),
		hc(0x0007, hu16(5061)),
		hc(0x0008, hu16(5070)),
		hc(0x0009, hu32(1700000001)),
		hc(0x000a, hu32(999999)),
		hc(0x000b, hu8(1)),
		hc(0x000c, hu32(0xdeadbeef)),
		hc(0x000d, hu16(30)),
		hc(0x000e, []byte("secret")),
		hepChunk{vendor: 2, typ: 0x000f, val: []byte("kamailio vendor chunk, skipped")},
		hc(0x000f, hepTestSIP),
		hc(0x0011, []byte("corr-1")),
		hc(0x0012, hu16(42)),
		hc(0x0013, []byte("edge-7")),
		hc(0x0014, hu64(0x0000_0011_2233_4455)),
		hc(0x0015, hu64(0x0000_6677_8899_aabb)),
		hc(0x0016, hu16(0x86dd)),
		hc(0x0017, hu8(0x18)),
		hc(0x0018, hu8(0xb8)),
		hc(0x0019, []byte("reserved, skipped")),
		hc(0x0020, hu16(420)),
		hc(0x0021, hu16(93)),
		hc(0x0022, []byte("48.85,2.35")),
		hc(0x0023, hu32(17)),
		hc(0x0024, []byte("call")),
		hc(0x0025, []byte("k1,k2")),
		hc(0x0026, []byte("t1=v1")),
		hc(0x0027, hu16(3)),
		hc(0x0028, hu16(1)),
		hc(0x0029, []byte("grp-9")),
		hc(0x0065, []byte(`{"extra":"correlation"}`)), // OpenSIPS vendor-0 101, unknown: skipped
	)
	want := HEP{
		Version: 3, Family: 10, Proto: 6, Src: src6, Dst: dst6, SrcPort: 5061, DstPort: 5070,
		TSSec: 1700000001, TSUsec: 999999, ProtoType: 1, CaptureID: 0xdeadbeef, KeepAlive: 30,
		AuthKey: []byte("secret"), Payload: hepTestSIP, CorrelationID: []byte("corr-1"), VLAN: 42,
		NodeName: []byte("edge-7"), SrcMAC: 0x0011_2233_4455, DstMAC: 0x6677_8899_aabb,
		EthType: 0x86dd, TCPFlags: 0x18, TOS: 0xb8, MOS: 420, RFactor: 93, Geo: []byte("48.85,2.35"),
		Jitter: 17, TransactionType: []byte("call"), JSONKeys: []byte("k1,k2"), Tags: []byte("t1=v1"),
		TagType: 3, EventType: 1, GroupID: []byte("grp-9"), Skipped: 3, Len: len(pkt),
	}
	for _, typ := range []uint16{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x11, 0x12, 0x13, 0x14,
		0x15, 0x16, 0x17, 0x18, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29} {
		want.Chunks |= 1 << typ
	}
	return pkt, want
}

// hepEqual compares the decoded fields of a and b (not the inflate state),
// slices by content.
func hepEqual(a, b *HEP) bool {
	x, y := *a, *b
	sl := func(p, q []byte) bool { return bytes.Equal(p, q) && (p == nil) == (q == nil) }
	if !sl(x.AuthKey, y.AuthKey) || !sl(x.Payload, y.Payload) || !sl(x.CompressedPayload, y.CompressedPayload) ||
		!sl(x.CorrelationID, y.CorrelationID) || !sl(x.NodeName, y.NodeName) || !sl(x.Geo, y.Geo) ||
		!sl(x.TransactionType, y.TransactionType) || !sl(x.JSONKeys, y.JSONKeys) || !sl(x.Tags, y.Tags) ||
		!sl(x.GroupID, y.GroupID) || !sl(x.Rest, y.Rest) {
		return false
	}
	for _, h := range []*HEP{&x, &y} {
		h.AuthKey, h.Payload, h.CompressedPayload, h.CorrelationID, h.NodeName = nil, nil, nil, nil, nil
		h.Geo, h.TransactionType, h.JSONKeys, h.Tags, h.GroupID, h.Rest = nil, nil, nil, nil, nil, nil
		h.inflater, h.MaxInflate = nil, 0
	}
	return reflect.DeepEqual(x, y)
}

func TestHEP3AllChunks(t *testing.T) {
	t.Parallel()
	pkt, want := hepAllChunks()
	var h HEP
	for pass := 0; pass < 2; pass++ {
		if err := h.DecodeFrom(pkt); err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if !hepEqual(&h, &want) {
			t.Fatalf("pass %d:\n got %+v\nwant %+v", pass, h, want)
		}
		if !h.Has(0x0013) || h.Has(0x0010) || h.Has(0x0019) || h.Compressed {
			t.Fatalf("Has/Compressed wrong: chunks %#x", h.Chunks)
		}
	}
	// Trailing bytes after the declared length are exposed, not decoded.
	tail := append(append([]byte(nil), pkt...), "HEP3 trailing"...)
	if err := h.DecodeFrom(tail); err != nil {
		t.Fatal(err)
	}
	if h.Len != len(pkt) || string(h.Rest) != "HEP3 trailing" || !bytes.Equal(h.Payload, hepTestSIP) {
		t.Fatalf("trailing: Len %d Rest %q", h.Len, h.Rest)
	}
	h.Reset()
	if !hepEqual(&h, &HEP{}) {
		t.Fatalf("Reset left fields: %+v", h)
	}
	// EEP3 is the same format.
	eep := append([]byte("EEP3"), pkt[4:]...)
	if err := h.DecodeFrom(eep); err != nil || h.Version != 3 || !bytes.Equal(h.Payload, hepTestSIP) {
		t.Fatalf("EEP3: %v", err)
	}
}

func TestHEP3FamilyInferred(t *testing.T) {
	t.Parallel()
	var h HEP
	pkt := buildHEP3(hc(0x0003, []byte{1, 2, 3, 4}), hc(0x000f, []byte("x")))
	if err := h.DecodeFrom(pkt); err != nil || h.Family != 2 || h.ProtoType != 0 || h.IsSIP() {
		t.Fatalf("v4: %v family %d", err, h.Family)
	}
	pkt = buildHEP3(hc(0x0006, netip.IPv6Loopback().AsSlice()))
	if err := h.DecodeFrom(pkt); err != nil || h.Family != 10 || h.Payload != nil {
		t.Fatalf("v6: %v family %d", err, h.Family)
	}
}

func TestHEPErrors(t *testing.T) {
	t.Parallel()
	var h HEP
	f := func(name string, pkt []byte, want error) {
		t.Helper()
		err := h.DecodeFrom(pkt)
		if err != want {
			t.Fatalf("%s: got %v, want %v", name, err, want)
		}
		if want != nil && HEPErrorKind(err) != want.(HEPError).Kind() {
			t.Fatalf("%s: kind %q", name, HEPErrorKind(err))
		}
	}
	good := buildHEP3(hepTypicalChunks([]byte("OPTIONS"))...)
	f("empty", nil, ErrHEPTruncated)
	f("v3 magic prefix", []byte("HE"), ErrHEPTruncated)
	f("v3 no length", []byte("HEP3\x00"), ErrHEPTruncated)
	f("not hep", []byte("INVITE sip:x SIP/2.0\r\n"), ErrHEPBadVersion)
	f("v4", []byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrHEPBadVersion)
	f("EEP1 draft", append([]byte("EEP1"), good[4:]...), ErrHEPBadVersion)
	f("HEP2 ascii", append([]byte("HEP2"), good[4:]...), ErrHEPBadVersion)
	f("length 5", []byte("HEP3\x00\x05"), ErrHEPBadLength)
	f("length past datagram", good[:len(good)-1], ErrHEPTruncated)
	long := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(long[4:], uint16(len(good)+1))
	f("length one over", long, ErrHEPTruncated)
	f("chunk header cut", buildHEP3WithRaw([]byte{0, 0, 0, 1, 0}), ErrHEPBadChunk)
	f("chunk length 5", buildHEP3WithRaw([]byte{0, 0, 0, 1, 0, 5, 2}), ErrHEPBadChunk)
	f("chunk past end", buildHEP3WithRaw([]byte{0, 0, 0, 1, 0, 8, 2}), ErrHEPBadChunk)
	f("vendor chunk past end", buildHEP3WithRaw([]byte{0, 9, 0, 1, 0, 7}), ErrHEPBadChunk)
	f("v1 short", buildHEP12(1, netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("1.2.3.4"), 0, 0, 0, nil)[:2:2], ErrHEPTruncated)
	bad := buildHEP12(2, netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("1.2.3.4"), 0, 0, 0, []byte("x"))
	bad[2] = 7
	f("v2 family 7", bad, ErrHEPBadFamily)
	f("v2 family 7 short", bad[:20], ErrHEPBadFamily)
	bad[2] = 2
	f("v2 v4 cut time block", bad[:27], ErrHEPTruncated)
	f("v2 v4 empty payload", bad[:28], nil)
	// Every fixed-size generic chunk with one byte too few and too many.
	sizes := map[uint16]int{1: 1, 2: 1, 3: 4, 4: 4, 5: 16, 6: 16, 7: 2, 8: 2, 9: 4, 10: 4, 11: 1, 12: 4, 13: 2,
		0x12: 2, 0x14: 8, 0x15: 8, 0x16: 2, 0x17: 1, 0x18: 1, 0x20: 2, 0x21: 2, 0x23: 4, 0x27: 2, 0x28: 2}
	for typ, n := range sizes {
		for _, m := range []int{n - 1, n + 1} {
			pkt := buildHEP3(hc(typ, make([]byte, m)), hc(0x000f, []byte("x")))
			if err := h.DecodeFrom(pkt); err != ErrHEPChunkSize {
				t.Fatalf("type %#04x length %d: got %v", typ, m, err)
			}
		}
		// The same sizes under a vendor id are not checked: skipped by length.
		pkt := buildHEP3(hepChunk{vendor: 3, typ: typ, val: make([]byte, n+1)})
		if err := h.DecodeFrom(pkt); err != nil || h.Skipped != 1 {
			t.Fatalf("vendor type %#04x: %v", typ, err)
		}
	}
}

// TestHEP3CutHeaderAndCaps pins two properties the chunk loop's rewrite for
// speed kept: 1 to 5 bytes left after the last whole chunk (inside the total
// length) are a cut header for both DecodeFrom and HEPAuthorized, and the
// variable-length fields have their capacity up to the end of the input, not
// of their chunk or of the total length.
func TestHEP3CutHeaderAndCaps(t *testing.T) {
	t.Parallel()
	good := buildHEP3(hepTypicalChunks([]byte("OPTIONS"))...)
	var h HEP
	for k := 1; k <= 5; k++ {
		pkt := append(append([]byte(nil), good...), []byte{0, 0, 0, 1, 0}[:k]...)
		binary.BigEndian.PutUint16(pkt[4:], uint16(len(pkt)))
		if err := h.DecodeFrom(pkt); err != ErrHEPBadChunk {
			t.Fatalf("%d bytes left: got %v", k, err)
		}
		if HEPAuthorized(pkt, []byte("myHep")) {
			t.Fatalf("%d bytes left: authorized", k)
		}
	}
	in := append(append([]byte(nil), good...), "trailing"...)
	in = in[:len(in):len(in)] // the end of the input is the end of its array
	if err := h.DecodeFrom(in); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string][]byte{"AuthKey": h.AuthKey, "CorrelationID": h.CorrelationID,
		"NodeName": h.NodeName, "Payload": h.Payload} {
		if end := len(in) - cap(f); &in[end] != &f[0] {
			t.Fatalf("%s: capacity %d does not run to the end of the input", name, cap(f))
		}
	}
}

// buildHEP3WithRaw wraps raw chunk bytes in a HEP3 header with the right total.
func buildHEP3WithRaw(raw []byte) []byte {
	b := append([]byte("HEP3\x00\x00"), raw...)
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)))
	return b
}

func TestHEPErrorKind(t *testing.T) {
	t.Parallel()
	if HEPErrorKind(nil) != "" || HEPErrorKind(errors.New("x")) != "other" {
		t.Fatal("nil or foreign error")
	}
	wrapped := errors.Join(errors.New("ctx"), ErrHEPInflate)
	if HEPErrorKind(wrapped) != "inflate" || !errors.Is(wrapped, ErrHEPInflate) {
		t.Fatalf("wrapped: %q", HEPErrorKind(wrapped))
	}
	seen := map[string]bool{}
	for e := ErrHEPTruncated; e <= ErrHEPInflateTooLarge; e++ {
		k := e.Kind()
		if k == "unknown" || seen[k] || e.Error() == "decode: hep: unknown error" {
			t.Fatalf("error %d: kind %q text %q", e, k, e.Error())
		}
		seen[k] = true
	}
	if HEPError(0).Kind() != "unknown" || HEPError(200).Error() != "decode: hep: unknown error" {
		t.Fatal("out-of-range HEPError")
	}
}

// TestHEPEveryPrefix decodes every prefix of each fixture: each either decodes
// or returns a HEPError, never panics; v3 prefixes are always ErrHEPTruncated.
func TestHEPEveryPrefix(t *testing.T) {
	t.Parallel()
	all, _ := hepAllChunks()
	fixtures := [][]byte{
		all,
		buildHEP3(hepTypicalChunks(hepTestSIP)...),
		hepCompressedFixture(t, "zlib", hepTestSIP),
		buildHEP12(1, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 0, 0, 0, []byte("SIP")),
		buildHEP12(2, netip.MustParseAddr("::1"), netip.MustParseAddr("::2"), 1, 2, 3, []byte("SIP")),
	}
	var h HEP
	for fi, pkt := range fixtures {
		for n := 0; n <= len(pkt); n++ {
			err := h.DecodeFrom(pkt[:n])
			if err != nil {
				if _, ok := err.(HEPError); !ok {
					t.Fatalf("fixture %d prefix %d: foreign error %v", fi, n, err)
				}
			}
			if pkt[0] == 'H' && n < len(pkt) && err != ErrHEPTruncated {
				t.Fatalf("fixture %d prefix %d: got %v, want truncated", fi, n, err)
			}
			if n == len(pkt) && err != nil {
				t.Fatalf("fixture %d whole: %v", fi, err)
			}
		}
	}
}

// hepCompress compresses p with the standard library (a second implementation
// to check klauspost's inflate against): "gzip" (with a file name in the
// header), "gzip-noname", "zlib" or "deflate" (raw, klauspost's writer).
func hepCompress(t testing.TB, kind string, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch kind {
	case "gzip", "gzip-noname":
		gw := gzip.NewWriter(&buf)
		if kind == "gzip" {
			gw.Name = "sip.txt" // exercises the optional gzip header fields
		}
		w = gw
	case "zlib":
		w = zlib.NewWriter(&buf)
	case "deflate":
		fw, err := flate.NewWriter(&buf, flate.BestSpeed)
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	}
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hepCompressedFixture is the typical packet with its payload in chunk 0x0010.
func hepCompressedFixture(t testing.TB, kind string, payload []byte) []byte {
	ch := hepTypicalChunks(nil)
	ch[len(ch)-1] = hc(0x0010, hepCompress(t, kind, payload))
	return buildHEP3(ch...)
}

func TestHEP3Compressed(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat(hepTestSIP, 40) // ~32 KiB, grows the buffer twice
	var h HEP
	for _, kind := range []string{"gzip", "gzip-noname", "zlib", "deflate"} {
		for _, p := range [][]byte{hepTestSIP, big, hepTestSIP, {}} {
			pkt := hepCompressedFixture(t, kind, p)
			for pass := 0; pass < 2; pass++ {
				if err := h.DecodeFrom(pkt); err != nil {
					t.Fatalf("%s %d bytes pass %d: %v", kind, len(p), pass, err)
				}
				if !h.Compressed || !bytes.Equal(h.Payload, p) || h.CompressedPayload == nil || !h.Has(0x0010) {
					t.Fatalf("%s %d bytes: payload %d bytes, compressed %v", kind, len(p), len(h.Payload), h.Compressed)
				}
				if len(p) > 0 && &h.Payload[0] != &h.inflater.buf[0] {
					t.Fatalf("%s: payload not in the owned buffer", kind)
				}
			}
		}
	}
	// 0x000f wins over 0x0010 and nothing is inflated.
	ch := append(hepTypicalChunks([]byte("plain")), hc(0x0010, []byte("not even deflate")))
	if err := h.DecodeFrom(buildHEP3(ch...)); err != nil || h.Compressed || string(h.Payload) != "plain" {
		t.Fatalf("both chunks: %v %q", err, h.Payload)
	}
	// Over the cap.
	h.MaxInflate = len(hepTestSIP) - 1
	for _, kind := range []string{"gzip", "zlib", "deflate"} {
		if err := h.DecodeFrom(hepCompressedFixture(t, kind, hepTestSIP)); err != ErrHEPInflateTooLarge {
			t.Fatalf("%s over cap: %v", kind, err)
		}
	}
	h.MaxInflate = len(hepTestSIP)
	if err := h.DecodeFrom(hepCompressedFixture(t, "zlib", hepTestSIP)); err != nil || !bytes.Equal(h.Payload, hepTestSIP) {
		t.Fatalf("exactly at cap: %v", err)
	}
	h.Reset()
	if h.MaxInflate != len(hepTestSIP) {
		t.Fatal("Reset cleared MaxInflate")
	}
	h.MaxInflate = 0
	if err := h.DecodeFrom(hepCompressedFixture(t, "gzip", bytes.Repeat([]byte("a"), DefaultHEPMaxInflate+1))); err != ErrHEPInflateTooLarge {
		t.Fatalf("default cap: %v", err)
	}
	// Corrupt streams.
	for _, kind := range []string{"gzip", "zlib", "deflate"} {
		c := hepCompress(t, kind, hepTestSIP)
		for _, bad := range [][]byte{c[:len(c)/2], append(c[:len(c)-4:len(c)-4], 1, 2, 3, 4), {}} {
			ch := hepTypicalChunks(nil)
			ch[len(ch)-1] = hc(0x0010, bad)
			if err := h.DecodeFrom(buildHEP3(ch...)); err != ErrHEPInflate {
				t.Fatalf("%s corrupt %d bytes: %v", kind, len(bad), err)
			}
		}
	}
	// A good payload decodes after the failures (readers reset cleanly).
	if err := h.DecodeFrom(hepCompressedFixture(t, "gzip", hepTestSIP)); err != nil || !bytes.Equal(h.Payload, hepTestSIP) {
		t.Fatalf("after corrupt: %v", err)
	}
}

func TestHEPFillMeta(t *testing.T) {
	t.Parallel()
	pkt, want := hepAllChunks()
	var h HEP
	if err := h.DecodeFrom(pkt); err != nil {
		t.Fatal(err)
	}
	var m Meta
	m.VLAN = 7
	m.Encap.Push(LayerEthernet)
	h.FillMeta(&m)
	if m.TS != 1700000001999999 || m.Family != 10 || m.Proto != 6 || m.Src != want.Src || m.Dst != want.Dst ||
		m.SrcPort != 5061 || m.DstPort != 5070 || m.VLAN != 42 || m.CaptureID != 0xdeadbeef ||
		string(m.Node) != "edge-7" || string(m.CorrelationID) != "corr-1" || m.HEPVersion != 3 {
		t.Fatalf("meta %+v", m)
	}
	if m.Encap.Len() != 2 || m.Encap.At(1) != LayerHEP {
		t.Fatalf("encap %s", m.Encap)
	}
	// v1 carries no time and no VLAN: the caller's values stay.
	m.Reset()
	m.TS, m.VLAN = 5, 9
	if err := h.DecodeFrom(buildHEP12(1, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 0, 0, 0, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	h.FillMeta(&m)
	if m.TS != 5 || m.VLAN != 9 || m.HEPVersion != 1 || m.Family != 2 || m.Node != nil {
		t.Fatalf("v1 meta %+v", m)
	}
}

// hepCapture returns the path of a shared capture, or skips the test.
func hepCapture(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("APPLIANCE_SHARED")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "shared")
	}
	p := filepath.Join(dir, "testdata", "pcap", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared capture %s not found (set APPLIANCE_SHARED): %v", name, err)
	}
	return p
}

// hepUDPPayloads reads a pcap or pcapng file and returns the UDP payloads to
// or from port 9060.
func hepUDPPayloads(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type packetReader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var r packetReader
	var lt layers.LinkType
	if filepath.Ext(path) == ".pcapng" {
		ng, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		r, lt = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r, lt = pr, pr.LinkType()
	}
	var out [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, lt, gopacket.Default)
		udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok || (udp.DstPort != 9060 && udp.SrcPort != 9060) {
			continue
		}
		out = append(out, udp.Payload)
	}
	return out
}

// hepFirstLine names a SIP message by its first line: the method of a
// request, the status code of a reply ("INVITE", "200"), "" if not SIP.
// Deliberately tiny: the SIP decoder is tested elsewhere.
func hepFirstLine(p []byte) string {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		p = p[:i]
	}
	f := bytes.Fields(p)
	switch {
	case len(f) >= 2 && string(f[0]) == "SIP/2.0":
		return string(f[1])
	case len(f) == 3 && string(f[2]) == "SIP/2.0":
		return string(f[0])
	}
	return ""
}

// TestHEPCaptures decodes the real HEP captures and checks the inner message
// counts listed in the shared SOURCES.md, plus a golden dump of every packet.
func TestHEPCaptures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file       string
		packets    int
		types      map[uint8]int
		compressed int
		sip        map[string]int
	}{
		{"hep3-sip-rtcp-log-udp9060.pcap", 8, map[uint8]int{1: 6, 5: 1, 100: 1}, 0,
			map[string]int{"INVITE": 1, "OPTIONS": 1, "PUBLISH": 1, "100": 1, "200": 1, "407": 1}},
		{"hep3-compressed-sip-sll.pcapng", 21, map[uint8]int{1: 21}, 21,
			map[string]int{"REGISTER": 12, "200": 3, "401": 6}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			payloads := hepUDPPayloads(t, hepCapture(t, c.file))
			if len(payloads) != c.packets {
				t.Fatalf("%d HEP datagrams, want %d", len(payloads), c.packets)
			}
			var h HEP
			types, sip := map[uint8]int{}, map[string]int{}
			compressed := 0
			var dump bytes.Buffer
			for i, p := range payloads {
				if err := h.DecodeFrom(p); err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if h.Version != 3 || h.Len != len(p) || h.Payload == nil {
					t.Fatalf("packet %d: version %d len %d/%d", i, h.Version, h.Len, len(p))
				}
				types[h.ProtoType]++
				if h.Compressed {
					compressed++
				}
				name := hepFirstLine(h.Payload)
				if h.IsSIP() {
					if name == "" {
						t.Fatalf("packet %d: type 1 payload is not SIP: %q", i, h.Payload)
					}
					sip[name]++
				} else if name != "" {
					t.Fatalf("packet %d: type %d payload looks like SIP", i, h.ProtoType)
				}
				hepDumpLine(&dump, &h, name)
			}
			if !hepMapsEqual(types, c.types) || !hepMapsEqual(sip, c.sip) || compressed != c.compressed {
				t.Fatalf("types %v sip %v compressed %d; want %v %v %d", types, sip, compressed, c.types, c.sip, c.compressed)
			}
			hepGolden(t, c.file+".golden", dump.Bytes())
		})
	}
}

func hepMapsEqual[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// hepDumpLine appends one line describing h for the golden files.
func hepDumpLine(w *bytes.Buffer, h *HEP, name string) {
	fmt.Fprintf(w, "v%d type=%d fam=%d proto=%d %s:%d > %s:%d ts=%d capid=%d node=%q corr=%q auth=%q vlan=%d compressed=%v payload=%d skipped=%d chunks=%#x first=%q\n",
		h.Version, h.ProtoType, h.Family, h.Proto, h.Src, h.SrcPort, h.Dst, h.DstPort, h.MicroTS(),
		h.CaptureID, h.NodeName, h.CorrelationID, h.AuthKey, h.VLAN, h.Compressed, len(h.Payload), h.Skipped, h.Chunks, name)
}

// hepGolden compares got with decode/testdata/hep/<name>; HEP_UPDATE_GOLDEN=1
// rewrites the file. (An env var, not a flag: the package's tests are shared
// by several files and a flag may be defined only once.)
func hepGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "hep", name)
	if os.Getenv("HEP_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run with HEP_UPDATE_GOLDEN=1 to create it)", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("golden %s differs:\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestHEPAuthorized checks the auth-key walk over every message of a packet
// against the key DecodeFrom reports.
func TestHEPAuthorized(t *testing.T) {
	key := []byte("myHep")
	withKey := func(k []byte) []byte {
		var cs []hepChunk
		for _, c := range hepTypicalChunks(hepTestSIP) {
			if c.typ == hepChunkAuthKey {
				if k == nil {
					continue
				}
				c.val = k
			}
			cs = append(cs, c)
		}
		return buildHEP3(cs...)
	}
	good, wrong, none := withKey(key), withKey([]byte("myHeq")), withKey(nil)
	// Two key chunks: the last one counts, as in DecodeFrom.
	twice := buildHEP3(append(hepTypicalChunks(hepTestSIP), hc(hepChunkAuthKey, []byte("other")))...)
	malformed := append([]byte(nil), good...)
	malformed[6+4], malformed[6+5] = 0, 200 // first chunk claims 200 bytes it does not have in its place
	v2 := buildHEP12(2, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 1, 2, 3, hepTestSIP)
	cat := func(ps ...[]byte) []byte { return bytes.Join(ps, nil) }
	many := good
	for range maxHEPPerDatagram {
		many = cat(many, good)
	}
	for _, tc := range []struct {
		name   string
		packet []byte
		want   bool
	}{
		{"right key", good, true},
		{"wrong key", wrong, false},
		{"no key chunk", none, false},
		{"last of two keys", twice, false},
		{"v2 carries no key", v2, false},
		{"empty", nil, false},
		{"truncated", good[:len(good)-1], false},
		{"malformed chunk", malformed, false},
		{"two good messages", cat(good, good), true},
		{"second without key", cat(good, none), false},
		{"second with wrong key", cat(good, wrong), false},
		{"trailing bytes that are not HEP", cat(good, []byte("junk")), false},
		{"a v2 message after a keyed v3 one", cat(good, v2), false},
		{"trailing bytes that start like v1", cat(good, []byte{1, 16, 2, 17, 0, 0}), false},
		{"second malformed", cat(good, malformed), false},
		{"beyond the eight decoded messages", cat(many, none), true},
	} {
		if got := HEPAuthorized(tc.packet, key); got != tc.want {
			t.Errorf("%s: HEPAuthorized = %v, want %v", tc.name, got, tc.want)
		}
	}
	var h HEP
	if err := h.DecodeFrom(twice); err != nil || string(h.AuthKey) != "other" || !HEPAuthorized(twice, []byte("other")) {
		t.Errorf("two key chunks: DecodeFrom key %q (%v); the walk must agree", h.AuthKey, err)
	}
}

// BenchmarkHEPAuthorized measures the listener's auth check on the packet of
// BenchmarkHEP3 (before it, the listener decoded the whole packet).
func BenchmarkHEPAuthorized(b *testing.B) {
	pkt := buildHEP3(hepTypicalChunks(hepTestSIP)...)
	key := []byte("myHep")
	b.ReportAllocs()
	for b.Loop() {
		if !HEPAuthorized(pkt, key) {
			b.Fatal("not authorized")
		}
	}
}
