package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func init() {
	// Defined here unless another test file of the package already did.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/golden")
	}
}

func sipUpdateGolden() bool {
	g, ok := flag.Lookup("update").Value.(flag.Getter)
	return ok && g.Get() == true
}

// crlf turns the LF line ends of a test literal into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// sipFieldNames lists the exported fields of SIP, in declaration order.
var sipFieldNames = func() []string {
	var names []string
	t := reflect.TypeOf(SIP{})
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() {
			names = append(names, f.Name)
		}
	}
	return names
}()

// sipFields returns every exported field of s as text: byte slices as their
// string ("<nil>" for nil), numbers in decimal, Custom as Custom[0..2].
func sipFields(s *SIP) map[string]string {
	out := map[string]string{}
	v := reflect.ValueOf(s).Elem()
	str := func(b []byte) string {
		if b == nil {
			return "<nil>"
		}
		return string(b)
	}
	for _, n := range sipFieldNames {
		f := v.FieldByName(n)
		switch f.Kind() {
		case reflect.Slice:
			out[n] = str(f.Bytes())
		case reflect.Array:
			for i := 0; i < f.Len(); i++ {
				out[fmt.Sprintf("%s[%d]", n, i)] = str(f.Index(i).Bytes())
			}
		case reflect.Int, reflect.Int64:
			out[n] = fmt.Sprint(f.Int())
		default:
			out[n] = fmt.Sprint(f.Uint())
		}
	}
	return out
}

// sipDump renders the fields in declaration order, one per line.
func sipDump(s *SIP) string {
	m := sipFields(s)
	var b strings.Builder
	for _, n := range sipFieldNames {
		if n == "Custom" {
			for i := 0; i < 3; i++ {
				k := fmt.Sprintf("Custom[%d]", i)
				fmt.Fprintf(&b, "%s: %q\n", k, m[k])
			}
			continue
		}
		fmt.Fprintf(&b, "%s: %q\n", n, m[n])
	}
	return b.String()
}

// sipSpan is where a byte-slice field lies relative to the input.
type sipSpan struct {
	name     string
	off, len int
	isNil    bool
}

// sipSpans returns the position of every byte-slice field inside in and an
// error naming the first field that is not a sub-slice of in.
func sipSpans(s *SIP, in []byte) ([]sipSpan, error) {
	var spans []sipSpan
	var err error
	v := reflect.ValueOf(s).Elem()
	check := func(name string, b []byte) {
		if b == nil {
			spans = append(spans, sipSpan{name: name, isNil: true})
			return
		}
		if len(b) == 0 && len(in) == 0 {
			spans = append(spans, sipSpan{name: name})
			return
		}
		base := reflect.ValueOf(in).Pointer()
		p := reflect.ValueOf(b).Pointer()
		off := int(p) - int(base)
		if p < base || off+len(b) > len(in) {
			if err == nil {
				err = fmt.Errorf("field %s (%q) lies outside the input", name, b)
			}
		}
		spans = append(spans, sipSpan{name: name, off: off, len: len(b)})
	}
	for _, n := range sipFieldNames {
		f := v.FieldByName(n)
		switch f.Kind() {
		case reflect.Slice:
			check(n, f.Bytes())
		case reflect.Array:
			for i := 0; i < f.Len(); i++ {
				check(fmt.Sprintf("%s[%d]", n, i), f.Index(i).Bytes())
			}
		}
	}
	return spans, err
}

// sipCheckReset asserts that s is as after Reset.
func sipCheckReset(t *testing.T, s *SIP) {
	t.Helper()
	for k, v := range sipFields(s) {
		want := "<nil>"
		switch k {
		case "ContentLength":
			want = "-1"
		case "Status", "ContactPort", "CSeqNum", "OriginatorPort":
			want = "0"
		}
		if v != want {
			t.Fatalf("after Reset %s = %q, want %q", k, v, want)
		}
	}
}

// sipTest decodes msg with s twice, checks the error and the fields in want
// (every field not named must be empty or zero; Msg defaults to the whole
// input and ContentLength to -1), then checks Reset.
func sipTest(t *testing.T, s *SIP, msg string, wantErr error, want map[string]string) {
	t.Helper()
	in := []byte(msg)
	for round := 0; round < 2; round++ {
		err := s.DecodeFrom(in)
		if err != wantErr {
			t.Fatalf("round %d: DecodeFrom error %v, want %v\n%s", round, err, wantErr, msg)
		}
		if _, err := sipSpans(s, in); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		got := sipFields(s)
		for k, g := range got {
			w, ok := want[k]
			if !ok {
				switch k {
				case "Msg":
					w = msg
					if wantErr == ErrNotSIP {
						w = "<nil>"
					}
				case "ContentLength":
					w = "-1"
				case "Status", "ContactPort", "CSeqNum", "OriginatorPort":
					w = "0"
				default:
					w = "<nil>"
					if g == "" {
						w = "" // an empty value of a header present is fine
					}
				}
			}
			if g != w {
				t.Errorf("round %d: %s = %q, want %q", round, k, g, w)
			}
		}
		for k := range want {
			if _, ok := got[k]; !ok {
				t.Fatalf("test names unknown field %s", k)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	s.Reset()
	sipCheckReset(t, s)
}

func TestSIPDecode(t *testing.T) {
	t.Parallel()
	var s SIP
	f := func(msg string, wantErr error, want map[string]string) {
		t.Helper()
		sipTest(t, &s, msg, wantErr, want)
	}

	// A full INVITE with SDP and every extracted header.
	invite := crlf(`INVITE sip:bob@biloxi.example.com;transport=udp SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport
Max-Forwards: 70
To: "Bob" <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:alice@192.0.2.101:5062;transport=udp>;expires=60
P-Asserted-Identity: "Alice" <sip:+15551234@atlanta.example.com;user=phone>
Authorization: Digest username="alice", realm="atlanta.example.com", nonce="84a4cc6f3082121f32b42a2187831a9e", uri="sip:bob@biloxi.example.com", response="7587245234b3434cc3412213e5f113a5432"
Diversion: <sip:+15550000@atlanta.example.com>;reason=unconditional
Reason: Q.850;cause=16;text="Terminated"
User-Agent: Softphone/1.0
X-CID: aleg-call-id@10.0.0.1
X-OIP: 198.51.100.7:5080
X-RTP-Stat: CS=0;PS=100;ES=0
Content-Type: application/sdp
Content-Length: 13

v=0
o=- 1 1 `) + "IN"
	f(invite, nil, map[string]string{
		"Method": "INVITE", "RURI": "sip:bob@biloxi.example.com;transport=udp",
		"RURIUser": "bob", "RURIDomain": "biloxi.example.com",
		"FromUser": "alice", "FromDomain": "atlanta.example.com", "FromTag": "1928301774",
		"ToUser": "bob", "ToDomain": "biloxi.example.com",
		"PIDUser":     "+15551234",
		"ContactUser": "alice", "ContactIP": "192.0.2.101", "ContactPort": "5062",
		"Auth":     `Digest username="alice", realm="atlanta.example.com", nonce="84a4cc6f3082121f32b42a2187831a9e", uri="sip:bob@biloxi.example.com", response="7587245234b3434cc3412213e5f113a5432"`,
		"AuthUser": "alice",
		"CallID":   "a84b4c76e66710@pc33.atlanta.example.com", "CallIDAleg": "aleg-call-id@10.0.0.1",
		"Via1":       "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport",
		"Via1Branch": "z9hG4bK776asdhds",
		"CSeq":       "314159 INVITE", "CSeqNum": "314159", "CSeqMethod": "INVITE",
		"Diversion":    "<sip:+15550000@atlanta.example.com>;reason=unconditional",
		"Reason":       `Q.850;cause=16;text="Terminated"`,
		"ContentType":  "application/sdp",
		"UserAgent":    "Softphone/1.0",
		"OriginatorIP": "198.51.100.7", "OriginatorPort": "5080",
		"RTPStat":       "CS=0;PS=100;ES=0",
		"ContentLength": "13", "Body": "v=0\r\no=- 1 1 ",
		"Msg": invite[:len(invite)-2],
	})

	// A reply: Server stands in for User-Agent; no reason phrase is fine.
	f(crlf("SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP a.example;branch=z9hG4bK1\nFrom: <sip:a@a.example>;tag=x\nTo: <sip:b@b.example>;tag=y\nCall-ID: c1\nCSeq: 1 INVITE\nServer: PBX 2.0\nContent-Length: 0\n\n"), nil, map[string]string{
		"Status": "180", "StatusCode": "180", "ReplyReason": "Ringing",
		"Via1": "SIP/2.0/UDP a.example;branch=z9hG4bK1", "Via1Branch": "z9hG4bK1",
		"FromUser": "a", "FromDomain": "a.example", "FromTag": "x",
		"ToUser": "b", "ToDomain": "b.example", "ToTag": "y",
		"CallID": "c1", "CSeq": "1 INVITE", "CSeqNum": "1", "CSeqMethod": "INVITE",
		"UserAgent": "PBX 2.0", "ContentLength": "0", "Body": "",
	})
	f(crlf("SIP/2.0 200\ni: c\n\n"), nil, map[string]string{
		"Status": "200", "StatusCode": "200", "ReplyReason": "", "CallID": "c", "Body": "",
	})

	// Compact forms and header names in any case.
	f(crlf("MESSAGE sip:b@b.example SIP/2.0\nv: SIP/2.0/TCP h;BRANCH=z9hG4bKc\nf: sip:a@a.example;tag=ft\nt: <sips:b@b.example:5061>\ni: compact\nm: sip:a@192.0.2.1\nc: text/plain\nl: 2\ns: subject\nk: path\nCSEQ: 2 MESSAGE\nuser-AGENT: ua\n\nhi"), nil, map[string]string{
		"Method": "MESSAGE", "RURI": "sip:b@b.example", "RURIUser": "b", "RURIDomain": "b.example",
		"Via1": "SIP/2.0/TCP h;BRANCH=z9hG4bKc", "Via1Branch": "z9hG4bKc",
		"FromUser": "a", "FromDomain": "a.example", "FromTag": "ft",
		"ToUser": "b", "ToDomain": "b.example",
		"CallID": "compact", "ContactUser": "a", "ContactIP": "192.0.2.1",
		"ContentType": "text/plain", "ContentLength": "2", "Body": "hi",
		"CSeq": "2 MESSAGE", "CSeqNum": "2", "CSeqMethod": "MESSAGE", "UserAgent": "ua",
	})
	f(crlf("OPTIONS sip:h SIP/2.0\ncAlL-iD : spaced\n\n"), nil, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "spaced", "Body": "",
	})

	// Folded lines: the value keeps the fold; parameters on a continuation line count.
	f(crlf("BYE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h\n ;branch=z9hG4bKfold\nFrom: \"Alice\"\n\t<sip:alice@a.example>\n ;tag=ft\nCall-ID:\n  folded-id\nTo: <sip:b@h>\n\n"), nil, map[string]string{
		"Method": "BYE", "RURI": "sip:b@h", "RURIUser": "b", "RURIDomain": "h",
		"Via1": "SIP/2.0/UDP h\r\n ;branch=z9hG4bKfold", "Via1Branch": "z9hG4bKfold",
		"FromUser": "alice", "FromDomain": "a.example", "FromTag": "ft",
		"ToUser": "b", "ToDomain": "h", "CallID": "folded-id", "Body": "",
	})

	// Several values per line and several lines: the first one counts.
	f(crlf("INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP first;branch=z9hG4bK1, SIP/2.0/UDP second;branch=z9hG4bK2\nVia: SIP/2.0/UDP third;branch=z9hG4bK3\nContact: \"A, B\" <sip:first@192.0.2.1:5070>;q=0.5, <sip:second@192.0.2.2>\nContact: <sip:third@192.0.2.3>\nCall-ID: c\nCall-ID: ignored\n\n"), nil, map[string]string{
		"Method": "INVITE", "RURI": "sip:b@h", "RURIUser": "b", "RURIDomain": "h",
		"Via1": "SIP/2.0/UDP first;branch=z9hG4bK1", "Via1Branch": "z9hG4bK1",
		"ContactUser": "first", "ContactIP": "192.0.2.1", "ContactPort": "5070",
		"CallID": "c", "Body": "",
	})
	f(crlf("REGISTER sip:h SIP/2.0\nContact: sip:a@192.0.2.9:5062, sip:b@192.0.2.10\ni: c\n\n"), nil, map[string]string{
		"Method": "REGISTER", "RURI": "sip:h", "RURIDomain": "h",
		"ContactUser": "a", "ContactIP": "192.0.2.9", "ContactPort": "5062", "CallID": "c", "Body": "",
	})
	f(crlf("REGISTER sip:h SIP/2.0\nContact: *\ni: c\n\n"), nil, map[string]string{
		"Method": "REGISTER", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c", "Body": "",
	})

	// Display names quoted (with escapes and brackets inside) and unquoted;
	// URI parameters inside <> are not header parameters.
	f(crlf("INVITE sip:b@h SIP/2.0\nFrom: \"Al \\\"the <boss>\\\" ice\" <sip:alice:secret@a.example;tag=inner>;tag=outer\nTo: Bob Smith <sip:bob@b.example;user=phone>;tag=tt;other\ni: c\n\n"), nil, map[string]string{
		"Method": "INVITE", "RURI": "sip:b@h", "RURIUser": "b", "RURIDomain": "h",
		"FromUser": "alice", "FromDomain": "a.example", "FromTag": "outer",
		"ToUser": "bob", "ToDomain": "b.example", "ToTag": "tt", "CallID": "c", "Body": "",
	})
	f(crlf("INVITE sip:b@h SIP/2.0\nFrom: <sip:a.example>;tag=nouser\nTo: sip:b@b.example\ni: c\n\n"), nil, map[string]string{
		"Method": "INVITE", "RURI": "sip:b@h", "RURIUser": "b", "RURIDomain": "h",
		"FromDomain": "a.example", "FromTag": "nouser", "ToUser": "b", "ToDomain": "b.example",
		"CallID": "c", "Body": "",
	})

	// sips: and tel: URIs.
	f(crlf("INVITE tel:+1-201-555-0123;phone-context=example.com SIP/2.0\nFrom: <tel:+15550001>;tag=t1\nTo: <sips:bob@secure.example:5061;transport=tls>\nP-Preferred-Identity: <tel:+15550002>\ni: c\n\n"), nil, map[string]string{
		"Method": "INVITE", "RURI": "tel:+1-201-555-0123;phone-context=example.com", "RURIUser": "+1-201-555-0123",
		"FromUser": "+15550001", "FromTag": "t1", "ToUser": "bob", "ToDomain": "secure.example",
		"PIDUser": "+15550002", "CallID": "c", "Body": "",
	})

	// IPv6 references: domains keep brackets, ContactIP and OriginatorIP do not.
	f(crlf("INVITE sip:bob@[2001:db8::1]:5060 SIP/2.0\nVia: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK6\nFrom: <sip:alice@[2001:db8::2]>;tag=a\nContact: <sip:alice@[2001:db8::2]:5070;transport=udp>\nX-OIP: [2001:db8::3]:5080\ni: c\n\n"), nil, map[string]string{
		"Method": "INVITE", "RURI": "sip:bob@[2001:db8::1]:5060", "RURIUser": "bob", "RURIDomain": "[2001:db8::1]",
		"Via1": "SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK6", "Via1Branch": "z9hG4bK6",
		"FromUser": "alice", "FromDomain": "[2001:db8::2]", "FromTag": "a",
		"ContactUser": "alice", "ContactIP": "2001:db8::2", "ContactPort": "5070",
		"OriginatorIP": "2001:db8::3", "OriginatorPort": "5080", "CallID": "c", "Body": "",
	})

	// Priorities: P-Asserted-Identity over P-Preferred-Identity over
	// Remote-Party-ID, User-Agent over Server, Authorization over
	// Proxy-Authorization, whatever their order in the message.
	f(crlf("INVITE sip:h SIP/2.0\nRemote-Party-ID: <sip:rpid@h>;party=calling\nP-Preferred-Identity: <sip:ppi@h>\nP-Asserted-Identity: <sip:pai@h>\nServer: srv\nUser-Agent: ua\nProxy-Authorization: Digest username=\"proxyuser\"\nAuthorization: Digest realm=\"r\", USERNAME=\"authuser\"\nP-RTP-Stat: prtp\nX-RTP-Stat-T38: t38\nRTP-RxStat: rx\ni: c\n\n"), nil, map[string]string{
		"Method": "INVITE", "RURI": "sip:h", "RURIDomain": "h",
		"PIDUser": "pai", "UserAgent": "ua", "Auth": "Digest realm=\"r\", USERNAME=\"authuser\"", "AuthUser": "authuser",
		"RTPStat": "t38", "CallID": "c", "Body": "",
	})
	f(crlf("INVITE sip:h SIP/2.0\nRemote-Party-ID: \"x\" <sip:rpid@h>;party=calling\nProxy-Authorization: Digest username=unquoted,realm=r\nX-NG-RTP-STATS: ng\ni: c\n\n"), nil, map[string]string{
		"Method": "INVITE", "RURI": "sip:h", "RURIDomain": "h", "PIDUser": "rpid",
		"Auth": "Digest username=unquoted,realm=r", "AuthUser": "unquoted", "RTPStat": "ng", "CallID": "c", "Body": "",
	})

	// Body bounds: Content-Length shorter than the datagram (Msg stops at the
	// body end), absent (body runs to the end), longer (error, fields kept),
	// not a number.
	base := crlf("OPTIONS sip:h SIP/2.0\ni: c\nl: 4\n\n")
	f(base+"bodytrailing", nil, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c",
		"ContentLength": "4", "Body": "body", "Msg": base + "body",
	})
	f(crlf("OPTIONS sip:h SIP/2.0\ni: c\n\nwhole rest"), nil, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c", "Body": "whole rest",
	})
	f(crlf("OPTIONS sip:h SIP/2.0\ni: c\nContent-Length: 100\n\nshort"), ErrSIPContentLength, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c", "ContentLength": "100", "Body": "short",
	})
	f(crlf("OPTIONS sip:h SIP/2.0\ni: c\nContent-Length: ten\n\nbody"), ErrSIPContentLength, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c", "Body": "body",
	})
	// Bare LF line ends.
	f("ACK sip:h SIP/2.0\nCall-ID: lf\nCSeq: 7  ACK\nContent-Length: 1\n\nxy", nil, map[string]string{
		"Method": "ACK", "RURI": "sip:h", "RURIDomain": "h", "CallID": "lf",
		"CSeq": "7  ACK", "CSeqNum": "7", "CSeqMethod": "ACK", "ContentLength": "1", "Body": "x",
		"Msg": "ACK sip:h SIP/2.0\nCall-ID: lf\nCSeq: 7  ACK\nContent-Length: 1\n\nx",
	})

	// Not SIP at all.
	for _, in := range []string{"", "\r\n", "\r\n\r\n", "     ", "\x00\x00\x00\x00",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", "INVITE sip:h\r\n\r\n",
		"SIPX/2.0 200 OK\r\n\r\n", "SIP/2.x 200 OK\r\n\r\n", "\x16\x03\x01\x02\x00\x01\x00"} {
		f(in, ErrNotSIP, nil)
	}
	// Malformed SIP: fields that parsed are kept.
	f(crlf("INV@TE sip:h SIP/2.0\ni: c\n\n"), ErrSIPBadStartLine, map[string]string{"CallID": "c", "Body": ""})
	f(crlf("INVITE  SIP/2.0\ni: c\n\n"), ErrSIPBadStartLine, map[string]string{"Method": "INVITE", "CallID": "c", "Body": ""})
	f(crlf("INVITE sip:a sip:b SIP/2.0\ni: c\n\n"), ErrSIPBadStartLine, map[string]string{"Method": "INVITE", "CallID": "c", "Body": ""})
	f(crlf("SIP/2.0 20 OK\ni: c\n\n"), ErrSIPBadStartLine, map[string]string{"CallID": "c", "Body": ""})
	f(crlf("SIP/2.0 999 Nope\ni: c\n\n"), ErrSIPBadStartLine, map[string]string{"CallID": "c", "Body": ""})
	f(crlf("SIP/2.0 2000 OK\ni: c\n\n"), ErrSIPBadStartLine, map[string]string{"CallID": "c", "Body": ""})
}

func TestSIPErrorsOrder(t *testing.T) {
	t.Parallel()
	var s SIP
	f := func(msg string, wantErr error, want map[string]string) {
		t.Helper()
		sipTest(t, &s, msg, wantErr, want)
	}
	// A line with no colon is a bad header; later headers are still read.
	f(crlf("OPTIONS sip:h SIP/2.0\nthis is not a header\ni: c\nCSeq: 5 OPTIONS\n\n"), ErrSIPBadHeader, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c",
		"CSeq": "5 OPTIONS", "CSeqNum": "5", "CSeqMethod": "OPTIONS", "Body": "",
	})
	f(crlf("OPTIONS sip:h SIP/2.0\n: empty name\ni: c\n\n"), ErrSIPBadHeader, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c", "Body": "",
	})
	f(crlf("OPTIONS sip:h SIP/2.0\nCSeq: abc OPTIONS\ni: c\n\n"), ErrSIPBadHeader, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c", "CSeq": "abc OPTIONS", "Body": "",
	})
	f(crlf("OPTIONS sip:h SIP/2.0\nCSeq: 99999999999 OPTIONS\ni: c\n\n"), ErrSIPBadHeader, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c", "CSeq": "99999999999 OPTIONS", "Body": "",
	})
	// The first problem wins: bad header before missing end of headers.
	f(crlf("OPTIONS sip:h SIP/2.0\nbad\ni: c"), ErrSIPBadHeader, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c",
	})
	f(crlf("OPTIONS sip:h SIP/2.0\ni: c\nCSeq: 1 OPTIONS"), ErrSIPTruncated, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c",
		"CSeq": "1 OPTIONS", "CSeqNum": "1", "CSeqMethod": "OPTIONS",
	})
	// No Call-ID, or an empty one.
	f(crlf("REGISTER sip:1.1.1.1:5060 SIP/2.0\nExpires: 3600\n\n"), ErrSIPNoCallID, map[string]string{
		"Method": "REGISTER", "RURI": "sip:1.1.1.1:5060", "RURIDomain": "1.1.1.1", "Body": "",
	})
	f(crlf("REGISTER sip:h SIP/2.0\nCall-ID:  \n\n"), ErrSIPNoCallID, map[string]string{
		"Method": "REGISTER", "RURI": "sip:h", "RURIDomain": "h", "CallID": "", "Body": "",
	})
}

func TestSIPConfigure(t *testing.T) {
	t.Parallel()
	s, err := NewSIP(&SIPConfig{
		ALegHeaders:   []string{"X-Leg-Two", "X-CID"},
		CustomHeaders: [3]string{"X-Mac", "", "Subject"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := func(msg string, want map[string]string) {
		t.Helper()
		sipTest(t, s, msg, nil, want)
	}
	// The a-leg list is ordered by preference, not by message order;
	// custom names match any case and compact forms of known headers.
	f(crlf("OPTIONS sip:h SIP/2.0\nx-cid: second-choice\nX-LEG-TWO: first-choice\nx-mac: 00:11\ns: subj\nSubject: later\ni: c\n\n"), map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c",
		"CallIDAleg": "first-choice", "Custom[0]": "00:11", "Custom[2]": "subj", "Body": "",
	})
	f(crlf("OPTIONS sip:h SIP/2.0\nX-CID: only\nX-Macs: no\ni: c\n\n"), map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c", "CallIDAleg": "only", "Body": "",
	})

	for _, bad := range []*SIPConfig{
		{ALegHeaders: []string{""}},
		{ALegHeaders: []string{"X CID"}},
		{CustomHeaders: [3]string{"a:b"}},
		{ALegHeaders: make([]string, MaxALegHeaders+1)},
	} {
		if _, err := NewSIP(bad); err == nil {
			t.Errorf("NewSIP(%+v) accepted an invalid config", bad)
		}
	}
	// The zero value uses the default a-leg header.
	var z SIP
	sipTest(t, &z, crlf("OPTIONS sip:h SIP/2.0\nX-Cid: dflt\ni: c\n\n"), nil, map[string]string{
		"Method": "OPTIONS", "RURI": "sip:h", "RURIDomain": "h", "CallID": "c", "CallIDAleg": "dflt", "Body": "",
	})
}

func TestSIPErrorKind(t *testing.T) {
	t.Parallel()
	kinds := map[string]bool{}
	for _, e := range SIPErrors() {
		k := SIPErrorKind(e)
		if k == "" || k == "other" || kinds[k] {
			t.Errorf("sentinel %v has kind %q (empty, reserved or duplicate)", e, k)
		}
		kinds[k] = true
		if !errors.Is(fmt.Errorf("wrapped: %w", e), e) {
			t.Errorf("errors.Is fails through wrapping for %v", e)
		}
	}
	if SIPErrorKind(nil) != "" || SIPErrorKind(io.EOF) != "other" {
		t.Error("SIPErrorKind of nil or a foreign error")
	}
}

func TestLooksLikeSIP(t *testing.T) {
	t.Parallel()
	f := func(in string, want bool) {
		t.Helper()
		if got := LooksLikeSIP([]byte(in)); got != want {
			t.Errorf("LooksLikeSIP(%q) = %v, want %v", in, got, want)
		}
	}
	f("INVITE sip:b@h SIP/2.0\r\n", true)
	f("INVITE sip:b@h SIP/2.0\nVia: x", true)
	f("SIP/2.0 200 OK\r\n", true)
	f("SIP/2.0 100\r\n", true)
	f("INVITE sip:b@h SIP/2.0", false) // line not complete yet
	f("GET / HTTP/1.1\r\n", false)
	f("HTTP/1.1 200 OK\r\n", false)
	f("\r\nINVITE sip:b@h SIP/2.0\r\n", false)
	f("ip:b@h SIP/2.0\r\nVia: x\r\n", false)
	f("", false)
	f("SIP/2.0 2000 OK\r\n", false)
	f(strings.Repeat("A", maxStartLine)+" sip:h SIP/2.0\r\n", false)
}

// emptyAnywhere forgets where the empty, non-nil fields point: an empty
// Body cut from a capped message points at the message (the compiler keeps
// a slice of capacity 0 at its base), cut from a stream at the body's place.
func emptyAnywhere(spans []sipSpan) []sipSpan {
	for i := range spans {
		if spans[i].len == 0 && !spans[i].isNil {
			spans[i].off = 0
		}
	}
	return spans
}

// TestDecodeStream frames and decodes back-to-back messages, cut at every
// byte, and gives the fields DecodeFrom gives on each message alone.
func TestDecodeStream(t *testing.T) {
	t.Parallel()
	msg := crlf("INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nCall-ID: c\nContent-Length: 5\n\nhello")
	next := crlf("SIP/2.0 100 Trying\ni: d\nl: 0\n\n")
	noCL := crlf("OPTIONS sip:h SIP/2.0\ni: e\n\n")
	stream := msg + next + noCL + "rest of a stream"
	var s, want SIP
	pos := 0
	for _, m := range []string{msg, next, noCL} {
		for cut := pos; cut < pos+len(m); cut++ {
			if err := s.DecodeStream([]byte(stream[pos:cut])); err != ErrSIPIncomplete {
				t.Fatalf("%q: %v, want ErrSIPIncomplete", stream[pos:cut], err)
			}
		}
		in := []byte(stream)
		if err := s.DecodeStream(in[pos:]); err != nil || len(s.Msg) != len(m) {
			t.Fatalf("at %d: %v, Msg %d bytes; want nil and %d", pos, err, len(s.Msg), len(m))
		}
		if err := want.DecodeFrom(in[pos : pos+len(m)]); err != nil {
			t.Fatal(err)
		}
		gs, err := sipSpans(&s, in)
		if err != nil {
			t.Fatal(err)
		}
		ws, _ := sipSpans(&want, in)
		gs, ws = emptyAnywhere(gs), emptyAnywhere(ws)
		if !reflect.DeepEqual(gs, ws) || !reflect.DeepEqual(sipFields(&s), sipFields(&want)) {
			t.Errorf("at %d: DecodeStream %v, DecodeFrom %v", pos, gs, ws)
		}
		pos += len(m)
	}
	if s.ContentLength != -1 || s.Body == nil || len(s.Body) != 0 {
		t.Errorf("without Content-Length: ContentLength %d, Body %q; want -1 and empty", s.ContentLength, s.Body)
	}
	for in, want := range map[string]error{
		"GET / HTTP/1.1\r\n\r\n": ErrNotSIP,
		"\x00\x00":               ErrNotSIP,
		crlf("OPTIONS sip:h SIP/2.0\nContent-Length: x\ni: c\n\n"):    ErrSIPContentLength,
		crlf("OPTIONS sip:h SIP/2.0\nContent-Length: 9\ni: c\n\nabc"): ErrSIPIncomplete,
		crlf("OPTIONS sip:h SIP/2.0\nContent-Length: 3\n\nabc"):       ErrSIPNoCallID,
	} {
		if err := s.DecodeStream([]byte(in)); err != want {
			t.Errorf("DecodeStream(%q) = %v, want %v", in, err, want)
		}
	}
}

func TestSIPMessageLen(t *testing.T) {
	t.Parallel()
	msg := crlf("INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nCall-ID: c\nContent-Length: 5\n\nhello")
	next := crlf("SIP/2.0 100 Trying\nl: 0\n\n")
	f := func(in string, wantN int, wantErr error) {
		t.Helper()
		n, err := SIPMessageLen([]byte(in))
		if n != wantN || err != wantErr {
			t.Errorf("SIPMessageLen(%q) = %d, %v; want %d, %v", in, n, err, wantN, wantErr)
		}
	}
	f(msg, len(msg), nil)
	f(msg+next, len(msg), nil)
	f(next+msg, len(next), nil)
	for i := 0; i < len(msg); i++ {
		f(msg[:i], 0, ErrSIPIncomplete)
	}
	f(crlf("OPTIONS sip:h SIP/2.0\ni: c\n\nrest"), len(crlf("OPTIONS sip:h SIP/2.0\ni: c\n\n")), nil)
	f(crlf("OPTIONS sip:h SIP/2.0\nContent-Length: x\n\n"), 0, ErrSIPContentLength)
	f(crlf("OPTIONS sip:h SIP/2.0\nContent-Length:\n 3\n\nabc"), len(crlf("OPTIONS sip:h SIP/2.0\nContent-Length:\n 3\n\nabc")), nil)
	f("GET / HTTP/1.1\r\n\r\n", 0, ErrNotSIP)
	f("\x00\x00", 0, ErrNotSIP)
	f("\r\n\r\n", 0, ErrNotSIP)

	// Consistent with DecodeFrom on complete messages.
	var s SIP
	if err := s.DecodeFrom([]byte(msg + next)); err != nil {
		t.Fatal(err)
	}
	if len(s.Msg) != len(msg) {
		t.Errorf("DecodeFrom Msg is %d bytes, SIPMessageLen %d", len(s.Msg), len(msg))
	}
}

// sipSharedDir returns the shared pcap folder or skips the test.
func sipSharedDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("APPLIANCE_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared") // module root is ..
	}
	dir = filepath.Join(dir, "testdata", "pcap")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared captures not found at %s (set APPLIANCE_SHARED): %v", dir, err)
	}
	return dir
}

// sipDatagram is one UDP payload of a capture.
type sipDatagram struct {
	frame        int
	sport, dport uint16
	payload      []byte
}

// sipUDPPayloads returns the UDP payloads of a pcap file, in frame order.
func sipUDPPayloads(t testing.TB, path string) []sipDatagram {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r, err := pcapgo.NewReader(fh)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var out []sipDatagram
	for frame := 1; ; frame++ {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s frame %d: %v", path, frame, err)
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			out = append(out, sipDatagram{frame, uint16(u.SrcPort), uint16(u.DstPort), u.Payload})
		}
	}
	return out
}

// isKeepalive reports whether b is only white space or NUL bytes, as the
// keepalives some phones send to port 5060.
func isKeepalive(b []byte) bool {
	return len(bytes.Trim(b, " \t\r\n\x00")) == 0
}

func TestSIPCaptures(t *testing.T) {
	t.Parallel()
	dir := sipSharedDir(t)
	for _, name := range []string{
		"sip-udp-register-auth-invite-cancel-ipv4.pcap",
		"sip-udp-call-rtp-mixed-traffic-ipv4.pcap",
		"sip-udp-t38-fax-options-bye-ipv4.pcap",
		"sip-udp-call-ipv6.pcap",
	} {
		t.Run(name, func(t *testing.T) {
			var s SIP
			decoded := 0
			for _, d := range sipUDPPayloads(t, filepath.Join(dir, name)) {
				if d.sport != 5060 && d.dport != 5060 {
					if LooksLikeSIP(d.payload) {
						t.Errorf("frame %d: SIP start line on ports %d->%d", d.frame, d.sport, d.dport)
					}
					continue
				}
				err := s.DecodeFrom(d.payload)
				if isKeepalive(d.payload) {
					if err != ErrNotSIP {
						t.Errorf("frame %d: keepalive %q gave %v, want ErrNotSIP", d.frame, d.payload, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("frame %d: %v\n%s", d.frame, err, d.payload)
					continue
				}
				decoded++
				if !LooksLikeSIP(d.payload) {
					t.Errorf("frame %d: LooksLikeSIP false", d.frame)
				}
				if n, err := SIPMessageLen(d.payload); err != nil || (s.ContentLength >= 0 && n != len(s.Msg)) {
					t.Errorf("frame %d: SIPMessageLen = %d, %v; Msg is %d bytes", d.frame, n, err, len(s.Msg))
				}
				if len(s.CallID) == 0 || len(s.CSeq) == 0 || len(s.CSeqMethod) == 0 ||
					len(s.FromUser)+len(s.FromDomain) == 0 || len(s.ToUser)+len(s.ToDomain) == 0 ||
					len(s.FromTag) == 0 || len(s.Via1Branch) == 0 {
					t.Errorf("frame %d: missing field\n%s", d.frame, sipDump(&s))
				}
				if s.IsRequest() != (len(s.RURI) > 0) || s.IsRequest() == (s.Status != 0) {
					t.Errorf("frame %d: start line fields inconsistent\n%s", d.frame, sipDump(&s))
				}
				if bytes.Equal(s.CSeqMethod, []byte("INVITE")) && s.IsRequest() && len(s.ContactIP) == 0 {
					t.Errorf("frame %d: INVITE without Contact host\n%s", d.frame, sipDump(&s))
				}
			}
			if decoded == 0 {
				t.Fatal("no SIP message found")
			}
			t.Logf("%d SIP messages", decoded)
		})
	}
}

func TestSIPMalformedCaptures(t *testing.T) {
	t.Parallel()
	dir := sipSharedDir(t)
	f := func(name string, want ...error) {
		t.Helper()
		ds := sipUDPPayloads(t, filepath.Join(dir, name))
		if len(ds) != len(want) {
			t.Fatalf("%s: %d datagrams, want %d", name, len(ds), len(want))
		}
		var s SIP
		for i, d := range ds {
			if err := s.DecodeFrom(d.payload); err != want[i] {
				t.Errorf("%s frame %d: %v, want %v", name, d.frame, err, want[i])
			}
			if want[i] != ErrNotSIP && len(s.Msg) == 0 {
				t.Errorf("%s frame %d: Msg not kept", name, d.frame)
			}
		}
	}
	// 4 NUL bytes, then a REGISTER without Call-ID.
	f("sip-malformed-junk-before-request.pcap", ErrNotSIP, ErrSIPNoCallID)
	// INVITE and 200 with a non-numeric Content-Length.
	f("sip-malformed-invalid-content-length-synthetic.pcap", ErrSIPContentLength, ErrSIPContentLength)
}

func TestSIPGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "sip", "*.sip"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/sip: %v", err)
	}
	s, err := NewSIP(&SIPConfig{CustomHeaders: [3]string{"X-Mac", "IP", "Port"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		in, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		err = s.DecodeFrom(in)
		got := fmt.Sprintf("error: %v\n%s", err, sipDump(s))
		golden := filepath.Join("testdata", "golden", "TestSIPGolden", strings.TrimSuffix(filepath.Base(path), ".sip")+".golden")
		if sipUpdateGolden() {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -run TestSIPGolden -update)", err)
		}
		if got != string(want) {
			t.Errorf("%s: decoded fields differ from %s\ngot:\n%s\nwant:\n%s", path, golden, got, want)
		}
	}
}

// TestSIPWordMasks checks each word-at-a-time classifier against a byte
// predicate: for every byte value at every position of a word, among several
// neighbours, the lowest flagged byte is the first byte of the set (the only
// flag the callers use), and no bit other than a high bit is set. It also
// checks the scanners built on them against the class table, including reads
// past len within cap.
func TestSIPWordMasks(t *testing.T) {
	masks := []struct {
		name string
		mask func(uint64) uint64
		in   func(c byte) bool // the set the mask flags
		cls  func(c byte) bool // the set the scanner stops at; nil: in
		scan func([]byte, int) int
	}{
		{"sipNameStop", sipNameStop, func(c byte) bool { return c == ':' || c < 0x20 }, nil, nil},
		{"hostEndMask", hostEndMask, func(c byte) bool { return c <= ' ' || strings.IndexByte(",:;>?", c) >= 0 },
			func(c byte) bool { return sipClassTable[c]&clsHostEnd != 0 }, scanHostEnd},
		{"hostEndMask/param", hostEndMask, func(c byte) bool { return c <= ' ' || strings.IndexByte(",:;>?", c) >= 0 },
			func(c byte) bool { return sipClassTable[c]&clsParamEnd != 0 }, scanParamEnd},
		{"uriMarkMask", uriMarkMask, func(c byte) bool { return strings.IndexByte("@:;>?", c) >= 0 }, nil, scanURIMark},
	}
	fills := []byte{'a', 'Z', '9', '-', 0x80, ':', 0xff, 0, '@', '`', ' ', ';', 0x21, 0x1f, 0x40}
	for _, mk := range masks {
		for c := 0; c < 256; c++ {
			for pos := 0; pos < 8; pos++ {
				for _, fill := range fills {
					var b [8]byte
					for i := range b {
						b[i] = fill
					}
					b[pos] = byte(c)
					want := -1
					for i := range b {
						if mk.in(b[i]) {
							want = i
							break
						}
					}
					m := mk.mask(binary.LittleEndian.Uint64(b[:]))
					got := -1
					if m != 0 {
						got = bits.TrailingZeros64(m) >> 3
					}
					if got != want {
						t.Fatalf("%s(% x): first flagged byte %d, want %d", mk.name, b[:], got, want)
					}
					if m&^swarHigh != 0 {
						t.Fatalf("%s(% x) = %#x sets bits other than the high ones", mk.name, b[:], m)
					}
					if mk.scan == nil {
						continue
					}
					stop := mk.cls
					if stop == nil {
						stop = mk.in
					}
					// The scanner over every prefix of a 16-byte buffer
					// holding the word twice: the bytes past len(b) may be
					// read but never change the result.
					var buf [16]byte
					copy(buf[:], b[:])
					copy(buf[8:], b[:])
					for n := 0; n <= 16; n++ {
						for from := 0; from <= n; from++ {
							want := n
							for i := from; i < n; i++ {
								if stop(buf[i]) {
									want = i
									break
								}
							}
							if got := mk.scan(buf[:n], from); got != want {
								t.Fatalf("scan for %s(% x [:%d], %d) = %d, want %d", mk.name, buf[:], n, from, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestSIPLookupHeader checks the word-compare header lookup: every known
// name in mixed case, its compact form, and near misses.
func TestSIPLookupHeader(t *testing.T) {
	if got := lookupSIPHeader(nil); got != hdrUnknown {
		t.Errorf("empty name: %d", got)
	}
	for id := hdrUnknown + 1; id < numSIPHdr; id++ {
		name := sipHeaderNames[id]
		for _, variant := range []string{name, strings.ToUpper(name), mixCase(name, 0), mixCase(name, 1)} {
			if got := lookupSIPHeader([]byte(variant)); got != id {
				t.Errorf("%q: got %q", variant, sipHeaderNames[got])
			}
		}
		// Near misses: one byte changed to another token byte, a byte
		// added or removed. None may match this id.
		for i := range len(name) {
			for _, c := range []byte{'x', '_', '1', '.', 'A' + name[i]%26} {
				b := []byte(name)
				if b[i]|0x20 == c|0x20 {
					continue
				}
				b[i] = c
				if got := lookupSIPHeader(b); got == id {
					t.Errorf("%q matches %q", b, name)
				}
			}
		}
		for _, miss := range []string{name + "x", name[1:], name[:len(name)-1], "x" + name} {
			if got := lookupSIPHeader([]byte(miss)); got == id && len(miss) > 1 {
				t.Errorf("%q matches %q", miss, name)
			}
		}
	}
	compact := map[byte]sipHdr{'i': hdrCallID, 'f': hdrFrom, 't': hdrTo, 'v': hdrVia, 'm': hdrContact,
		'l': hdrContentLength, 'c': hdrContentType, 'k': hdrSupported, 's': hdrSubject}
	for c, id := range compact {
		for _, v := range []byte{c, c - 'a' + 'A'} {
			if got := lookupSIPHeader([]byte{v}); got != id {
				t.Errorf("compact %q: got %q", v, sipHeaderNames[got])
			}
		}
	}
	for _, v := range []string{"g", "Z", "1", "-"} {
		if got := lookupSIPHeader([]byte(v)); got != hdrUnknown {
			t.Errorf("%q: got %q", v, sipHeaderNames[got])
		}
	}
}

// mixCase upper-cases every other letter of s, starting at phase.
func mixCase(s string, phase int) string {
	b := []byte(s)
	for i := phase; i < len(b); i += 2 {
		if b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// TestSIPHeaderNameFastPath checks the word-at-a-time name search in
// DecodeFrom against lookupSIPHeader: every known name, full and compact,
// in several cases and with white space before the colon, is recognised as
// a configured custom header, at positions where 8, 16 or 24 bytes follow
// (the fast path) and at the very end of the input (the byte loop). Names
// holding a byte below 0x20 that ORed with 0x20 would spell a known name
// must not be taken for it.
func TestSIPHeaderNameFastPath(t *testing.T) {
	var names []string
	for id := hdrUnknown + 1; id < numSIPHdr; id++ {
		names = append(names, sipHeaderNames[id])
	}
	names = append(names, "i", "F", "x-unknown-header", "a-name-that-is-longer-than-24-bytes")
	for _, name := range names {
		for _, variant := range []string{name, strings.ToUpper(name), mixCase(name, 1), name + " ", name + "\t "} {
			cfg := &SIPConfig{CustomHeaders: [3]string{strings.TrimSpace(variant)}}
			s, err := NewSIP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, tail := range []string{"\r\n\r\n" + strings.Repeat("x", 30), "\r\n\r\n"} {
				msg := "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\n" + variant + ": value\r\n" + tail
				// CSeq and Content-Length reject "value": only the
				// custom field is checked. Call-ID's first value is "1".
				err := s.DecodeFrom([]byte(msg))
				if err == ErrNotSIP || err == ErrSIPBadHeader && sipHeaderNames[hdrCSeq] != name {
					t.Fatalf("%q: %v", msg, err)
				}
				want := "value"
				if name == "call-id" || name == "i" {
					want = "1"
				}
				if string(s.Custom[0]) != want {
					t.Errorf("%q: custom header %q, want %q", msg, s.Custom[0], want)
				}
			}
		}
	}
	for _, bad := range []string{"Call\rID", "Call\x0dID", "X-RTP-Stat-T\x13\x18", "Via\x00", "\x16ia"} {
		msg := "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\n" + bad + ": value\r\n\r\n" + strings.Repeat("x", 30)
		var s SIP
		if err := s.DecodeFrom([]byte(msg)); err != ErrSIPBadHeader {
			t.Errorf("%q: err %v, want %v", bad, err, ErrSIPBadHeader)
		}
		if string(s.CallID) != "1" || s.Via1 != nil {
			t.Errorf("%q: Call-ID %q Via %q", bad, s.CallID, s.Via1)
		}
	}
}

// TestFindParamFastPath checks findParam's one-word compare against its
// token-by-token path (a key whose word never matches) on parameter lists
// cut at every length, with bytes after the cut inside the capacity that
// would match if they were read as part of the list.
func TestFindParamFastPath(t *testing.T) {
	lists := []string{
		";tag=abc", ";TAG=abc", ";Tag=a.b-c!%*_+`'~", ";tag=\"quoted;x\"", "; tag=abc", ";tag =abc",
		";tag= abc", ";tag=\tabc", ";tagx=1;tag=2", ";ta", ";tag", ";tag=", ";tag\x1dabc", ";t\x01g=abc",
		";taG=abc>;x", ";tag=a,b", ";tag=a?b", ";tag=a:b;c", ";tag=a b", ";user=phone;tag=xyz",
		";branch=z9hG4bK1;rport", ";BRANCH=z9hG4bK1", ";branc=1;branch=2", ";branch=\"q\"",
		";branchx=1", ";branch", ";branch= x", "", ";", ";;tag=1", ";tag=abcdefghijklmnopqrstuvwxyz0123456789",
		"x;tag=1", ";lr;tag=1", ";tag=1;tag=2", ";Tag=\x80\xff", ";tag=;x",
		";received=1.2.3.4;rport=5060;branch=z9", ";Transport=udp;TAG=1", ";t=1;tag=2", ";TAGX=1;tag=2",
		";ta;tag=3", ";br=1;bRanch=2", ";-x=1;tag=4", ";~;tag=5", ";brancH;branch=6",
	}
	for _, key := range []paramKey{tagKey, branchKey} {
		slow := paramKey{name: key.name, word: 1} // (w|0)&0 is never 1
		for _, l := range lists {
			for cut := 0; cut <= len(l); cut++ {
				for _, after := range []string{"", "tag=zz", "branch=zz", "=", "\"", " "} {
					buf := []byte(l[:cut] + after)
					p := buf[:cut]
					got, want := findParam(p, &key), findParam(p, &slow)
					if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
						t.Errorf("findParam(%q (then %q), %q) = %q, token path gives %q", p, after, key.name, got, want)
					}
				}
			}
		}
	}
}

// TestQuoted checks quoted's search for the closing quote against a plain
// loop over every string of up to six bytes from a small alphabet.
func TestQuoted(t *testing.T) {
	ref := func(b []byte) []byte {
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return b[:i]
			}
		}
		return b
	}
	alphabet := []byte{'a', '"', '\\', ' '}
	var walk func(b []byte)
	walk = func(b []byte) {
		if got, want := quoted(b), ref(b); !bytes.Equal(got, want) {
			t.Fatalf("quoted(%q) = %q, want %q", b, got, want)
		}
		if len(b) == 6 {
			return
		}
		for _, c := range alphabet {
			walk(append(b, c))
		}
	}
	walk(nil)
}

// TestSplitHostPortPorts checks the port digits: up to five make a port
// below 65536, anything else gives 0 and leaves the host alone.
func TestSplitHostPortPorts(t *testing.T) {
	for in, want := range map[string]uint16{
		"h:5060": 5060, "h:0": 0, "h:65535": 65535, "h:65536": 0, "h:99999": 0, "h:123456": 0,
		"h:1234567": 0, "h:": 0, "h:x": 0, "h:5060;transport=udp": 5060, "h:05060": 5060, "h": 0,
		"[::1]:5061": 5061, "h:50a": 50, "h:000001": 0,
	} {
		host, port := splitHostPort([]byte(in))
		if port != want || !strings.HasPrefix(in, string(host)) || strings.ContainsAny(string(host), ":;") && host[0] != '[' {
			t.Errorf("splitHostPort(%q) = %q, %d; want port %d", in, host, port, want)
		}
	}
}

// TestCSeqMethodWord checks the one-word test for a capitals-only method
// against the byte loop, for methods of every length up to nine bytes built
// from letters of both cases, the bytes around 'A' and 'Z', token
// punctuation, a space and bytes above 0x7f, with other bytes after the
// method within the capacity.
func TestCSeqMethodWord(t *testing.T) {
	alphabet := []byte("AZMazm@[`{09-!~ \x80\xc1\xff")
	r := rand.New(rand.NewPCG(13, 14))
	for round := 0; round < 200000; round++ {
		n := 1 + r.IntN(9)
		method := make([]byte, n)
		for i := range method {
			method[i] = alphabet[r.IntN(len(alphabet))]
		}
		if r.IntN(2) == 0 { // mostly capitals, so the word test passes often
			for i := range method {
				method[i] = 'A' + byte(r.IntN(26))
			}
			if r.IntN(3) == 0 {
				method[r.IntN(n)] = alphabet[r.IntN(len(alphabet))]
			}
		}
		after := make([]byte, r.IntN(10))
		for i := range after {
			after[i] = byte(r.Uint32())
		}
		buf := append(append([]byte("7 "), method...), after...)
		v := buf[:2+n]
		m := bytes.TrimLeft(method, " \t") // white space after the number is skipped
		want := len(m) > 0
		for _, c := range m {
			want = want && tokenTable[c]
		}
		var s SIP
		err := s.cseq(v)
		if got := err == nil; got != want || (got && (s.CSeqNum != 7 || string(s.CSeqMethod) != string(m))) {
			t.Fatalf("cseq(%q, then %q) = %v, %d %q; want ok %v", v, after, err, s.CSeqNum, s.CSeqMethod, want)
		}
	}
}
