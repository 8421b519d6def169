package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// hepStreamCollect feeds chunks to s and returns copies of the emitted messages.
func hepStreamCollect(s *HEPStream, chunks ...[]byte) [][]byte {
	var out [][]byte
	for _, c := range chunks {
		s.Feed(c, func(msg []byte) { out = append(out, append([]byte(nil), msg...)) })
	}
	return out
}

// hepStreamMessages returns n distinct HEP v3 messages of varied sizes.
func hepStreamMessages(n int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		payload := fmt.Appendf(nil, "OPTIONS sip:%d@example.com SIP/2.0\r\n%s", i, bytes.Repeat([]byte("x"), i*37%700))
		msgs[i] = buildHEP3(hepTypicalChunks(payload)...)
	}
	return msgs
}

// hepSplitRandom cuts b into pieces of random sizes (1..max).
func hepSplitRandom(b []byte, rng *rand.Rand, max int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := 1 + rng.IntN(max)
		if n > len(b) {
			n = len(b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func hepStreamCheck(t *testing.T, name string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", name, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: message %d differs (%d vs %d bytes)", name, i, len(got[i]), len(want[i]))
		}
	}
}

func TestHEPStreamFraming(t *testing.T) {
	t.Parallel()
	msgs := hepStreamMessages(20)
	all := bytes.Join(msgs, nil)

	var s HEPStream
	// One message per write.
	hepStreamCheck(t, "one per write", hepStreamCollect(&s, msgs...), msgs)
	// Many per write.
	hepStreamCheck(t, "all in one", hepStreamCollect(&s, all), msgs)
	// Byte at a time.
	var bytewise [][]byte
	for i := range all {
		bytewise = append(bytewise, all[i:i+1])
	}
	hepStreamCheck(t, "byte at a time", hepStreamCollect(&s, bytewise...), msgs)
	// Random chunkings.
	rng := rand.New(rand.NewPCG(1, 2))
	for _, max := range []int{3, 7, 100, 1000, 5000} {
		hepStreamCheck(t, fmt.Sprint("random ", max), hepStreamCollect(&s, hepSplitRandom(all, rng, max)...), msgs)
	}
	st := s.Stats // 8 passes over the same stream
	if st.Messages != uint64(len(msgs)*8) || st.Bytes != uint64(len(all)*8) || st.GarbageBytes != 0 || st.Resyncs != 0 || st.BadLength != 0 {
		t.Fatalf("stats %+v", st)
	}
	if s.Buffered() != 0 {
		t.Fatalf("buffered %d", s.Buffered())
	}
	// Every message decodes.
	var h HEP
	for i, m := range hepStreamCollect(&s, all) {
		if err := h.DecodeFrom(m); err != nil || h.Rest != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	s.Reset()
	if s.Stats != (HEPStreamStats{}) || s.Buffered() != 0 {
		t.Fatal("Reset")
	}
}

func TestHEPStreamGarbage(t *testing.T) {
	t.Parallel()
	msgs := hepStreamMessages(6)
	// Garbage between messages, including false magics: one with a length
	// below 6, one whose chunks do not tile, a partial magic, "EEP" noise.
	badTile := buildHEP3(hc(0x000f, []byte("abc")))
	badTile[len(badTile)-4] = 0xff // the chunk length lands in garbage: no longer tiles
	binary.BigEndian.PutUint16(badTile[10:], 200)
	garbage := [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		[]byte("HEP3\x00\x02junk"),
		badTile,
		[]byte("HEHEHEP"),
		[]byte("xEP3EEP"),
	}
	var stream []byte
	for i, m := range msgs {
		if i > 0 {
			stream = append(stream, garbage[i-1]...)
		}
		stream = append(stream, m...)
	}
	var gb int
	for _, g := range garbage {
		gb += len(g)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, max := range []int{1, 2, 5, 64, 4096, len(stream)} {
		var s HEPStream
		got := hepStreamCollect(&s, hepSplitRandom(stream, rng, max)...)
		hepStreamCheck(t, fmt.Sprint("garbage chunks ", max), got, msgs)
		if s.Stats.GarbageBytes != uint64(gb) || s.Stats.Resyncs != uint64(len(garbage)) || s.Stats.BadLength != 2 {
			t.Fatalf("chunks %d: stats %+v, want %d garbage bytes, %d resyncs", max, s.Stats, gb, len(garbage))
		}
	}
	// Garbage before the first message and a message cut at the end.
	var s HEPStream
	last := msgs[0]
	got := hepStreamCollect(&s, []byte("\x00\x01\x02"), msgs[1], last[:10])
	hepStreamCheck(t, "leading garbage", got, msgs[1:2])
	if s.Buffered() != 10 || s.Stats.GarbageBytes != 3 || s.Stats.Resyncs != 1 {
		t.Fatalf("leading garbage: buffered %d stats %+v", s.Buffered(), s.Stats)
	}
	hepStreamCheck(t, "completed", hepStreamCollect(&s, last[10:]), msgs[:1])
}

// TestHEPStreamGarbageOnly feeds bytes that never frame: memory stays bounded,
// everything but a possible magic prefix is counted, and Feed returns.
func TestHEPStreamGarbageOnly(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	junk := make([]byte, 1<<20)
	for i := range junk {
		junk[i] = "HEP3\x00\x01\x06xyz"[rng.IntN(10)] // magics and short lengths, densely
	}
	var s HEPStream
	n := 0
	for _, c := range hepSplitRandom(junk, rng, 3000) {
		s.Feed(c, func([]byte) { n++ })
		if s.Buffered() > DefaultHEPStreamMaxMessage+hepStreamHeadroom || cap(s.buf) > DefaultHEPStreamMaxMessage+hepStreamHeadroom {
			t.Fatalf("buffer grew to %d", cap(s.buf))
		}
	}
	if s.Stats.GarbageBytes+uint64(s.Buffered())+s.Stats.Bytes != uint64(len(junk)) {
		t.Fatalf("accounting: %+v buffered %d", s.Stats, s.Buffered())
	}
	if s.Stats.GarbageBytes+s.Stats.Bytes < uint64(len(junk)-DefaultHEPStreamMaxMessage) || s.Stats.Resyncs == 0 {
		t.Fatalf("stats %+v, %d messages", s.Stats, n)
	}
	// Recovers: a real message after the junk is found once the pending
	// candidate is resolved.
	msg := hepStreamMessages(1)[0]
	before := s.Stats.Messages
	var got [][]byte
	for i := 0; i < 3; i++ { // enough bytes to resolve any pending candidate
		got = append(got, hepStreamCollect(&s, bytes.Repeat([]byte{'z'}, DefaultHEPStreamMaxMessage/2), msg)...)
	}
	if s.Stats.Messages-before < 1 || !bytes.Equal(got[len(got)-1], msg) {
		t.Fatalf("no recovery: %d messages", s.Stats.Messages-before)
	}
}

func TestHEPStreamOversize(t *testing.T) {
	t.Parallel()
	msgs := hepStreamMessages(3)
	big := buildHEP3(hepTypicalChunks(bytes.Repeat([]byte("y"), 3000))...)
	stream := bytes.Join([][]byte{msgs[0], big, msgs[1], msgs[2]}, nil)
	for _, max := range []int{1, 100, len(stream)} {
		s := HEPStream{MaxMessage: 2048}
		got := hepStreamCollect(&s, hepSplitRandom(stream, rand.New(rand.NewPCG(7, 8)), max)...)
		hepStreamCheck(t, fmt.Sprint("oversize chunks ", max), got, msgs)
		if s.Stats.BadLength != 1 || s.Stats.Resyncs != 1 || s.Stats.GarbageBytes != uint64(len(big)) {
			t.Fatalf("stats %+v", s.Stats)
		}
		if cap(s.buf) > 2048+hepStreamHeadroom {
			t.Fatalf("buffer cap %d", cap(s.buf))
		}
	}
	// The largest legal message (65535 bytes) frames with the default size.
	payload := bytes.Repeat([]byte("z"), 65535-6-6)
	huge := buildHEP3(hc(0x000f, payload))
	if len(huge) != 65535 {
		t.Fatalf("built %d", len(huge))
	}
	var s HEPStream
	got := hepStreamCollect(&s, hepSplitRandom(append(huge, msgs[0]...), rand.New(rand.NewPCG(9, 10)), 9000)...)
	hepStreamCheck(t, "65535", got, [][]byte{huge, msgs[0]})
}
