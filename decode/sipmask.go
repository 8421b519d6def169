package decode


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
	userS, userE int // v[userS:userE] is the URI's user; userS < 0: none
	hs, he       int // v[hs:he] is its host
	port         int // its port, 0 when absent or invalid
	pb           int // v[pb:] is what splitNameAddr returns after the URI
	// v[tagS:tagE] is the tag; tagS < 0: findParam(v[pb:]) decides;
	// tagE < 0: the tag runs on past the window, to scanParamEnd.
	tagS, tagE int
}

// nameAddr is splitNameAddr and splitURI on its URI, and findParam for the
// tag when withTag is set, from nameAddrAVX2; ok is false when it did not
// take the value (see above).
func nameAddr(v []byte, withTag, generic bool) (user, host []byte, port uint16, tag []byte, ok bool) {
	var r nameAddrPos
	if !useAVX2 || generic || len(v) == 0 || !nameAddrAVX2(v[:cap(v)], len(v), &r, false) {
		return nil, nil, 0, nil, false
	}
	if r.userS >= 0 {
		user = v[r.userS:r.userE]
	}
	host, port = v[r.hs:r.he], uint16(r.port)
	if withTag {
		switch {
		case r.tagS < 0:
			tag = findParam(v[r.pb:], &tagKey)
		case r.tagE < 0:
			tag = v[r.tagS:scanParamEnd(v, max(r.tagS, 64))]
		default:
			tag = v[r.tagS:r.tagE]
		}
	}
	return user, host, port, tag, true
}

// uri is splitURI(u) for a sip: or sips: URI of at most 64 bytes in the
// forms nameAddr takes, from nameAddrAVX2; ok is false when it did not take
// u or generic is set.
func uri(u []byte, generic bool) (user, host []byte, port uint16, ok bool) {
	var r nameAddrPos
	if !useAVX2 || generic || len(u) == 0 || !nameAddrAVX2(u[:cap(u)], len(u), &r, true) {
		return nil, nil, 0, false
	}
	if r.userS >= 0 {
		user = u[r.userS:r.userE]
	}
	return user, u[r.hs:r.he], uint16(r.port), true
}

// viaPos is where viaAVX2 found the parts of a Via value v.
type viaPos struct {
	e1       int // v[:e1] is firstValue(v)
	brS, brE int // v[brS:brE] is its branch; brS < 0: none
}

// firstVia is firstValue(v) and findParam on it for branch, from viaAVX2;
// ok is false when generic is set or it did not take the value: the first value does not end
// within the first 128 bytes, holds a '"' before its ',' or white space at
// an end, or findParam would walk a parameter token by token.
func firstVia(v []byte, generic bool) (via1, branch []byte, ok bool) {
	var r viaPos
	if !useAVX2 || generic || len(v) == 0 || !viaAVX2(v[:cap(v)], len(v), &r) {
		return nil, nil, false
	}
	via1 = v[:r.e1]
	if r.brS >= 0 {
		branch = via1[r.brS:r.brE]
	}
	return via1, branch, true
}
