package decode

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// part is where a result slice lies in the value it was cut from: offset
// (from the capacities, as every result shares the value's end), length,
// and whether it is nil.
type part struct {
	off, len int
	isNil    bool
}

func partOf(v, x []byte) part {
	if x == nil {
		return part{isNil: true}
	}
	return part{off: cap(v) - cap(x), len: len(x)}
}

// nameAddr is splitNameAddr and splitURI on its URI, and findParam for the
// tag when withTag is set, from nameAddrAVX2; ok is false when it did not
// take the value (see above) or generic is set.
func nameAddr(v []byte, withTag, generic bool) (user, host []byte, port uint16, tag []byte, ok bool) {
	var r nameAddrPos
	if !r.take(v, false, generic) {
		return nil, nil, 0, nil, false
	}
	if withTag {
		tag = r.tag(v)
	}
	return r.user(v), r.host(v), uint16(r.port), tag, true
}

// uri is splitURI(u) for a sip: or sips: URI of at most 64 bytes in the
// forms nameAddr takes, from nameAddrAVX2; ok is false when it did not take
// u or generic is set.
func uri(u []byte, generic bool) (user, host []byte, port uint16, ok bool) {
	var r nameAddrPos
	if !r.take(u, true, generic) {
		return nil, nil, 0, false
	}
	return r.user(u), r.host(u), uint16(r.port), true
}

// firstVia is firstValue(v) and findParam on it for branch, from viaAVX2;
// ok is false when generic is set or it did not take the value: the first
// value does not end within the first 128 bytes, holds a '"' before its ','
// or white space at an end, or findParam would walk a parameter token by
// token.
func firstVia(v []byte, generic bool) (via1, branch []byte, ok bool) {
	var r viaPos
	if !r.take(v, generic) {
		return nil, nil, false
	}
	return v[:r.e1], r.branch(v[:r.e1]), true
}

// nameAddrGeneral is what DecodeFrom computes for a From/To value without
// nameAddrAVX2.
func nameAddrGeneral(v []byte) (user, host []byte, port uint16, tag []byte) {
	uri, params := splitNameAddr(v)
	user, host, port = splitURI(uri)
	return user, host, port, findParam(params, &tagKey)
}

// checkNameAddr compares nameAddr with the general parsers on v and reports
// whether nameAddr took it.
func checkNameAddr(t testing.TB, what string, v []byte) bool {
	t.Helper()
	user, host, port, tag, ok := nameAddr(v, true, false)
	if !ok {
		return false
	}
	wu, wh, wp, wt := nameAddrGeneral(v)
	got := fmt.Sprint(partOf(v, user), partOf(v, host), port, partOf(v, tag))
	want := fmt.Sprint(partOf(v, wu), partOf(v, wh), wp, partOf(v, wt))
	if got != want {
		t.Fatalf("%s %q (cap %d): nameAddr gives user, host, port, tag %s; the general parsers %s",
			what, v, cap(v), got, want)
	}
	// Contact takes no tag: the rest is the same.
	u2, h2, p2, t2, ok2 := nameAddr(v, false, false)
	if !ok2 || t2 != nil || fmt.Sprint(partOf(v, u2), partOf(v, h2), p2) != fmt.Sprint(partOf(v, user), partOf(v, host), port) {
		t.Fatalf("%s %q: nameAddr without the tag differs", what, v)
	}
	return true
}

func skipWithoutAVX2(t testing.TB) {
	if !useAVX2 {
		t.Skip("the assembly parsers need amd64 with AVX2 and BMI2; the general parsers decode every value here")
	}
}

// withCap returns s in a buffer with extra bytes of capacity after it,
// filled with fill.
func withCap(s string, extra int, fill byte) []byte {
	b := make([]byte, len(s)+extra)
	copy(b, s)
	for i := len(s); i < len(b); i++ {
		b[i] = fill
	}
	return b[:len(s)]
}

// checkRandomValues runs check on 200 000 random values: one of prefixes,
// then up to maxLen bytes mostly from alphabet, one in fifty from the bytes
// that send a value to the general parsers (control bytes, backslash), and
// up to 15 more such bytes of capacity. It fails when no value took the
// one-pass path.
func checkRandomValues(t *testing.T, r *rand.Rand, maxLen int, alphabet string, prefixes []string,
	check func(testing.TB, string, []byte) bool) {
	t.Helper()
	const rare = "\\\t\r\n\x00\x1f\x80"
	took := 0
	for range 200000 {
		p := prefixes[r.IntN(len(prefixes))]
		n := r.IntN(maxLen)
		b := make([]byte, len(p)+n, len(p)+n+r.IntN(16))
		copy(b, p)
		for i := len(p); i < cap(b); i++ {
			c := alphabet[r.IntN(len(alphabet))]
			if r.IntN(50) == 0 {
				c = rare[r.IntN(len(rare))]
			}
			b[:cap(b)][i] = c
		}
		if check(t, "random", b) {
			took++
		}
	}
	if took == 0 {
		t.Error("no random value took the one-pass path")
	}
	t.Logf("%d of 200000 random values took the one-pass path", took)
}

// TestNameAddrFast checks that the forms agents write take the one-pass
// path and give the general parsers' results, and that the rest either
// gives them too or is left to the general parsers.
func TestNameAddrFast(t *testing.T) {
	skipWithoutAVX2(t)
	taken := []string{
		`<sip:alice@example.com>;tag=1928301774`,
		`"Alice" <sip:alice@example.com>;tag=1928301774`,
		`"arik" <sip:816666@voip.brurjula.net>;tag=6433ef9`,
		`Bob <sip:bob@biloxi.example.com:5061;transport=tcp>;tag=a6c85cf`,
		`<sip:061963177@italtel.it;user=phone>;tag=SD4909799-617263616479616E-331715520-5336f785-187410205`,
		`<sip:unavailable@138.132.169.101:5060;transport=udp>`,
		`<sip:voi18063@192.168.1.2:5060;line=9c7d2dbd8822013c>;expires=1200;q=0.500`,
		`sip:carol@chicago.example.com;tag=887s`,
		`sip:carol@chicago.example.com`,
		`<sips:user:secret@host:99999>;TAG=x`,
		`<sip:host.example.com:0>;tag=`,
		`<sip:a@b?subject=x>;tag=y,<sip:c@d>`,
		`<sip:a?b@c>;tag=1`,
		`<sip:@h>;tag=1`,
		`<sip:u@>;tag=1`,
		`"" <sip:u@h>`,
		`<sip:u@h:5060>;tag="quoted"`,
		`<sip:u@h>;tag= x`,
		`<sip:u@h>;tagx=1;tag=2`,
		`<sip:u@h>;received=1.2.3.4;tag=2`,
		`<sip:u@h:123456>;tag=1`,
		`<sip:u@h:65536>`,
		`<sip:u@h:12a>`,
		`<sip:u@h:>`,
		`<sip:u@h;maddr=x@y>`,
		`sip:u@h,sip:v@i`,
		`<sip:u@h>;tag=1>2`,
		`<sip:u@h>;tag=1:2;x`,
		`<sip:u@h>;tag=1?2`,
		`<sip:u@h>;tag=` + "very-long-tag-value-that-runs-past-the-sixty-four-byte-window;x=1",
		`<sip:u@h>;tag=` + "very-long-tag-value-that-runs-past-the-sixty-four-byte-window",
		`<sip:u@h>;tag=` + strings.Repeat("t", 120) + ";x",
		`<sip:u@h>;tag=` + strings.Repeat("t", 120),
		`<sip:u@h>;tag=` + strings.Repeat("t", 100) + ">x",
	}
	// The tag's value starting at every position around byte 64, its end
	// on either side of byte 128.
	for ulen := 40; ulen <= 64; ulen++ {
		for _, tail := range []string{";x", "", " x", strings.Repeat("y", 70) + ";z"} {
			taken = append(taken, "<sip:"+strings.Repeat("u", ulen-8)+"@h>;tag=abc"+tail)
		}
	}
	for _, s := range taken {
		// With less than 64 bytes of capacity the window is read only
		// when it stays within the value's page: the value may take
		// either path then.
		for _, extra := range []int{0, 8} {
			checkNameAddr(t, "form", withCap(s, extra, ';'))
		}
		if !checkNameAddr(t, "form", withCap(s, 64, ';')) {
			t.Errorf("%q took the general path", s)
		}
	}
	left := []string{
		``, ` <sip:u@h>`, `<sip:u@h> `, `< sip:u@h>`, `<sip:u@ h>`, `<sip:u@[2001:db8::1]:5060>`,
		`<tel:+1234>;tag=1`, `<sip:u@h`, `"unterminated <sip:u@h>`, `"a\"b" <sip:u@h>`,
		`"name" sip:u@h`, "<sip:u@h>;tag=\t1", `<urn:x>`, `<sip:>`, `;tag=1`, `*`,
		`<sip:u@` + "a-host-name-that-is-long-enough-to-end-past-the-window.example.com>;tag=1",
		`"A display name long enough that the URI starts too late" <sip:u@h>`,
		`sip:u@h` + "-with-a-host-and-no-parameters-running-past-the-sixty-four-byte-window",
	}
	for _, s := range left {
		for _, extra := range []int{0, 64} {
			if checkNameAddr(t, "edge", withCap(s, extra, '>')) {
				t.Errorf("%q (cap +%d) took the one-pass path", s, extra)
			}
		}
	}
	// Random values over the bytes the parsers stop at, some with a
	// capacity that holds more of them.
	checkRandomValues(t, rand.New(rand.NewPCG(5, 6)), 90, `aZ09-._~@:;>?<,"= sipSIPtag`,
		[]string{"", "<sip:", "<sips:", `"x" <sip:`, "sip:", "<sip:u@h>;tag=", "<sip:u@h:"}, checkNameAddr)
}

// TestNameAddrPageEdges runs nameAddr on values that end where a page ends
// and the next page is not readable, and that start where a page starts
// after one that is not, so that a read past either edge faults.
func TestNameAddrPageEdges(t *testing.T) {
	skipWithoutAVX2(t)
	mid := guardedPage(t)
	for _, s := range []string{`<sip:alice@example.com:5060>;tag=1928301774`, `sip:u@h`, `<sip:u@h>;tag=abcdefgh`} {
		for n := 1; n <= len(s); n++ {
			end := mid[len(mid)-n:]
			copy(end, s[len(s)-n:])
			checkNameAddr(t, "at a page end", end)
			start := mid[:n:n]
			copy(start, s[:n])
			checkNameAddr(t, "at a page start", start)
		}
	}
	// A window that fits before the page end is read even when the value
	// is shorter; one that would cross it is left to the general parsers.
	v := mid[len(mid)-64 : len(mid)-64+len(`<sip:u@h>;tag=1`)]
	copy(v, `<sip:u@h>;tag=1`)
	if !checkNameAddr(t, "64 bytes before a page end", v) {
		t.Error("a value 64 bytes before the page end took the general path")
	}
}

// FuzzNameAddr checks nameAddr against the general parsers on any value,
// with the input's remaining bytes as the value's capacity.
func FuzzNameAddr(f *testing.F) {
	for _, s := range []string{
		"\x20" + `"Alice" <sip:alice@example.com:5060;transport=udp>;tag=1928301774`,
		"\x10" + `sip:carol@chicago.example.com;tag=887s`,
		"\x30" + `<sips:user:pw@host>;TAG=x;y`,
		"\x05" + `<sip:u@h>;tag=` + "very-long-tag-value-that-runs-past-the-sixty-four-byte-window",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !useAVX2 {
			t.Skip("no nameAddrAVX2 here")
		}
		if v, ok := fuzzValue(data); ok {
			checkNameAddr(t, "fuzz", v)
			checkURI(t, "fuzz", v)
		}
	})
}

// checkVia compares firstVia with firstValue and findParam on v and reports
// whether firstVia took it.
func checkVia(t testing.TB, what string, v []byte) bool {
	t.Helper()
	via1, branch, ok := firstVia(v, false)
	if !ok {
		return false
	}
	w1 := firstValue(v)
	wb := findParam(w1, &branchKey)
	got := fmt.Sprint(partOf(v, via1), partOf(v, branch))
	want := fmt.Sprint(partOf(v, w1), partOf(v, wb))
	if got != want {
		t.Fatalf("%s %q (cap %d): firstVia gives Via1, branch %s; the general parsers %s", what, v, cap(v), got, want)
	}
	return true
}

// TestFirstVia checks that the Via values agents write take the one-pass
// path and give the general parsers' results, and that the rest either
// gives them too or is left to the general parsers.
func TestFirstVia(t *testing.T) {
	skipWithoutAVX2(t)
	taken := []string{
		`SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds`,
		`SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport`,
		`SIP/2.0/UDP 192.168.1.2:5060;received=80.230.219.70;rport=5060;branch=z9hG4bKnp104984053-44ce4a41192.168.1.2`,
		`SIP/2.0/UDP 200.57.7.195;rport;branch=z9hG4bKff9b46fb055c0521cc24024da96cd290`,
		`SIP/2.0/TCP h;BRANCH=z9hG4bK1, SIP/2.0/UDP other;branch=z9hG4bK2`,
		`SIP/2.0/UDP h;maddr=x;ttl=1`,
		`SIP/2.0/UDP h`,
		`SIP/2.0/UDP h;branch=a>b`,
		`SIP/2.0/UDP h;branch=a?b;x`,
		`SIP/2.0/UDP h;branch=a:b;x`,
		`SIP/2.0/UDP h;branch=` + "a-branch-value-long-enough-to-cross-from-the-first-into-the-second-half-of-the-window",
		`SIP/2.0/UDP a-host-name-long-enough-that-the-branch-parameter-starts-past-sixty-four;branch=z9hG4bK1;rport`,
	}
	for _, s := range taken {
		// With less than 128 bytes of capacity the window is read only
		// when it stays within the value's page, and findParam wants
		// eight bytes after each ';' it passes.
		for _, extra := range []int{0, 8} {
			checkVia(t, "form", withCap(s, extra, ';'))
		}
		if !checkVia(t, "form", withCap(s, 128, ';')) {
			t.Errorf("%q took the general path", s)
		}
	}
	left := []string{
		``, ` SIP/2.0/UDP h;branch=1, x`, `SIP/2.0/UDP h;branch=1 , x`, `SIP/2.0/UDP h;x="a,b";branch=1`,
		`SIP/2.0/UDP h;branch="q"`, `SIP/2.0/UDP h;branch= 1`, `SIP/2.0/UDP h;branch`, `SIP/2.0/UDP h; branch=1`,
		`SIP/2.0/UDP h;branch =1`, `SIP/2.0/UDP h;`, `,SIP/2.0/UDP h`, `SIP/2.0/UDP h;branche=1;branch=2`,
		`SIP/2.0/UDP h;branch=z9hG4bK1 ,SIP/2.0/UDP other`,
		`SIP/2.0/UDP h;branch=` + "a-branch-value-long-enough-to-run-past-the-whole-window-of-one-hundred-and-twenty-eight-bytes-xxxxxxxxxxxxxxxxxx",
	}
	for _, s := range left {
		for _, extra := range []int{0, 128} {
			if checkVia(t, "edge", withCap(s, extra, ';')) {
				t.Errorf("%q (cap +%d) took the one-pass path", s, extra)
			}
		}
	}
	checkRandomValues(t, rand.New(rand.NewPCG(7, 8)), 150, `aZ09-._~@:;>?<,"= branchBRANCH`,
		[]string{"", "SIP/2.0/UDP h", "SIP/2.0/UDP h;branch=", "SIP/2.0/UDP h;rport;branch=z9", "SIP/2.0/UDP h;received=1.2.3.4;"}, checkVia)
}

// TestFirstViaPageEdges runs firstVia on values at the edges of readable
// memory (see TestNameAddrPageEdges).
func TestFirstViaPageEdges(t *testing.T) {
	skipWithoutAVX2(t)
	mid := guardedPage(t)
	s := `SIP/2.0/UDP 192.168.1.2:5060;received=80.230.219.70;rport=5060;branch=z9hG4bKnp104984053-44ce4a41`
	for n := 1; n <= len(s); n++ {
		end := mid[len(mid)-n:]
		copy(end, s[len(s)-n:])
		checkVia(t, "at a page end", end)
		start := mid[:n:n]
		copy(start, s[:n])
		checkVia(t, "at a page start", start)
	}
	v := mid[len(mid)-128 : len(mid)-128+len(s)]
	copy(v, s)
	if !checkVia(t, "128 bytes before a page end", v) {
		t.Error("a value 128 bytes before the page end took the general path")
	}
}

// FuzzFirstVia checks firstVia against firstValue and findParam on any
// value, with the input's remaining bytes as the value's capacity.
func FuzzFirstVia(f *testing.F) {
	for _, s := range []string{
		"\x20" + `SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport`,
		"\x10" + `SIP/2.0/UDP 192.168.1.2:5060;received=80.230.219.70;rport=5060;branch=z9hG4bKnp1049`,
		"\x05" + `SIP/2.0/TCP h;BRANCH=z9hG4bK1, SIP/2.0/UDP other;branch=z9hG4bK2`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !useAVX2 {
			t.Skip("no viaAVX2 here")
		}
		if v, ok := fuzzValue(data); ok {
			checkVia(t, "fuzz", v)
		}
	})
}

// fuzzValue turns a fuzz input into a value with spare capacity: the first
// byte says how many of the last bytes are capacity only.
func fuzzValue(data []byte) ([]byte, bool) {
	if len(data) == 0 {
		return nil, false
	}
	b := data[1:]
	extra := min(int(data[0])%32, len(b))
	return b[:len(b)-extra], true
}

// TestDecodeFromLineEnds moves every line of a message across 64-byte
// boundaries and the 64- and 128-byte windows of the assembly parsers, with
// lines from empty to longer than 256 bytes and folded lines, and compares
// DecodeFrom with and without the assembly parsers, slice for slice.
func TestDecodeFromLineEnds(t *testing.T) {
	lines := []string{
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds",
		"From: \"A\" <sip:a@example.com>;tag=1",
		"To: <sip:b@example.com:5061>",
		"X-Long: " + strings.Repeat("x", 300),
		"Subject: folded\r\n continued\r\n\tand again",
		"Call-ID: 1234@h",
		"CSeq: 1 INVITE",
		"Contact: <sip:a@10.0.0.1:5060>",
		"Content-Length: 4",
	}
	for pad := 0; pad <= 320; pad++ {
		for _, lfOnly := range []bool{false, true} {
			eol := "\r\n"
			if lfOnly {
				eol = "\n"
			}
			msg := "INVITE sip:b@example.com SIP/2.0" + eol + "X-Pad: " + strings.Repeat("p", pad) + eol
			for _, l := range lines {
				msg += strings.ReplaceAll(l, "\r\n", eol) + eol
			}
			msg += eol + "body"
			decodeBothWays(t, [][]byte{[]byte(msg), withCap(msg, 64, '\n'), []byte(msg[:len(msg)-len(eol)-4])}, nil)
		}
	}
}

// checkURI compares uri with splitURI on u and reports whether uri took it.
func checkURI(t testing.TB, what string, u []byte) bool {
	t.Helper()
	user, host, port, ok := uri(u, false)
	if !ok {
		return false
	}
	wu, wh, wp := splitURI(u)
	got := fmt.Sprint(partOf(u, user), partOf(u, host), port)
	want := fmt.Sprint(partOf(u, wu), partOf(u, wh), wp)
	if got != want {
		t.Fatalf("%s %q (cap %d): uri gives user, host, port %s; splitURI %s", what, u, cap(u), got, want)
	}
	return true
}

// TestURIFast checks the Request-URI form of nameAddrAVX2 against splitURI.
func TestURIFast(t *testing.T) {
	skipWithoutAVX2(t)
	for _, s := range []string{
		"sip:bob@biloxi.example.com", "sip:201@10.33.6.101;user=phone", "sips:u:pw@h:5061;transport=tls",
		"sip:h", "sip:h:5060", "sip:a;b@c", "sip:a?b@c", "SIP:U@H", "sip:@h", "sip:u@", "sip:u@h:99999",
		"sip:u@h?x=y", "sip:u@h,x", "sip:u@h>x",
	} {
		if !checkURI(t, "form", withCap(s, 64, ' ')) {
			t.Errorf("%q took the general path", s)
		}
	}
	for _, s := range []string{"", "tel:+1234", "sip:u@[::1]", " sip:u@h", "sip:u@h ", "sip:", "urn:x",
		"sip:u@" + strings.Repeat("h", 64)} {
		if checkURI(t, "edge", withCap(s, 64, ' ')) {
			t.Errorf("%q took the one-pass path", s)
		}
	}
	checkRandomValues(t, rand.New(rand.NewPCG(9, 10)), 70, `aZ09-._~@:;>?<,"= sipSIP`,
		[]string{"sip:", "sips:", "sip:u@h", "sip:u@h:", "sip:u:p@"}, checkURI)
}

// walkLines are header lines for TestSIPLines and FuzzSIPLines: the common case
// sipLinesAVX2 records and every kind of line it must leave to DecodeFrom's
// own loop (unknown and long names, white space before the colon or around
// the value, folds, bytes above 0x7f, no colon, lines past 64 and 128 bytes).
var walkLines = []string{
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds",
	"v: SIP/2.0/TCP h;branch=z9hG4bKx;received=192.0.2.1;rport=5060;alias",
	"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774",
	"f: <sip:a@b>;tag=x",
	"To: <sip:bob@biloxi.example.com>",
	"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf",
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
	"i: x@y",
	"CSeq: 314159 INVITE",
	"CSeq: 1  INVITE",
	"CSeq: x INVITE",
	"Contact: <sip:alice@192.0.2.4:5070>",
	"m: <sip:x@[2001:db8::1]:5060>",
	"Content-Length: 4",
	"l: 0",
	"Content-Length: abc",
	"Content-Type: application/sdp",
	"Max-Forwards: 70",
	"User-Agent: X  ",
	"Server: Y",
	"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO",
	"X-CID: abc",
	"X-Other: def",
	"X-Custom: v",
	"X-Unknown-Header: q",
	"Subject:",
	"Subject: \t",
	"Subject:  two spaces",
	"Subject:\ttab",
	"Subject : space before the colon",
	"A-Very-Long-Header-Name-Over-24: v",
	"Supported: x\xff",
	"N\xe4me: v",
	"Authorization: Digest username=\"bob\", realm=\"x\", nonce=\"" + strings.Repeat("n", 100) + "\"",
	"Record-Route: <sip:" + strings.Repeat("r", 130) + ">",
	"Subject: folded\r\n continued",
	"Subject: folded\r\n\tby a tab",
	"P-Asserted-Identity: <sip:123@h>",
	"Reason: Q.850;cause=16",
	"Diversion: <sip:1@h>",
	"X-RTP-Stat: CS=0",
	"a line without a colon",
	"Expires: 3600\r",
	":",
	"Date: " + strings.Repeat("d", 57),
	"Date: " + strings.Repeat("d", 58),
	"Date: " + strings.Repeat("d", 25),
	"P-ASSERTED-IDENTITY: <sip:1@h>",
	"PROXY-AUTHORIZATION: Digest username=\"x\"",
	"CONTENT-TYPE: application/sdp",
}

// TestSIPLines compares DecodeFrom with sipLinesAVX2 walking the header
// lines against the portable loop alone, on 8 000 random header blocks,
// whole and truncated (checkSIPLines says where and how).
func TestSIPLines(t *testing.T) {
	skipWithoutAVX2(t)
	mid := guardedPage(t)
	cfg := &SIPConfig{ALegHeaders: []string{"X-CID", "X-Other"}, CustomHeaders: [3]string{"X-Custom", "Subject", "from"}}
	r := rand.New(rand.NewPCG(5, 6))
	walked := 0
	for round := 0; round < 8000; round++ {
		eol := "\r\n"
		if r.IntN(4) == 0 {
			eol = "\n"
		}
		msg := "INVITE sip:b@example.com SIP/2.0" + eol
		if r.IntN(2) == 0 {
			msg = "SIP/2.0 200 OK" + eol
		}
		for n := r.IntN(26); n > 0; n-- {
			msg += strings.ReplaceAll(walkLines[r.IntN(len(walkLines))], "\r\n", eol) + eol
		}
		if r.IntN(3) > 0 {
			msg += eol + "body"
		}
		if r.IntN(3) == 0 {
			msg = msg[:r.IntN(len(msg)+1)]
		}
		checkSIPLines(t, msg, mid, cfg)
		var out [sipLinesMax]sipLine
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			if n, _, _ := sipLinesAVX2([]byte(msg), i+1, &out, sipFieldHeaders, 0); n > 0 {
				walked++
			}
		}
	}
	// The comparison means something only if the walk took lines.
	if walked < 4000 {
		t.Fatalf("the walk recorded lines in only %d of 8000 messages", walked)
	}
}

// checkSIPLines decodes msg with and without the header-line walk, with the
// default configuration and with cfg, in a heap buffer, in one with LFs
// after its end (the walk reads past it) and ending where mid, a page
// followed by an unreadable one, ends; every result must be the same.
func checkSIPLines(t testing.TB, msg string, mid []byte, cfg *SIPConfig) {
	t.Helper()
	ins := [][]byte{[]byte(msg), withCap(msg, 64, '\n')}
	if len(msg) <= len(mid) {
		edge := mid[len(mid)-len(msg):]
		copy(edge, msg)
		ins = append(ins, edge)
	}
	decodeBothWays(t, ins, nil, cfg)
}

// decodeBothWays decodes each of ins with and without the assembly (the
// walk and the value parsers: SIP.generic) under each configuration and
// fails on any difference in the fields or the error.
func decodeBothWays(t testing.TB, ins [][]byte, confs ...*SIPConfig) {
	t.Helper()
	for _, conf := range confs {
		fast, err := NewSIP(conf)
		if err != nil {
			t.Fatal(err)
		}
		generic, _ := NewSIP(conf)
		generic.generic = true
		for _, in := range ins {
			ferr, gerr := fast.DecodeFrom(in), generic.DecodeFrom(in)
			fs, _ := sipSpans(fast, in)
			gs, _ := sipSpans(generic, in)
			fs, gs = emptyAnywhere(fs), emptyAnywhere(gs) // see FuzzSIP
			if ferr != gerr || !reflect.DeepEqual(fs, gs) || !reflect.DeepEqual(sipFields(fast), sipFields(generic)) {
				t.Fatalf("%q, %+v: with the assembly %v %v %v, without it %v %v %v", in, conf, ferr, fs, sipFields(fast), gerr, gs, sipFields(generic))
			}
		}
	}
}

// FuzzSIPLines is TestSIPLines on fuzzed header blocks after a request line.
func FuzzSIPLines(f *testing.F) {
	for _, l := range walkLines {
		f.Add([]byte(l + "\r\n" + walkLines[len(l)%len(walkLines)] + "\r\n\r\nbody"))
	}
	mid := guardedPage(f)
	cfg := &SIPConfig{ALegHeaders: []string{"X-CID", "X-Other"}, CustomHeaders: [3]string{"X-Custom", "Subject", "from"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !useAVX2 {
			t.Skip("no sipLinesAVX2 here")
		}
		checkSIPLines(t, "INVITE sip:b@example.com SIP/2.0\r\n"+string(data), mid, cfg)
	})
}

// walkModel is sipLinesAVX2 written in Go for TestSIPLinesModel: the same
// stops, the same records. It reads only data's bytes: where the assembly
// would decide on a byte past the end (a colon, a control byte or a LF
// read there), it stops, as the assembly then stops too; where the
// assembly would not read a window because it crosses into the next page,
// the model stops as well (readable works on the address alone).
func walkModel(data []byte, pos int, unfilled, idMask uint64) (recs []sipLine, next int, left uint64) {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	readable := func(i, w int) bool { return i+w <= len(data) || int((base+uintptr(i))&4095) <= 4096-w }
	for pos < len(data) && len(recs) < sipLinesMax && readable(pos, 64) {
		k := 0
		for k < 32 && pos+k < len(data) && data[pos+k] != ':' && data[pos+k] >= 0x20 && data[pos+k] < 0x80 {
			k++
		}
		if k == 0 || k >= 24 || pos+k >= len(data) || data[pos+k] != ':' {
			break
		}
		var key [24]byte
		for j := range k {
			key[j] = data[pos+j] | 0x20
		}
		k0, k1, k2 := binary.LittleEndian.Uint64(key[0:]), binary.LittleEndian.Uint64(key[8:]), binary.LittleEndian.Uint64(key[16:])
		e := &sipNameEntries[sipNameHash(k0, k1, k2)]
		if e.k0 != k0 || e.k1 != k1 || e.k2 != k2 {
			break
		}
		lf := -1
		for j := pos; j < min(pos+64, len(data)) && lf < 0; j++ {
			if data[j] == '\n' {
				lf = j
			}
		}
		for a := pos + 64; lf < 0 && a < len(data) && readable(a, 32); a += 32 {
			for j := a; j < min(a+32, len(data)) && lf < 0; j++ {
				if data[j] == '\n' {
					lf = j
				}
			}
		}
		if lf < 0 || lf+1 >= len(data) || data[lf+1] == ' ' || data[lf+1] == '\t' {
			break
		}
		if bit := uint64(1) << e.id; (unfilled|idMask)&bit != 0 {
			vs, ve := pos+k+1, lf
			if vs < ve && data[vs] == ' ' {
				vs++
			}
			if vs < ve && data[ve-1] == '\r' {
				ve--
			}
			if vs < ve && (data[vs] <= ' ' || data[ve-1] <= ' ') {
				for vs < ve && isLWS(data[vs]) {
					vs++
				}
				for ve > vs && isLWS(data[ve-1]) {
					ve--
				}
			}
			recs = append(recs, sipLine{vs: uint32(vs), ve: uint32(ve), start: uint32(pos),
				nameLen: uint8(k), id: uint8(e.id), first: unfilled&bit != 0})
			unfilled &^= bit
		}
		pos = lf + 1
	}
	return recs, pos, unfilled
}

// tableNames returns every name of sipNameEntries, rebuilt from its keys.
func tableNames() []string {
	var names []string
	for _, e := range sipNameEntries {
		if e.k0 == 0 {
			continue
		}
		var b [24]byte
		binary.LittleEndian.PutUint64(b[0:], e.k0)
		binary.LittleEndian.PutUint64(b[8:], e.k1)
		binary.LittleEndian.PutUint64(b[16:], e.k2)
		names = append(names, strings.TrimRight(string(b[:]), "\x00"))
	}
	return names
}

// TestSIPLinesModel compares sipLinesAVX2 record by record with walkModel
// from every line start of random header blocks: every name of the table
// in mixed case, names it does not know or cannot take, values with white
// space and control bytes at either end, runs of more lines than one call
// records; in heap buffers, with LFs or colons past the end, at the end of
// a page before an unreadable one and anywhere inside that page; and
// DecodeFrom with and without the walk under random configurations. A walk
// that stopped early would give the same fields, so only this comparison
// sees it.
func TestSIPLinesModel(t *testing.T) {
	skipWithoutAVX2(t)
	mid := guardedPage(t)
	names := tableNames()
	r := rand.New(rand.NewPCG(11, 12))
	mixCase := func(s string) string {
		b := []byte(s)
		for i := range b {
			if b[i] >= 'a' && b[i] <= 'z' && r.IntN(2) == 0 {
				b[i] -= 0x20
			}
		}
		return string(b)
	}
	value := func() string {
		const plain, odd = "abcxyz0189 <>@;=:,\"sip.-", " \t\r\x00\x0b\x1f\x7f\xff:"
		b := make([]byte, r.IntN(40))
		if r.IntN(8) == 0 {
			b = make([]byte, r.IntN(200))
		}
		for i := range b {
			if r.IntN(60) == 0 {
				b[i] = odd[r.IntN(len(odd))]
			} else {
				b[i] = plain[r.IntN(len(plain))]
			}
		}
		if r.IntN(10) == 0 && len(b) > 1 {
			b[r.IntN(len(b)-1)+1] = '\n' // a fold below
		}
		pre := []string{"", " ", "  ", "\t", " \t", " \r"}[r.IntN(6)]
		post := []string{"", "", " ", "\r", "\r\r", " \r", "\t", "\x0b"}[r.IntN(8)]
		return pre + strings.ReplaceAll(string(b), "\n", "\n ") + post
	}
	line := func(dense bool) string {
		if dense {
			return []string{"Subject", "s", "From", "f", "Via", "Call-ID"}[r.IntN(6)] + ":" + value()
		}
		switch r.IntN(10) {
		case 0:
			return []string{"X-CID", "X-Custom", "Foo", "A-Very-Long-Header-Name-Over-24", "abcdefghijklmnopqrstuvw"}[r.IntN(5)] + ":" + value()
		case 1:
			return mixCase(names[r.IntN(len(names))]) + []string{" ", "\t", "\xe4", "@"}[r.IntN(4)] + ":" + value()
		case 2:
			return value()
		}
		return mixCase(names[r.IntN(len(names))]) + ":" + value()
	}
	config := func() *SIPConfig {
		pick := func() string {
			if r.IntN(3) == 0 {
				return []string{"X-CID", "X-Custom", "Subject", "Via", "f", "Max-Forwards"}[r.IntN(6)]
			}
			return strings.ToUpper(names[r.IntN(len(names))])
		}
		cfg := &SIPConfig{}
		for i := r.IntN(3); i > 0; i-- {
			cfg.ALegHeaders = append(cfg.ALegHeaders, pick())
		}
		for i := range cfg.CustomHeaders {
			if r.IntN(3) > 0 {
				cfg.CustomHeaders[i] = pick()
			}
		}
		return cfg
	}
	records, full := 0, 0
	for round := 0; round < 2500; round++ {
		eol := "\r\n"
		if r.IntN(4) == 0 {
			eol = "\n"
		}
		dense := round%8 == 0 // mostly lines with fields: calls that fill out
		msg := "INVITE sip:b@example.com SIP/2.0" + eol
		for n := r.IntN(40); n > 0; n-- {
			msg += line(dense) + eol
		}
		if r.IntN(3) > 0 {
			msg += eol + "body"
		}
		if r.IntN(3) == 0 {
			msg = msg[:r.IntN(len(msg)+1)]
		}
		cfg := config()
		if dense {
			cfg = &SIPConfig{CustomHeaders: [3]string{"Subject", "Via", "f"}}
		}
		ins := [][]byte{[]byte(msg), withCap(msg, 64, '\n'), withCap(msg, 100, ':')}
		if len(msg) < len(mid) {
			edge := mid[len(mid)-len(msg):]
			copy(edge, msg)
			off := r.IntN(len(mid) - len(msg))
			inside := mid[off : off+len(msg) : off+len(msg)]
			ins = append(ins, edge, inside)
			copy(inside, msg)
		}
		m, err := NewSIP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ins {
			for pos := strings.IndexByte(msg, '\n') + 1; pos > 0 && pos <= len(in); {
				var out [sipLinesMax]sipLine
				unfilled := uint64(sipFieldHeaders) &^ uint64(r.Uint32()) // some ids seen already
				n, next, left := sipLinesAVX2(in, pos, &out, unfilled, m.m.idMask)
				wrecs, wnext, wleft := walkModel(in, pos, unfilled, m.m.idMask)
				if n != len(wrecs) || next != wnext || left != wleft || (n > 0 && !reflect.DeepEqual(out[:n], wrecs)) {
					t.Fatalf("%q from %d: sipLinesAVX2 %d records to %d, unfilled %#x: %+v; the model %d to %d, %#x: %+v",
						in, pos, n, next, left, out[:n], len(wrecs), wnext, wleft, wrecs)
				}
				records += n
				if n == sipLinesMax {
					full++
				}
				nl := strings.IndexByte(string(in[pos:]), '\n')
				if nl < 0 {
					break
				}
				pos += nl + 1
			}
		}
		decodeBothWays(t, ins, nil, cfg)
	}
	// The comparison means something only if the walk recorded lines and
	// filled its array.
	if records < 50000 || full < 100 {
		t.Fatalf("%d records, %d full calls", records, full)
	}
	t.Logf("%d records, %d full calls", records, full)
}

// TestSIPLinesRecords checks the records of sipLinesAVX2 on a block of
// lines it takes: a second From and Max-Forwards (no field, not configured)
// are passed over, Subject is recorded for the configuration only, and the
// walk stops at the empty line.
func TestSIPLinesRecords(t *testing.T) {
	skipWithoutAVX2(t)
	msg := "Via: SIP/2.0/UDP h;branch=z9hG4bKa\r\nMax-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\n" +
		"f: <sip:c@d>\r\nCall-ID:x@y\r\nSubject: s\r\n\r\n" + strings.Repeat("b", 64)
	var out [sipLinesMax]sipLine
	n, next, left := sipLinesAVX2([]byte(msg), 0, &out, sipFieldHeaders, 1<<hdrSubject)
	want := []struct {
		name, value string
		id          sipHdr
		first       bool
	}{
		{"Via", "SIP/2.0/UDP h;branch=z9hG4bKa", hdrVia, true},
		{"From", "<sip:a@b>;tag=1", hdrFrom, true},
		{"Call-ID", "x@y", hdrCallID, true},
		{"Subject", "s", hdrSubject, false},
	}
	if n != len(want) || next != strings.Index(msg, "\r\n\r\n")+2 {
		t.Fatalf("%d records, stopped at %d: %+v", n, next, out[:n])
	}
	for i, w := range want {
		l := out[i]
		name, value := msg[l.start:l.start+uint32(l.nameLen)], msg[l.vs:l.ve]
		if name != w.name || value != w.value || sipHdr(l.id) != w.id || l.first != w.first {
			t.Errorf("record %d: %q %q id %d first %v, want %+v", i, name, value, l.id, l.first, w)
		}
	}
	if wantLeft := uint64(sipFieldHeaders) &^ (1<<hdrVia | 1<<hdrFrom | 1<<hdrCallID); left != wantLeft {
		t.Errorf("unfilled %#x, want %#x", left, wantLeft)
	}
}
