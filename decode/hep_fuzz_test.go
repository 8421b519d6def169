package decode

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// hepFuzzSeeds are the fixtures of hep_test.go plus known-nasty inputs.
func hepFuzzSeeds(t testing.TB) [][]byte {
	all, _ := hepAllChunks()
	v4a, v4b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	return [][]byte{
		all,
		buildHEP3(hepTypicalChunks(hepTestSIP)...),
		hepCompressedFixture(t, "gzip", hepTestSIP),
		hepCompressedFixture(t, "zlib", hepTestSIP),
		hepCompressedFixture(t, "deflate", []byte("OPTIONS sip:a SIP/2.0\r\n\r\n")),
		buildHEP12(1, v4a, v4b, 0, 0, 0, []byte("SIP")),
		buildHEP12(2, v4a, v4b, 1, 2, 3, []byte("SIP")),
		buildHEP12(1, v6a, v6b, 0, 0, 0, []byte("SIP")),
		buildHEP12(2, v6a, v6b, 1, 2, 3, []byte("SIP")),
		[]byte("HEP3\x00\x06"),
		[]byte("HEP3\x00\x05"),
		[]byte("HEP3\xff\xff"),
		buildHEP3WithRaw([]byte{0, 0, 0, 0x10, 0, 8, 0x1f, 0x8b}),
		buildHEP3WithRaw([]byte{0, 0, 0, 0x10, 0, 8, 0x78, 0x9c}),
	}
}

// hepInside reports whether sub lies inside region (by address, without
// unsafe: a linear search for the element sub starts at).
func hepInside(sub, region []byte) bool {
	if len(sub) == 0 {
		return true
	}
	for o := 0; o+len(sub) <= len(region); o++ {
		if &region[o] == &sub[0] {
			return true
		}
	}
	return false
}

func FuzzHEP(f *testing.F) {
	for _, s := range hepFuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h, h2 HEP
		HEPAuthorized(data, []byte("myHep")) // must not panic on any input
		err := h.DecodeFrom(data)
		err2 := h2.DecodeFrom(data)
		if err != err2 {
			t.Fatalf("two decoders disagree: %v vs %v", err, err2)
		}
		if err != nil {
			if _, ok := err.(HEPError); !ok {
				t.Fatalf("foreign error type %T", err)
			}
			return
		}
		if h.Version < 1 || h.Version > 3 {
			t.Fatalf("version %d", h.Version)
		}
		// The listener's auth walk agrees with the decoder on the key of a
		// message that decodes (a message without a key chunk matches an
		// empty key), and rejects any other key.
		if h.Version == 3 {
			if !HEPAuthorized(data[:h.Len], h.AuthKey) {
				t.Fatalf("HEPAuthorized rejects the key %q DecodeFrom found", h.AuthKey)
			}
			if HEPAuthorized(data[:h.Len], append(bytes.Clone(h.AuthKey), 'x')) {
				t.Fatalf("HEPAuthorized accepts a key other than %q", h.AuthKey)
			}
		}
		if h.Len+len(h.Rest) != len(data) || h.Len < 6 {
			t.Fatalf("Len %d + Rest %d != %d", h.Len, len(h.Rest), len(data))
		}
		for i, s := range [][]byte{h.AuthKey, h.CompressedPayload, h.CorrelationID, h.NodeName, h.Geo,
			h.TransactionType, h.JSONKeys, h.Tags, h.GroupID, h.Rest} {
			if !hepInside(s, data) {
				t.Fatalf("field %d outside the input", i)
			}
		}
		if h.Compressed {
			if !hepInside(h.Payload, h.inflater.buf) || len(h.Payload) > DefaultHEPMaxInflate {
				t.Fatalf("inflated payload outside the owned buffer or over the cap (%d)", len(h.Payload))
			}
		} else if !hepInside(h.Payload, data[:h.Len]) {
			t.Fatal("payload outside the input")
		}
		if !hepEqual(&h, &h2) {
			t.Fatalf("two decoders disagree:\n%+v\n%+v", h, h2)
		}
		// Decoding again into the same value gives the same fields.
		snap := h2
		snap.Payload = bytes.Clone(h2.Payload) // keeps an empty payload non-nil
		if err := h2.DecodeFrom(data); err != nil || !hepEqual(&h2, &snap) {
			t.Fatalf("re-decode differs: %v", err)
		}
	})
}

func FuzzHEPStream(f *testing.F) {
	for _, s := range hepFuzzSeeds(f) {
		f.Add(s, uint64(1))
	}
	msgs := hepStreamMessages(3)
	f.Add(bytes.Join(msgs, []byte("garbageHEP3\x00\x01")), uint64(2))
	f.Add(append([]byte("HEP3\x01\x00"), msgs[0]...), uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		var whole HEPStream
		want := hepStreamCollect(&whole, data)
		st := whole.Stats
		if st.Bytes+st.GarbageBytes+uint64(whole.Buffered()) != uint64(len(data)) {
			t.Fatalf("accounting: %+v buffered %d of %d", st, whole.Buffered(), len(data))
		}
		for i, m := range want {
			if len(m) < 6 || (string(m[:4]) != "HEP3" && string(m[:4]) != "EEP3") ||
				int(binary.BigEndian.Uint16(m[4:6])) != len(m) || !hepChunksTile(m[6:]) {
				t.Fatalf("message %d is not well framed: %q", i, m)
			}
		}
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		for _, max := range []int{1, 2 + rng.IntN(16), 1 + rng.IntN(len(data)+1)} {
			var s HEPStream
			got := hepStreamCollect(&s, hepSplitRandom(data, rng, max)...)
			if len(got) != len(want) {
				t.Fatalf("chunks of %d: %d messages, want %d", max, len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("chunks of %d: message %d differs", max, i)
				}
			}
			if s.Stats != st || s.Buffered() != whole.Buffered() {
				t.Fatalf("chunks of %d: stats %+v buffered %d, want %+v %d", max, s.Stats, s.Buffered(), st, whole.Buffered())
			}
		}
	})
}
