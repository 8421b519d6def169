package decode

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// sipBenchMsg is one message the SIP benchmarks decode.
type sipBenchMsg struct {
	name string
	data []byte
}

// sipBenchMessages picks real messages from the shared captures: the INVITE
// with SDP, the 200 with SDP and the REGISTER with Authorization whose sizes
// are closest to 850 bytes. Without the captures it falls back to the
// hand-written fixtures in testdata/sip.
func sipBenchMessages(tb testing.TB) []sipBenchMsg {
	tb.Helper()
	dir := os.Getenv("APPLIANCE_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared")
	}
	dir = filepath.Join(dir, "testdata", "pcap")
	if _, err := os.Stat(dir); err != nil {
		tb.Logf("shared captures not found at %s; benchmarking testdata/sip fixtures", dir)
		var out []sipBenchMsg
		for _, n := range []string{"invite-sdp", "reply-200-sdp", "register-auth"} {
			b, err := os.ReadFile(filepath.Join("testdata", "sip", n+".sip"))
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, sipBenchMsg{n + "-fixture", b})
		}
		return out
	}
	const target = 850
	kinds := []struct {
		name string
		ok   func(s *SIP) bool
	}{
		{"invite-sdp", func(s *SIP) bool { return bytes.Equal(s.Method, []byte("INVITE")) && sipHasSDP(s) }},
		{"200-sdp", func(s *SIP) bool { return s.Status == 200 && sipHasSDP(s) }},
		{"register-auth", func(s *SIP) bool { return bytes.Equal(s.Method, []byte("REGISTER")) && len(s.AuthUser) > 0 }},
	}
	best := make([][]byte, len(kinds))
	var s SIP
	for _, name := range []string{
		"sip-udp-register-auth-invite-cancel-ipv4.pcap",
		"sip-udp-call-rtp-mixed-traffic-ipv4.pcap",
		"sip-udp-t38-fax-options-bye-ipv4.pcap",
		"sip-udp-call-ipv6.pcap",
	} {
		for _, d := range sipUDPPayloads(tb, filepath.Join(dir, name)) {
			if s.DecodeFrom(d.payload) != nil {
				continue
			}
			for i, k := range kinds {
				if k.ok(&s) && (best[i] == nil || sipAbs(len(s.Msg)-target) < sipAbs(len(best[i])-target)) {
					best[i] = bytes.Clone(s.Msg)
				}
			}
		}
	}
	var out []sipBenchMsg
	for i, k := range kinds {
		if best[i] == nil {
			tb.Fatalf("no %s message in the captures", k.name)
		}
		out = append(out, sipBenchMsg{k.name + "-" + itoa(len(best[i])) + "B", best[i]})
	}
	return out
}

func sipHasSDP(s *SIP) bool {
	return len(s.Body) > 0 && bytes.EqualFold(s.ContentType, []byte("application/sdp"))
}

func sipAbs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// BenchmarkSIP decodes real messages with every field extracted.
func BenchmarkSIP(b *testing.B) {
	for _, m := range sipBenchMessages(b) {
		b.Run(m.name, func(b *testing.B) {
			var s SIP
			b.SetBytes(int64(len(m.data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.DecodeFrom(m.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSIPMessageLen frames the same messages as a TCP stream would.
func BenchmarkSIPMessageLen(b *testing.B) {
	for _, m := range sipBenchMessages(b) {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(int64(len(m.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := SIPMessageLen(m.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSipgo parses the same messages with github.com/emiago/sipgo's
// parser, what a Go user would pick instead (the baseline).
func BenchmarkSipgo(b *testing.B) {
	p := sip.NewParser()
	for _, m := range sipBenchMessages(b) {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(int64(len(m.data)))
			b.ReportAllocs()
			for b.Loop() {
				msg, err := p.ParseSIP(m.data)
				if err != nil || msg.CallID() == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
