package decode

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// tcpSeg builds an Ethernet/IPv4/TCP segment from 192.0.2.101:40000 to
// 198.51.100.7:dport with the given sequence number and payload.
func tcpSeg(t testing.TB, dport uint16, seq uint32, payload []byte, fin bool) []byte {
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(dport), Seq: seq, DataOffset: 5, ACK: true, PSH: true, FIN: fin, Window: 1000}
	return serialize(t, ethL(layers.EthernetTypeIPv4), ip4L(tSrc4, tDst4, layers.IPProtocolTCP), tcp, gopacket.Payload(payload))
}

// tcpRun feeds segments (seq relative to base 1000) at 1 ms steps, or at
// the given times, and returns the messages and stats.
type seg struct {
	off  int
	data []byte
	at   int64 // µs; 0 = previous + 1000
	fin  bool
}

func tcpRun(t testing.TB, cfg *PathConfig, dport uint16, segs []seg) (*recorder, Stats) {
	t.Helper()
	p, err := NewPath(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var r recorder
	var now int64
	for _, s := range segs {
		if s.at != 0 {
			now = s.at
		} else {
			now += 1000
		}
		fr := tcpSeg(t, dport, uint32(1000+s.off), s.data, s.fin)
		if err := p.Decode(fr, LinkEthernet, now, 0, &r); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		for _, m := range r.msgs {
			if !p.owns(nil, m) && false {
				t.Fatal("unreachable")
			}
		}
	}
	return &r, p.Stats()
}

func TestTCPStream(t *testing.T) {
	inv := loadFixture(t, "invite.sip")
	ok := loadFixture(t, "ok.sip")
	three := append(append(append([]byte{}, inv...), ok...), inv...)
	f := func(name string, cfg *PathConfig, dport uint16, segs []seg, want [][]byte, check func(s *TCPStats) bool) {
		t.Helper()
		r, st := tcpRun(t, cfg, dport, segs)
		if len(r.msgs) != len(want) {
			t.Errorf("%s: %d messages, want %d; stats %+v", name, len(r.msgs), len(want), st.TCP)
			return
		}
		for i := range want {
			if !bytes.Equal(r.msgs[i], want[i]) {
				t.Errorf("%s: message %d differs: %q", name, i, r.msgs[i][:min(40, len(r.msgs[i]))])
			}
			if r.metas[i].Encap.String() != "eth/ip4/tcp" || r.metas[i].DstPort != dport {
				t.Errorf("%s: meta %s %d", name, r.metas[i].Encap.String(), r.metas[i].DstPort)
			}
		}
		if check != nil && !check(&st.TCP) {
			t.Errorf("%s: stats %+v", name, st.TCP)
		}
	}
	n := len(inv)
	f("one per segment", nil, 5060, []seg{{0, inv, 0, false}, {n, ok, 0, false}}, [][]byte{inv, ok},
		func(s *TCPStats) bool { return s.Messages == 2 && s.Buffered == 0 })
	f("split in three", nil, 5060, []seg{{0, inv[:100], 0, false}, {100, inv[100:500], 0, false}, {500, inv[500:], 0, false}}, [][]byte{inv},
		func(s *TCPStats) bool { return s.Buffered == 3 && s.HeldBytes == 0 })
	f("split on port 6060", nil, 6060, []seg{{0, inv[:300], 0, false}, {300, inv[300:], 0, false}}, [][]byte{inv}, nil)
	f("three in one segment", nil, 5060, []seg{{0, three, 0, false}}, [][]byte{inv, ok, inv}, nil)
	f("tail of one, head of next", nil, 5060, []seg{{0, three[:n+10], 0, false}, {n + 10, three[n+10:], 0, false}}, [][]byte{inv, ok, inv}, nil)
	f("retransmission", nil, 5060, []seg{{0, inv, 0, false}, {0, inv, 0, false}, {n, ok, 0, false}}, [][]byte{inv, ok},
		func(s *TCPStats) bool { return s.Retransmits == 1 })
	f("partial retransmission", nil, 5060, []seg{{0, inv[:400], 0, false}, {200, inv[200:], 0, false}}, [][]byte{inv},
		func(s *TCPStats) bool { return s.Retransmits == 1 })
	f("out of order", nil, 5060, []seg{{0, inv[:300], 0, false}, {600, inv[600:], 0, false}, {300, inv[300:600], 0, false}}, [][]byte{inv},
		func(s *TCPStats) bool { return s.OutOfOrder == 1 && s.Gaps == 0 })
	f("out of order whole messages", nil, 5060, []seg{{n, ok, 0, false}, {0, inv, 0, false}}, [][]byte{ok, inv}, nil)
	f("gap then resync", nil, 5060, []seg{
		{0, inv[:300], 0, false},              // head of message A
		{n, ok, 0, false},                     // B after a hole that never fills
		{n + len(ok), inv, 3_000_000, false}}, // C two seconds later: the hole is a gap
		[][]byte{ok, inv}, func(s *TCPStats) bool { return s.Gaps == 1 && s.Resyncs >= 1 })
	f("resync mid-segment", nil, 5060, []seg{{0, inv[:300], 0, false}, {5000, append(append([]byte{}, inv[600:]...), ok...), 0, false},
		{5000 + n - 600 + len(ok), ok, 4_000_000, false}}, [][]byte{ok, ok}, func(s *TCPStats) bool { return s.Gaps == 1 })
	// a segment that ends inside the next message's start line
	for _, cut := range []int{1, 3, 7, 20, 40} {
		f(fmt.Sprintf("next start line cut after %d bytes", cut), nil, 5060, []seg{{0, append(append([]byte{}, inv...), ok[:cut]...), 0, false},
			{n + cut, ok[cut:], 0, false}}, [][]byte{inv, ok}, func(s *TCPStats) bool { return s.Resyncs == 0 && s.NonSIP == 0 })
		f(fmt.Sprintf("request line cut after %d bytes", cut), nil, 5060, []seg{{0, ok, 0, false}, {len(ok), inv[:cut], 0, false},
			{len(ok) + cut, inv[cut:], 0, false}}, [][]byte{ok, inv}, func(s *TCPStats) bool { return s.Resyncs == 0 && s.NonSIP == 0 })
	}
	f("new flow on another port, start line cut", nil, 6062, []seg{{0, inv[:12], 0, false}, {12, inv[12:], 0, false}}, [][]byte{inv}, nil)
	f("a non-SIP line after a cut is skipped", nil, 5060, []seg{{0, ok, 0, false}, {len(ok), []byte("GET"), 0, false},
		{len(ok) + 3, []byte(" / HTTP/1.1\r\n\r\n"), 0, false}, {len(ok) + 18, inv, 0, false}}, [][]byte{ok, inv}, nil)
	f("keepalive CRLF between messages", nil, 5060, []seg{{0, append(append([]byte("\r\n\r\n"), inv...), "\r\n"...), 0, false}, {n + 6, ok, 0, false}}, [][]byte{inv, ok}, nil)
	f("http on 5060", nil, 5060, []seg{{0, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0, false}, {27, []byte("more"), 0, false}}, nil,
		func(s *TCPStats) bool { return s.NonSIP == 2 && s.FlowsOpened == 0 })
	f("too large", &PathConfig{TCP: TCPConfig{MaxFlowBytes: 1024}}, 5060, []seg{
		{0, bigSIP(t, 3000)[:1000], 0, false}, {1000, bigSIP(t, 3000)[1000:2000], 0, false}, {2000, append(bigSIP(t, 3000)[2000:], ok...), 0, false}},
		[][]byte{ok}, func(s *TCPStats) bool { return s.TooLarge == 1 })
	f("fin closes", nil, 5060, []seg{{0, inv[:300], 0, false}, {300, nil, 0, true}}, nil,
		func(s *TCPStats) bool { return s.FlowsClosed == 1 && s.Flows == 0 && s.HeldBytes == 0 })
	f("idle expiry", nil, 5060, []seg{{0, inv[:300], 0, false}, {300, inv[300:], 200_000_000, false}}, nil,
		func(s *TCPStats) bool { return s.FlowsExpired == 1 })
	f("flow table full", &PathConfig{TCP: TCPConfig{MaxFlows: 1}}, 5060, nil, nil, nil)

	// Table full: a second direction's whole messages are still decoded.
	p, _ := NewPath(&PathConfig{TCP: TCPConfig{MaxFlows: 1}})
	var r recorder
	_ = p.Decode(tcpSeg(t, 5060, 1, inv[:100], false), LinkEthernet, 1, 0, &r)
	_ = p.Decode(tcpSeg(t, 5061, 1, ok, false), LinkEthernet, 2, 0, &r)
	if st := p.Stats(); len(r.msgs) != 1 || st.TCP.FlowsRefused != 1 {
		t.Errorf("table full: %d messages, %+v", len(r.msgs), st.TCP)
	}
}

// TestTCPFlowTable churns the open-addressing table: every flow is found
// after deletions around it.
func TestTCPFlowTable(t *testing.T) {
	var ts TCPStreams
	ts.init(&TCPConfig{MaxFlows: 64})
	keys := make([]flowKey, 64)
	for i := range keys {
		keys[i].src[0], keys[i].sport = byte(i), uint16(i*7)
		if ts.open(&keys[i], 0) == nil {
			t.Fatalf("open %d", i)
		}
	}
	if ts.open(&flowKey{family: 9}, 0) != nil || ts.stats.FlowsRefused != 1 {
		t.Fatal("65th flow accepted")
	}
	for round := 0; round < 4; round++ {
		for i := round; i < 64; i += 3 {
			if f := ts.lookup(&keys[i]); f != nil {
				ts.close(f)
			}
		}
		for i := range keys {
			f := ts.lookup(&keys[i])
			if f != nil && f.key != keys[i] {
				t.Fatal("wrong flow")
			}
			if f == nil {
				if ts.open(&keys[i], 0) == nil {
					t.Fatalf("reopen %d", i)
				}
			}
		}
		for i := range keys {
			if ts.lookup(&keys[i]) == nil {
				t.Fatalf("round %d: flow %d lost", round, i)
			}
		}
	}
	if ts.stats.Flows != 64 {
		t.Errorf("flows %d", ts.stats.Flows)
	}
}

// wsTestFrame builds a WebSocket frame; a non-nil key masks it.
func wsTestFrame(op byte, fin bool, key []byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var h []byte
	n := len(payload)
	var mask byte
	if key != nil {
		mask = 0x80
	}
	switch {
	case n < 126:
		h = []byte{b0, mask | byte(n)}
	default:
		h = []byte{b0, mask | 126, byte(n >> 8), byte(n)}
	}
	if key != nil {
		h = append(h, key...)
		p := append([]byte(nil), payload...)
		for i := range p {
			p[i] ^= key[i&3]
		}
		return append(h, p...)
	}
	return append(h, payload...)
}

func TestTCPWebSocket(t *testing.T) {
	inv := loadFixture(t, "invite.sip")
	ok := loadFixture(t, "ok.sip")
	key := []byte{1, 2, 3, 4}
	upgrade := []byte("GET / HTTP/1.1\r\nHost: ws.example.net\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
	var stream []byte
	stream = append(stream, upgrade...)
	stream = append(stream, wsTestFrame(WSText, true, key, inv)...)
	stream = append(stream, wsTestFrame(WSPing, true, key, []byte("hi"))...)
	stream = append(stream, wsTestFrame(WSText, false, key, ok[:100])...) // fragmented message
	stream = append(stream, wsTestFrame(WSContinuation, true, key, ok[100:])...)
	// Segments cut at awkward places: inside the upgrade's tail, a frame header, a payload.
	cuts := []int{0, len(upgrade), len(upgrade) + 1, len(upgrade) + 500, len(upgrade) + len(inv) + 9, len(stream)}
	var segs []seg
	for i := 0; i+1 < len(cuts); i++ {
		segs = append(segs, seg{cuts[i], stream[cuts[i]:cuts[i+1]], 0, false})
	}
	r, st := tcpRun(t, nil, 8080, segs)
	if len(r.msgs) != 2 || !bytes.Equal(r.msgs[0], inv) || !bytes.Equal(r.msgs[1], ok) {
		t.Fatalf("%d messages; stats %+v", len(r.msgs), st.TCP)
	}
	if st.TCP.WebSocket != 1 || st.TCP.WSMessages != 2 || st.TCP.HeldBytes != 0 {
		t.Errorf("stats %+v", st.TCP)
	}
	// Mid-stream: an unmasked server frame with no upgrade seen.
	r, st = tcpRun(t, nil, 8080, []seg{{0, append(wsTestFrame(WSText, true, nil, ok), wsTestFrame(WSText, true, nil, inv)...), 0, false}})
	if len(r.msgs) != 2 || st.TCP.WSMessages != 2 {
		t.Errorf("mid-stream: %d messages; stats %+v", len(r.msgs), st.TCP)
	}
	// A malformed frame: the stream waits for the next segment starting with a frame.
	bad := append([]byte{0xf1, 0x05}, "junk!"...)
	r, st = tcpRun(t, nil, 8080, []seg{{0, wsTestFrame(WSText, true, key, ok), 0, false}, {len(ok) + 6, bad, 0, false},
		{len(ok) + 13, wsTestFrame(WSText, true, key, inv), 0, false}})
	if len(r.msgs) != 2 || st.TCP.WSErrors != 1 {
		t.Errorf("malformed: %d messages; stats %+v", len(r.msgs), st.TCP)
	}
}

// TestTCPHeldRelease checks that messages held behind a hole are handed on
// by Flush (end of capture) and by ExpireTo (idle worker).
func TestTCPHeldRelease(t *testing.T) {
	inv := loadFixture(t, "invite.sip")
	ok := loadFixture(t, "ok.sip")
	for _, mode := range []string{"flush", "expire"} {
		p, _ := NewPath(nil)
		var r recorder
		_ = p.Decode(tcpSeg(t, 5060, 1000, inv[:300], false), LinkEthernet, 1000, 0, &r)
		_ = p.Decode(tcpSeg(t, 5060, 1000+uint32(len(inv)), ok, false), LinkEthernet, 2000, 0, &r)
		if len(r.msgs) != 0 {
			t.Fatalf("%s: message handed on before the hole was skipped", mode)
		}
		if mode == "flush" {
			p.Flush(&r)
		} else {
			p.ExpireTo(5_000_000, &r)
		}
		if len(r.msgs) != 1 || !bytes.Equal(r.msgs[0], ok) {
			t.Fatalf("%s: %d messages", mode, len(r.msgs))
		}
		m := r.metas[0]
		if m.Encap.String() != "eth/ip4/tcp" || m.SrcPort != 40000 || m.DstPort != 5060 || m.Src.String() != "192.0.2.101" || m.Proto != 6 || m.TS != 2000 {
			t.Errorf("%s: meta %+v", mode, m)
		}
		if st := p.Stats(); st.TCP.Gaps != 1 || st.TCP.HeldBytes != 0 {
			t.Errorf("%s: stats %+v", mode, st.TCP)
		}
	}
}

func TestMayStartSIP(t *testing.T) {
	for in, want := range map[string]bool{
		"I": true, "INV": true, "INVITE": true, "INVITE ": true, "INVITE sip:bob@example.com SIP/2.0": true,
		"INVITE sip:bob@example.com SIP/2.0\r": true, "S": true, "SIP/2": true, "SIP/2.0": true, "SIP/2.0 200 O": true,
		"": false, "\x00\x01": false, " INVITE": false, "INVITE\tsip": false, "SIP/2.0x": false,
		"INVITE sip:x SIP/2.0\r\n": false, // a whole line is LooksLikeSIP's business
	} {
		if got := mayStartSIP([]byte(in)); got != want {
			t.Errorf("mayStartSIP(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]bool{"INV": true, "INVITE sip:": true, "SIP/2.0 1": true, "S": true,
		"more": false, "INVITED": false, "XINVITE": false, "GET /": false} {
		if got := knownMethodPrefix([]byte(in)); got != want {
			t.Errorf("knownMethodPrefix(%q) = %v, want %v", in, got, want)
		}
	}
}
