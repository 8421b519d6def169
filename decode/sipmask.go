package decode

import "unsafe"

// The From, To, Contact and Via values and the Request-URI with fewer
// searches, on amd64 with AVX2, BMI1 and BMI2 (bytesconv_amd64.s).
//
// splitNameAddr, splitURI, splitHostPort and findParam each search the
// value again, with a call per search: about ten calls for a From value,
// each on the path to the next. nameAddrAVX2 marks the bytes those searches
// stop at in the value's first 64 bytes and finds each position from the
// marks, in one call. It takes the forms agents write
//
//	<sip:user@host:port;uri-params>;tag=x;...
//	"Display Name" <sip:...>;...
//	Display Name <sip:...>;...
//	sip:user@host;tag=x
//
// and reports false for anything else: a URI that does not end within the
// first 64 bytes, a scheme other than sip or sips, an IPv6 host, a
// backslash or a control byte other than SP in those bytes, SP at either
// end or where the general functions would skip white space. The general
// functions then decode the value. viaAVX2 does the same for firstValue and
// findParam on a Via value, over 128 bytes. The results are the general
// functions', byte for byte and slice for slice: TestNameAddrFast,
// TestFirstVia, TestURIFast, FuzzNameAddr, FuzzFirstVia; FuzzSIP,
// TestDecodeFromLineEnds and TestPathSharedCaptures compare whole messages
// decoded with and without them (SIP.generic).

// nameAddrPos is where nameAddrAVX2 found the parts of a value v.
type nameAddrPos struct {
	userS, userE int32 // v[userS:userE] is the URI's user; userS < 0: none
	hs, he       int32 // v[hs:he] is its host
	port         int32 // its port, 0 when absent or invalid
	pb           int32 // v[pb:] is what splitNameAddr returns after the URI
	// v[tagS:tagE] is the tag; tagS < 0: findParam(v[pb:]) decides;
	// tagE < 0: the tag runs on past the window, to scanParamEnd.
	tagS, tagE int32
}

// take fills r from nameAddrAVX2 for the name-addr value v (or with bare,
// the URI v) and reports whether it took v; it is small enough to be inlined
// where the fields are stored, so that taking a value costs one call.
func (r *nameAddrPos) take(v []byte, bare, generic bool) bool {
	return useAVX2 && !generic && len(v) > 0 && nameAddrAVX2(v[:cap(v)], len(v), r, bare)
}

// user and host return the URI's user (nil when it has none) and host in v.
func (r *nameAddrPos) user(v []byte) []byte {
	if r.userS < 0 {
		return nil
	}
	return v[r.userS:r.userE]
}

func (r *nameAddrPos) host(v []byte) []byte { return v[r.hs:r.he] }

// tag returns findParam's tag of the parameters after the URI in v.
func (r *nameAddrPos) tag(v []byte) []byte {
	switch {
	case r.tagS < 0:
		return findParam(v[r.pb:], &tagKey)
	case r.tagE < 0:
		return v[r.tagS:scanParamEnd(v, int(max(r.tagS, 64)))]
	}
	return v[r.tagS:r.tagE]
}

// viaPos is where viaAVX2 found the parts of a Via value v.
type viaPos struct {
	e1       int32 // v[:e1] is firstValue(v)
	brS, brE int32 // v[brS:brE] is its branch; brS < 0: none
}

// take fills r from viaAVX2 for the Via value v and reports whether it took
// v (see firstVia).
func (r *viaPos) take(v []byte, generic bool) bool {
	return useAVX2 && !generic && len(v) > 0 && viaAVX2(v[:cap(v)], len(v), r)
}

// branch returns the branch parameter of the first value in v, nil when
// there is none.
func (r *viaPos) branch(v []byte) []byte {
	if r.brS < 0 {
		return nil
	}
	return v[r.brS:r.brE]
}

// sipLinesMax is how many header lines one sipLinesAVX2 call records.
const sipLinesMax = 16

// sipLine is a header line as sipLinesAVX2 records it: the line starts at
// start with a name of nameLen bytes that ends at the colon, the name's id
// is id, and data[vs:ve] is its value without the white space DecodeFrom
// trims. first is set when the line is the first of its id among the
// fields' headers (the bit was in unfilled), which known fills from. The
// assembly writes its first 15 bytes by offset (go_asm.h).
type sipLine struct {
	vs, ve, start uint32
	nameLen, id   uint8
	first         bool
	_             uint8
}

// The assembly relies on these sizes.
var (
	_ [16 - unsafe.Sizeof(sipLine{})]struct{}
	_ [unsafe.Sizeof(sipLine{}) - 16]struct{}
	_ [32 - unsafe.Sizeof(sipNameEntry{})]struct{}
	_ [unsafe.Sizeof(sipNameEntry{}) - 32]struct{}
)
