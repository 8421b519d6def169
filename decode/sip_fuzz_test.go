package decode

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// FuzzSIP checks the SIP decoder's invariants on arbitrary input: no panic;
// every byte-slice field (on success and on error) lies inside the input;
// decoding twice, into the same value or a fresh one, gives identical fields;
// errors are the package's sentinels; ErrNotSIP leaves nothing filled;
// LooksLikeSIP, SIPMessageLen and DecodeStream agree with DecodeFrom.
func FuzzSIP(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "sip", "*.sip"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "\r\n", "SIP/2.0 200 OK\r\ni: c\r\n\r\n",
		"INVITE sip:a@[::1]:5060 SIP/2.0\r\nv: SIP/2.0/UDP [::1];branch=x\r\nm: <sip:[::1]>\r\ni: c\r\nl: 3\r\n\r\nabcdef",
		"ACK sip:h SIP/2.0\nf: \"\\\"<\" <tel:1>;tag=\nt: sip:x\n ;tag=y\ni: c\n\n",
		"OPTIONS sip:h SIP/2.0\r\nAuthorization: Digest username=\"a\\\"b\", x\r\nX-OIP: [2001:db8::1\r\ni: c\r\nContent-Length: 99\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	cfg := &SIPConfig{ALegHeaders: []string{"X-CID", "X-Leg"}, CustomHeaders: [3]string{"X-Mac", "Subject", "v"}}
	sentinel := map[error]bool{}
	for _, e := range SIPErrors() {
		sentinel[e] = true
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := NewSIP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err1 := s.DecodeFrom(in)
		if err1 != nil && (!sentinel[err1] || err1 == ErrSIPIncomplete) {
			t.Fatalf("DecodeFrom returned %v, not a DecodeFrom sentinel", err1)
		}
		spans1, err := sipSpans(s, in)
		if err != nil {
			t.Fatalf("%v (error %v)", err, err1)
		}
		fields1 := sipFields(s)
		switch {
		case err1 == ErrNotSIP:
			sipCheckReset(t, s)
		case len(s.Msg) == 0 && len(in) > 0 || len(s.Msg) > 0 && &s.Msg[0] != &in[0]:
			t.Fatalf("Msg does not start at the input (error %v)", err1)
		}
		if err1 == nil && len(s.CallID) == 0 {
			t.Fatal("success without Call-ID")
		}

		// Same value again, then a fresh value, then one that uses the
		// portable parsers only (on amd64 with AVX2 the others are the
		// assembly ones of sipmask.go).
		for round, d := range []*SIP{s, {m: s.m}, {m: s.m, generic: true}} {
			if err2 := d.DecodeFrom(in); err2 != err1 {
				t.Fatalf("round %d: error %v, first decode %v", round, err2, err1)
			}
			spans2, _ := sipSpans(d, in)
			want := spans1
			if d.generic {
				// An empty slice's position means nothing, and slicing to
				// zero capacity does not move the pointer: the two paths
				// may leave an empty field at different places.
				want, spans2 = emptyAnywhere(slices.Clone(spans1)), emptyAnywhere(spans2)
			}
			if !reflect.DeepEqual(want, spans2) || !reflect.DeepEqual(fields1, sipFields(d)) {
				t.Fatalf("round %d: fields differ between decodes", round)
			}
		}

		if LooksLikeSIP(in) && (err1 == ErrNotSIP || err1 == ErrSIPBadStartLine) {
			t.Fatalf("LooksLikeSIP true but DecodeFrom says %v", err1)
		}
		n, lerr := SIPMessageLen(in)
		if err1 == nil && s.ContentLength >= 0 && (lerr != nil || n != len(s.Msg)) {
			t.Fatalf("SIPMessageLen = %d, %v; DecodeFrom Msg is %d bytes", n, lerr, len(s.Msg))
		}
		if lerr == nil {
			if n <= 0 || n > len(in) {
				t.Fatalf("SIPMessageLen = %d for %d bytes", n, len(in))
			}
			var p SIP
			perr := p.DecodeFrom(in[:n])
			if perr == ErrNotSIP || perr == ErrSIPTruncated || perr == ErrSIPContentLength {
				t.Fatalf("SIPMessageLen framed %d bytes that DecodeFrom rejects with %v", n, perr)
			}
			if len(p.Msg) != n {
				t.Fatalf("framed %d bytes, DecodeFrom Msg is %d", n, len(p.Msg))
			}
		} else if lerr != ErrSIPIncomplete && lerr != ErrNotSIP && lerr != ErrSIPContentLength {
			t.Fatalf("SIPMessageLen returned %v", lerr)
		}

		// DecodeStream frames as SIPMessageLen does and decodes as
		// DecodeFrom does on exactly the framed bytes.
		st := &SIP{m: s.m}
		serr := st.DecodeStream(in)
		if lerr != nil {
			if serr != lerr {
				t.Fatalf("DecodeStream returned %v, SIPMessageLen %v", serr, lerr)
			}
			return
		}
		if serr == ErrSIPIncomplete || serr == ErrNotSIP || serr == ErrSIPContentLength {
			t.Fatalf("DecodeStream returned %v, SIPMessageLen framed %d bytes", serr, n)
		}
		if len(st.Msg) != n {
			t.Fatalf("DecodeStream Msg is %d bytes, SIPMessageLen framed %d", len(st.Msg), n)
		}
		q := &SIP{m: s.m}
		qerr := q.DecodeFrom(in[:n])
		if serr != qerr {
			t.Fatalf("DecodeStream returned %v, DecodeFrom on the framed bytes %v", serr, qerr)
		}
		sspans, _ := sipSpans(st, in)
		qspans, _ := sipSpans(q, in)
		sspans, qspans = emptyAnywhere(sspans), emptyAnywhere(qspans)
		if !reflect.DeepEqual(sspans, qspans) || !reflect.DeepEqual(sipFields(st), sipFields(q)) {
			t.Fatalf("DecodeStream and DecodeFrom on the framed bytes differ:\n%v\n%v", sspans, qspans)
		}
	})
}
