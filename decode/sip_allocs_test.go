//go:build !race

package decode

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSIPAllocs asserts that decoding, framing and checking SIP messages
// allocate nothing, on well-formed and on malformed input.
func TestSIPAllocs(t *testing.T) {
	s, err := NewSIP(&SIPConfig{ALegHeaders: []string{"X-Leg", "X-CID"}, CustomHeaders: [3]string{"X-Mac", "IP", "Subject"}})
	if err != nil {
		t.Fatal(err)
	}
	var inputs [][]byte
	for _, n := range []string{"invite-sdp", "reply-200-sdp", "register-auth", "tel-rpid-folded", "bad-content-length"} {
		b, err := os.ReadFile(filepath.Join("testdata", "sip", n+".sip"))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, b)
	}
	inputs = append(inputs, []byte("GET / HTTP/1.1\r\n\r\n"), []byte("\r\n\r\n"),
		[]byte(crlf("INV@TE sip:h SIP/2.0\nbad line\nCSeq: x\n\n")))
	for i, in := range inputs {
		if n := testing.AllocsPerRun(100, func() { _ = s.DecodeFrom(in) }); n != 0 {
			t.Errorf("input %d: DecodeFrom allocates %v times", i, n)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = SIPMessageLen(in) }); n != 0 {
			t.Errorf("input %d: SIPMessageLen allocates %v times", i, n)
		}
		if n := testing.AllocsPerRun(100, func() { _ = LooksLikeSIP(in) }); n != 0 {
			t.Errorf("input %d: LooksLikeSIP allocates %v times", i, n)
		}
	}
	var z SIP // zero value: default configuration
	if n := testing.AllocsPerRun(100, func() { _ = z.DecodeFrom(inputs[0]) }); n != 0 {
		t.Errorf("zero-value DecodeFrom allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = SIPErrorKind(s.DecodeFrom(inputs[4])) }); n != 0 {
		t.Errorf("SIPErrorKind allocates %v times", n)
	}
}
