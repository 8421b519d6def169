package decode

//go:generate go run sipheader_generate.go

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
)

// SIP is a parsed SIP message. Byte-slice fields alias the input passed to
// DecodeFrom and are valid only until the next DecodeFrom or Reset, or until the
// ring block holding the input is released. Values are the bytes of the message
// as they are on the wire: no case folding, no unescaping. A folded header
// value keeps its CRLF and leading white space (they are bytes of the message).
// A SIP must not be copied or used from more than one goroutine.
//
// The zero value is ready to use with the default configuration (a-leg header
// X-CID, no custom headers); Configure or NewSIP set another one.
type SIP struct {
	noCopy noCopySIP

	// Msg is the whole message: start line, headers and body. On UDP a
	// datagram may carry bytes after the body; Msg stops at the body end given
	// by Content-Length, or runs to the end of the input when there is none.
	Msg []byte

	// Request line; Method is nil for replies.
	Method []byte
	RURI   []byte
	// RURIUser and RURIDomain are the user and host parts of the Request-URI.
	// For a tel: URI the user is the number and the domain is nil. An IPv6
	// host keeps its brackets ("[2001:db8::1]"), as on the wire.
	RURIUser, RURIDomain []byte

	// Status line; Status is 0 and StatusCode nil for requests.
	Status      uint16
	StatusCode  []byte // the three digits as on the wire ("200")
	ReplyReason []byte

	// From and To URI user and host (IPv6 hosts keep their brackets) and the
	// tag header parameter.
	FromUser, FromDomain, FromTag []byte
	ToUser, ToDomain, ToTag       []byte
	// PIDUser is the user of P-Asserted-Identity, else P-Preferred-Identity,
	// else Remote-Party-ID.
	PIDUser []byte
	// First Contact URI: user, host and port (0 when absent). ContactIP is
	// the host without the brackets of an IPv6 reference, so that
	// netip.ParseAddr accepts it; it may also be a host name.
	ContactUser, ContactIP []byte
	ContactPort            uint16
	// Auth is the Authorization or Proxy-Authorization value (Authorization
	// wins when both are present); AuthUser its username parameter without
	// the quotes.
	Auth, AuthUser []byte

	CallID     []byte
	CallIDAleg []byte // first present header of the configured a-leg list

	Via1       []byte // the first via (one value even when a line holds several)
	Via1Branch []byte

	CSeq       []byte // "1 INVITE"
	CSeqNum    uint32
	CSeqMethod []byte

	Diversion   []byte
	Reason      []byte
	ContentType []byte
	UserAgent   []byte // User-Agent, or Server when there is no User-Agent

	// X-OIP header: host (IPv6 without brackets) and port.
	OriginatorIP   []byte
	OriginatorPort uint16

	Custom  [3][]byte // values of the configured custom headers
	RTPStat []byte    // first present of the RTP statistics headers

	// ContentLength is the Content-Length value, -1 when absent or invalid.
	ContentLength int
	Body          []byte

	// rank+1 of the header that filled a prioritised field; 0 = none yet.
	pidRank, uaRank, authRank, rtpRank, alegRank uint8
	// badCL is set when Content-Length is not a number; badHdr when a header
	// line has no name and colon or CSeq is not "number method". DecodeFrom's
	// header loop records ErrSIPBadHeader here, not in a local, so that no
	// flag has to be kept live across its calls.
	badCL, badHdr bool
	// generic makes DecodeFrom use the portable parsers only, not the
	// assembly ones of sipmask.go; tests compare the two.
	generic bool

	m *sipMatcher // compiled configuration; nil means the defaults
}

// noCopySIP makes go vet's copylocks check flag copies of a SIP.
type noCopySIP struct{}

func (*noCopySIP) Lock()   {}
func (*noCopySIP) Unlock() {}

// SIPError is the type of the SIP decoder's sentinel errors. Compare with
// errors.Is or ==; Kind gives a short stable name for a metric label.
type SIPError struct {
	kind, msg string
}

// Error returns the error text.
func (e *SIPError) Error() string { return e.msg }

// Kind returns a short stable name such as "not_sip" or "truncated".
func (e *SIPError) Kind() string { return e.kind }

// Sentinel errors of DecodeFrom, DecodeStream, SIPMessageLen and
// LooksLikeSIP. Each has a distinct Kind. ErrNotSIP means the input is not
// SIP at all; the others mean SIP that is malformed (or, for
// ErrSIPIncomplete, not complete yet).
var (
	// ErrNotSIP: the first line is neither a SIP request line nor a SIP
	// status line (HTTP, binary junk, a keepalive CRLF, an empty input).
	ErrNotSIP = &SIPError{"not_sip", "decode: not a SIP message"}
	// ErrSIPBadStartLine: the first line names a SIP version but is
	// malformed (bad method characters, no Request-URI, status code not
	// three digits in 100-699).
	ErrSIPBadStartLine = &SIPError{"bad_start_line", "decode: sip: malformed start line"}
	// ErrSIPTruncated: the headers do not end with an empty line.
	ErrSIPTruncated = &SIPError{"truncated", "decode: sip: no end of headers"}
	// ErrSIPBadHeader: a header line has no name or no colon, or CSeq is not
	// "number method".
	ErrSIPBadHeader = &SIPError{"bad_header", "decode: sip: malformed header"}
	// ErrSIPContentLength: Content-Length is not a number, or says more than
	// the input holds.
	ErrSIPContentLength = &SIPError{"content_length", "decode: sip: invalid content-length or body shorter than content-length"}
	// ErrSIPNoCallID: there is no Call-ID header, or it is empty.
	ErrSIPNoCallID = &SIPError{"no_call_id", "decode: sip: missing call-id"}
	// ErrSIPIncomplete: SIPMessageLen or DecodeStream needs more bytes to
	// see a whole message.
	ErrSIPIncomplete = &SIPError{"incomplete", "decode: sip: incomplete message"}
)

// SIPErrors returns every sentinel error of the SIP decoder, for example to
// pre-register one metric series per Kind.
func SIPErrors() []*SIPError {
	return []*SIPError{ErrNotSIP, ErrSIPBadStartLine, ErrSIPTruncated, ErrSIPBadHeader,
		ErrSIPContentLength, ErrSIPNoCallID, ErrSIPIncomplete}
}

// SIPErrorKind returns err's Kind when err is one of the SIP sentinels, "" for
// nil and "other" for anything else.
func SIPErrorKind(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := err.(*SIPError); ok {
		return e.kind
	}
	return "other"
}

// Reset clears every field; the configuration is kept.
func (s *SIP) Reset() {
	*s = SIP{m: s.m, generic: s.generic, ContentLength: -1}
}

// IsRequest reports whether the last decoded message is a request.
func (s *SIP) IsRequest() bool { return s.Method != nil }

// DecodeFrom parses one SIP message from data, which on UDP is the whole
// datagram payload. It calls Reset first and keeps no reference to data
// other than through the fields.
//
// On error DecodeFrom still fills what it could read, so a caller may store a
// malformed message:
//   - ErrNotSIP: nothing is filled (all fields as after Reset).
//   - any other error: Msg is set (the whole input, or up to the body end when
//     Content-Length is valid and satisfied), the start-line fields that
//     parsed and every header field found are filled. With ErrSIPTruncated
//     Body is nil; with ErrSIPContentLength Body is what follows the headers
//     and ContentLength is the declared value (or -1 if not a number).
//
// When several problems are present the first one met in the message is
// returned (start line, headers in order, end of headers, body), then
// ErrSIPNoCallID.
func (s *SIP) DecodeFrom(data []byte) error {
	s.Reset()
	m := s.m
	if m == nil {
		m = &defaultSIPMatcher
	}
	// The eight-byte scanners read up to seven bytes past a value within its
	// capacity (see doc.go); capping the input keeps those reads inside the
	// message, whatever buffer the caller's slice belongs to. (The SSE2 forms
	// on amd64 read within the value's pages instead; neither decides on
	// those bytes.)
	data = data[:len(data):len(data)]

	pos := len(data)
	line := data
	if eol := bytes.IndexByte(data, '\n'); eol >= 0 {
		line, pos = data[:eol], eol+1
	}
	var sl sipStartLine
	err := sl.parse(trimCR(line))
	if err == ErrNotSIP {
		return ErrNotSIP
	}
	s.Method, s.RURI = sl.method, sl.ruri
	s.Status, s.StatusCode, s.ReplyReason = sl.status, sl.code, sl.reason
	if s.RURI != nil {
		if r := (nameAddrPos{}); r.take(s.RURI, true, s.generic) {
			s.RURIUser, s.RURIDomain = r.user(s.RURI), r.host(s.RURI)
		} else {
			s.RURIUser, s.RURIDomain, _ = splitURI(s.RURI)
		}
	}

	hdrEnd := -1
	unfilled := uint64(sipFieldHeaders) // first occurrence wins
	// sipLinesAVX2 walks runs of common header lines and records the ones
	// with fields to fill; every line it stops at goes through the loop's
	// own code below, one line per turn. The 32-bit offsets of its records
	// cover any message the decoder is given (a datagram, a stream's
	// bounded buffer).
	walk := useAVX2 && !s.generic && len(data) <= math.MaxInt32
	var lines [sipLinesMax]sipLine
	for pos < len(data) {
		if walk {
			var n int
			n, pos, unfilled = sipLinesAVX2(data, pos, &lines, unfilled, m.idMask)
			for i := range lines[:n] {
				l := &lines[i]
				v := data[l.vs:l.ve]
				if m.idMask&(1<<(l.id&63)) != 0 {
					s.extra(m, sipHdr(l.id), data[l.start:l.start+uint32(l.nameLen)], v)
				}
				if l.first {
					s.known(sipHdr(l.id), v)
				}
			}
		}
		if c := data[pos]; c == '\n' {
			hdrEnd = pos + 1
			break
		} else if c == '\r' && pos+1 < len(data) && data[pos+1] == '\n' {
			hdrEnd = pos + 2
			break
		}
		start := pos
		// End of the logical line: the LF not followed by SP or HT (a fold).
		// The search starts at the line start, not after the name (a name
		// holds no LF), so that the next line's position depends on this
		// search alone and not on the name scan as well.
		// A fold is rare: sipHeaderLine finds the end of a folded line, out of
		// the loop, so that the common case keeps fewer values live across
		// the search.
		end, next := len(data), len(data)
		if nl := bytes.IndexByte(data[pos:], '\n'); nl >= 0 {
			next = pos + nl + 1
			end = next - 1
			if next < len(data) && (data[next] == ' ' || data[next] == '\t') {
				var cont []byte
				cont, next = sipHeaderLine(data, end+1)
				end += 1 + len(cont)
			}
		}
		// Name, optional SP/HT, colon: i ends at the colon. The fast path finds
		// a colon within the first 24 bytes a word at a time, stopping at any
		// byte below 0x20, and looks the name up by those words. The byte loop
		// below decides the rest: names followed by white space or longer than
		// 23 bytes, unknown names with bytes that are not token bytes,
		// malformed lines, the last bytes of the input.
		// colon is 0 until the colon is found: a header line starts after the
		// start line's LF. One value for "found" and "where" spares the
		// compiler merging a flag and two positions from three paths.
		colon := 0
		id := hdrUnknown
		var k0, k1, k2 uint64
		k := 0
		if pos+8 <= len(data) {
			w := binary.LittleEndian.Uint64(data[pos : pos+8])
			// The key keeps the bytes below the lowest flag (m's lowest bit
			// is the top bit of the stop byte): (m&-m)>>7 - 1 selects them
			// without the table load or the count the key would wait for.
			if m := sipNameStop(w); m != 0 {
				k0, k = (w|nameFold)&((m&-m)>>7-1), bits.TrailingZeros64(m)>>3
			} else if pos+16 <= len(data) {
				k0 = w | nameFold
				w = binary.LittleEndian.Uint64(data[pos+8 : pos+16])
				if m := sipNameStop(w); m != 0 {
					k1, k = (w|nameFold)&((m&-m)>>7-1), 8+bits.TrailingZeros64(m)>>3
				} else if pos+24 <= len(data) {
					k1 = w | nameFold
					w = binary.LittleEndian.Uint64(data[pos+16 : pos+24])
					if m := sipNameStop(w); m != 0 {
						k2, k = (w|nameFold)&((m&-m)>>7-1), 16+bits.TrailingZeros64(m)>>3
					}
				}
			}
		}
		if k > 0 && data[pos+k] == ':' {
			e := &sipNameEntries[sipNameHash(k0, k1, k2)]
			if e.k0 == k0 && e.k1 == k1 && e.k2 == k2 {
				id, colon = e.id, pos+k
			} else if isTokenBytes(data[pos : pos+k]) {
				colon = pos + k
			}
		}
		nameEnd := colon
		if colon == 0 {
			// None of these scans can pass a LF.
			i := pos
			for i < len(data) && tokenTable[data[i]] {
				i++
			}
			nameEnd = i
			for i < len(data) && (data[i] == ' ' || data[i] == '\t') {
				i++
			}
			if nameEnd == pos || i == len(data) || data[i] != ':' {
				if len(trimLWS(data[pos:end])) != 0 {
					s.badHdr = true
				}
				pos = next
				continue
			}
			colon = i
			id = lookupSIPHeader(data[start:nameEnd])
		}
		pos = next
		// id < numSIPHdr <= 64; the &63 spares the compiler's shift check.
		// unfilled has the bits of the field headers not met yet; idMask the
		// configured names' ids, and bit 0 (hdrUnknown) when an unknown name
		// is configured, decided by its length first.
		bit := uint64(1) << (id & 63)
		if (unfilled|m.idMask)&bit == 0 {
			continue
		}
		// The value without white space at either end: usually one SP after
		// the colon and the CR of the line end, tested first.
		v := data[colon+1 : end]
		if len(v) > 0 && v[0] == ' ' {
			v = v[1:]
		}
		if len(v) > 0 && v[len(v)-1] == '\r' {
			v = v[:len(v)-1]
		}
		if len(v) > 0 && (v[0] <= ' ' || v[len(v)-1] <= ' ') { // LWS is SP HT CR LF
			v = trimLWS(v)
		}
		// extra goes first: after known, only what the next line needs is
		// live. The two fill different fields, so the order changes nothing.
		if m.idMask&bit != 0 && (id != hdrUnknown || m.lenMask&lenBit(nameEnd-start) != 0) {
			s.extra(m, id, data[start:nameEnd], v)
		}
		if unfilled&bit != 0 {
			unfilled &^= bit
			s.known(id, v)
		}
	}
	// ErrSIPBadHeader is the only error the header loop finds.
	if s.badHdr && err == nil {
		err = ErrSIPBadHeader
	}

	if hdrEnd < 0 {
		s.Msg = data
		if err == nil {
			err = ErrSIPTruncated
		}
	} else {
		rest := data[hdrEnd:]
		switch {
		case s.badCL:
			s.Msg, s.Body = data, rest
			if err == nil {
				err = ErrSIPContentLength
			}
		case s.ContentLength < 0:
			// RFC 3261 18.3: without Content-Length the body of a datagram
			// runs to its end.
			s.Msg, s.Body = data, rest
		case s.ContentLength > len(rest):
			s.Msg, s.Body = data, rest
			if err == nil {
				err = ErrSIPContentLength
			}
		default:
			s.Body = rest[:s.ContentLength]
			s.Msg = data[:hdrEnd+s.ContentLength]
		}
	}
	if err == nil && len(s.CallID) == 0 {
		err = ErrSIPNoCallID
	}
	return err
}

// DecodeStream parses the SIP message at the start of data, the bytes of a
// stream transport (TCP, TLS) from a message boundary on, which may hold
// less than one message or more. It frames as SIPMessageLen does and decodes
// as DecodeFrom does, in one pass over the headers: when the message is
// complete it returns DecodeFrom's result for exactly its bytes (len(s.Msg)
// is its length; the next message starts after it). Otherwise it returns
// ErrSIPIncomplete (more bytes are needed), ErrNotSIP (no SIP start line
// here) or ErrSIPContentLength (Content-Length is not a number), and the
// fields are not to be used. Framing with SIPMessageLen and then decoding
// read every header twice.
//
// It is DecodeFrom with the end of the message decided afterwards, from
// what DecodeFrom leaves, so that the datagram decoder stays as it is.
func (s *SIP) DecodeStream(data []byte) error {
	err := s.DecodeFrom(data)
	switch {
	case err == ErrNotSIP || s.Body == nil:
		// No empty line after the headers yet, or not SIP. Without a LF
		// the start line itself is still to come, SIP when its first
		// byte may start one.
		if bytes.IndexByte(data, '\n') < 0 {
			if len(data) > 0 && !tokenTable[data[0]] {
				return ErrNotSIP
			}
			return ErrSIPIncomplete
		}
		if err == ErrNotSIP {
			return ErrNotSIP
		}
		return ErrSIPIncomplete
	case s.badCL:
		return ErrSIPContentLength
	case s.ContentLength < 0:
		// Mandatory on a stream: without it the body is empty. DecodeFrom
		// gave the rest of data to the body, as on a datagram.
		hdrEnd := len(data) - len(s.Body)
		s.Msg, s.Body = data[:hdrEnd], s.Body[:0]
	case s.ContentLength > len(s.Body):
		return ErrSIPIncomplete // the body is still to come
	}
	return err
}

// known fills the fields of the first occurrence of header id and sets
// badHdr when CSeq is malformed.
func (s *SIP) known(id sipHdr, v []byte) {
	switch id {
	case hdrCallID:
		s.CallID = v
	case hdrFrom:
		var r nameAddrPos
		if r.take(v, false, s.generic) {
			s.FromUser, s.FromDomain, s.FromTag = r.user(v), r.host(v), r.tag(v)
			return
		}
		uri, params := splitNameAddr(v)
		s.FromUser, s.FromDomain, _ = splitURI(uri)
		s.FromTag = findParam(params, &tagKey)
	case hdrTo:
		var r nameAddrPos
		if r.take(v, false, s.generic) {
			s.ToUser, s.ToDomain, s.ToTag = r.user(v), r.host(v), r.tag(v)
			return
		}
		uri, params := splitNameAddr(v)
		s.ToUser, s.ToDomain, _ = splitURI(uri)
		s.ToTag = findParam(params, &tagKey)
	case hdrVia:
		var r viaPos
		if r.take(v, s.generic) {
			s.Via1 = v[:r.e1]
			s.Via1Branch = r.branch(s.Via1)
			return
		}
		s.Via1 = firstValue(v)
		s.Via1Branch = findParam(s.Via1, &branchKey)
	case hdrCSeq:
		s.CSeq = v
		if s.cseq(v) != nil {
			s.badHdr = true
		}
	case hdrContact:
		var r nameAddrPos
		if r.take(v, false, s.generic) {
			s.ContactUser, s.ContactIP, s.ContactPort = r.user(v), r.host(v), uint16(r.port)
			return
		}
		uri, _ := splitNameAddr(v)
		var host []byte
		s.ContactUser, host, s.ContactPort = splitURI(uri)
		s.ContactIP = unbracket(host)
	case hdrContentLength:
		n, ok := parseDigits(v, 9)
		if !ok {
			s.badCL = true
			return
		}
		s.ContentLength = int(n)
	case hdrContentType:
		s.ContentType = v
	case hdrUserAgent, hdrServer:
		if rankBetter(&s.uaRank, uint8(id-hdrUserAgent)) {
			s.UserAgent = v
		}
	case hdrAuthorization, hdrProxyAuthorization:
		if rankBetter(&s.authRank, uint8(id-hdrAuthorization)) {
			s.Auth = v
			s.AuthUser = authParam(v, "username")
		}
	case hdrPAssertedIdentity, hdrPPreferredIdentity, hdrRemotePartyID:
		if rankBetter(&s.pidRank, uint8(id-hdrPAssertedIdentity)) {
			uri, _ := splitNameAddr(v)
			s.PIDUser, _, _ = splitURI(uri)
		}
	case hdrXRTPStatAdd, hdrXRTPStatT38, hdrXRTPStat, hdrPRTPStat, hdrXNGRTPStats, hdrRTPRxStat:
		if rankBetter(&s.rtpRank, uint8(id-hdrXRTPStatAdd)) {
			s.RTPStat = v
		}
	case hdrDiversion:
		s.Diversion = v
	case hdrReason:
		s.Reason = v
	case hdrXOIP:
		host, port := splitHostPort(v)
		s.OriginatorIP, s.OriginatorPort = unbracket(host), port
	}
}

// sipHdr values must fit the 64-bit masks (unfilled, sipFieldHeaders, idMask).
var _ [64 - numSIPHdr]struct{}

// sipFieldHeaders has bit id set for each header whose first occurrence
// fills a field (the cases of known).
const sipFieldHeaders = 1<<hdrCallID | 1<<hdrFrom | 1<<hdrTo | 1<<hdrVia | 1<<hdrCSeq |
	1<<hdrContact | 1<<hdrContentLength | 1<<hdrContentType | 1<<hdrUserAgent | 1<<hdrServer |
	1<<hdrAuthorization | 1<<hdrProxyAuthorization | 1<<hdrPAssertedIdentity |
	1<<hdrPPreferredIdentity | 1<<hdrRemotePartyID | 1<<hdrXRTPStatAdd | 1<<hdrXRTPStatT38 |
	1<<hdrXRTPStat | 1<<hdrPRTPStat | 1<<hdrXNGRTPStats | 1<<hdrRTPRxStat | 1<<hdrDiversion |
	1<<hdrReason | 1<<hdrXOIP

// rankBetter reports whether rank r beats the stored one (0 = none) and, if
// so, stores it.
func rankBetter(stored *uint8, r uint8) bool {
	if *stored != 0 && *stored <= r+1 {
		return false
	}
	*stored = r + 1
	return true
}

// cseq parses "number SP method".
func (s *SIP) cseq(v []byte) error {
	// At most ten digits, so n cannot overflow before the range check.
	i, n := 0, uint64(0)
	if k, d, ok := digitsWord(v); ok {
		i, n = k, d
	} else {
		for i < len(v) && i <= 10 && isDigit(v[i]) {
			n = n*10 + uint64(v[i]-'0')
			i++
		}
	}
	if i == 0 || i > 10 || n > 1<<32-1 {
		return ErrSIPBadHeader
	}
	j := i
	for j < len(v) && isLWS(v[j]) {
		j++
	}
	k := j
	// A method of at most eight capitals, as agents write it, is a token
	// by one word test rather than a table lookup per byte: every byte
	// below 0x80 (so that no carry crosses into the next), at least 'A'
	// (+0x3f sets its top bit) and at most 'Z' (+0x25 does not). Bytes
	// past the method only carry upwards, away from it.
	if m := len(v) - j; m > 0 && m <= 8 && cap(v)-j >= 8 {
		w := binary.LittleEndian.Uint64(v[j:cap(v)])
		hi := uint64(swarHigh)
		if m < 8 {
			hi &= lowBytes[m]
		}
		if w&hi == 0 && (w+swarOnes*0x3f)&hi == hi && (w+swarOnes*0x25)&hi == 0 {
			k = len(v)
		}
	}
	for k < len(v) && tokenTable[v[k]] {
		k++
	}
	if j == i || k == j || k != len(v) {
		return ErrSIPBadHeader
	}
	s.CSeqNum, s.CSeqMethod = uint32(n), v[j:k]
	return nil
}

// extra matches a header against the configured a-leg and custom names.
func (s *SIP) extra(m *sipMatcher, id sipHdr, name, v []byte) {
	for i := range m.names {
		e := &m.names[i]
		if e.id != id || (id == hdrUnknown && !equalFoldLowerBytes(name, e.lower)) {
			continue
		}
		if e.aleg == 0 {
			if s.Custom[e.slot] == nil {
				s.Custom[e.slot] = v
			}
		} else if rankBetter(&s.alegRank, e.aleg-1) {
			s.CallIDAleg = v
		}
	}
}

// lowBytes[n] selects the lowest n bytes of a little-endian word; a load
// costs less than the shift the compiler emits for 1<<(8*n)-1.
var lowBytes = [8]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xff_ffffffff, 0xffff_ffffffff, 0xffffff_ffffffff}

// nameFold is ORed into every byte of a header name to fold its case; see
// sipheader_generate.go for why that is exact for the names looked up.
const nameFold = swarOnes * 0x20

// sipNameStop flags the bytes of w that end a header name for the fast path:
// ':' and every byte below 0x20. Only the lowest flag is exact.
func sipNameStop(w uint64) uint64 {
	x := w ^ (swarOnes * ':')
	return ((x-swarOnes)&^x | (w-swarOnes*0x20)&^w) & swarHigh
}

// sipNameHash hashes the keys of a header name into sipNameEntries.
func sipNameHash(k0, k1, k2 uint64) uint {
	return uint(((k0 ^ k1*3 ^ k2*5) * sipNameHashMul) >> (64 - sipNameHashBits))
}

// lookupSIPHeader returns the id of the header named name, compared
// case-insensitively; compact forms map to the id of their full name. name
// must consist of token bytes (tokenTable), as header names do.
func lookupSIPHeader(name []byte) sipHdr {
	if len(name) == 0 || len(name) > 24 {
		return hdrUnknown
	}
	var buf [24]byte
	copy(buf[:], name)
	var k [3]uint64
	for i := range k {
		if w := binary.LittleEndian.Uint64(buf[8*i:]); w != 0 {
			k[i] = w | nameFold
		}
	}
	// Clear the folded bits of the bytes past the name.
	if n := len(name); n%8 != 0 {
		k[n/8] &= 1<<(8*(n%8)) - 1
	}
	e := &sipNameEntries[sipNameHash(k[0], k[1], k[2])]
	if e.k0 == k[0] && e.k1 == k[1] && e.k2 == k[2] {
		return e.id
	}
	return hdrUnknown
}

// isTokenBytes reports whether every byte of b is a token byte.
func isTokenBytes(b []byte) bool {
	for _, c := range b {
		if !tokenTable[c] {
			return false
		}
	}
	return true
}

// sipHeaderLine returns the logical header line that starts at pos, with its
// folded continuation lines (lines starting with SP or HT) and without the
// final line terminator, and the position just past it.
func sipHeaderLine(data []byte, pos int) (line []byte, next int) {
	start := pos
	for {
		nl := bytes.IndexByte(data[pos:], '\n')
		if nl < 0 {
			return data[start:], len(data)
		}
		pos += nl + 1
		if pos < len(data) && (data[pos] == ' ' || data[pos] == '\t') {
			continue
		}
		return data[start : pos-1], pos
	}
}

// splitHeader splits "Name : value" into the name and the value trimmed of
// white space (including the CRLF of folds at either end).
func splitHeader(line []byte) (name, value []byte, ok bool) {
	i := 0
	for i < len(line) && tokenTable[line[i]] {
		i++
	}
	name = line[:i]
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if len(name) == 0 || i >= len(line) || line[i] != ':' {
		return nil, nil, false
	}
	return name, trimLWS(line[i+1:]), true
}

// sipStartLine is the parsed first line of a message.
type sipStartLine struct {
	method, ruri []byte
	status       uint16
	code, reason []byte
}

// parse parses a request or status line (without its line terminator). It
// returns ErrNotSIP when the line does not carry a SIP version where one
// belongs and ErrSIPBadStartLine when it does but is malformed; the parts
// that parsed are kept.
func (sl *sipStartLine) parse(line []byte) error {
	if hasSIPSlash(line) {
		// Nearly every status line starts "SIP/2.0 "; look there first.
		sp := 7
		if len(line) <= sp || line[sp] != ' ' {
			sp = bytes.IndexByte(line, ' ')
		}
		if sp < 0 || !isSIPVersion(line[:sp]) {
			return ErrNotSIP
		}
		rest := line[sp+1:]
		if len(rest) < 3 {
			return ErrSIPBadStartLine
		}
		n, ok := parseDigits(rest[:3], 3)
		if !ok || n < 100 || n > 699 || (len(rest) > 3 && rest[3] != ' ') {
			return ErrSIPBadStartLine
		}
		sl.status, sl.code = uint16(n), rest[:3]
		if len(rest) > 3 {
			sl.reason = rest[4:]
		} else {
			sl.reason = rest[3:]
		}
		return nil
	}
	// Nearly every request line ends in " SIP/2.0"; look there first.
	last := len(line) - 8
	if last < 0 || line[last] != ' ' || !isSIPVersion(line[last+1:]) {
		last = bytes.LastIndexByte(line, ' ')
		if last < 0 || !isSIPVersion(line[last+1:]) {
			return ErrNotSIP
		}
	}
	// There is a space at last, so the token run stops at or before it; it
	// stops short when the method holds a byte that is not a token byte.
	// A method of at most seven capitals and its space, as agents write it,
	// is found by one word test (see methodWord); skipToken reads the rest.
	first := 0
	if k := methodWord(line); k > 0 {
		first = k
	} else {
		first = skipToken(line, 0)
	}
	if first == 0 || line[first] != ' ' {
		return ErrSIPBadStartLine
	}
	sl.method = line[:first]
	if first == last {
		return ErrSIPBadStartLine
	}
	ruri := line[first+1 : last]
	if len(ruri) == 0 || bytes.IndexByte(ruri, ' ') >= 0 {
		return ErrSIPBadStartLine
	}
	sl.ruri = ruri
	return nil
}

// isSIPVersion reports whether b is "SIP/" 1*DIGIT "." 1*DIGIT (any case).
func isSIPVersion(b []byte) bool {
	if len(b) == 7 && hasSIPSlash(b) && b[5] == '.' && isDigit(b[4]) && isDigit(b[6]) {
		return true // "SIP/2.0"
	}
	if !hasSIPSlash(b) {
		return false
	}
	b = b[4:]
	dot := bytes.IndexByte(b, '.')
	if dot < 0 {
		return false
	}
	_, ok1 := parseDigits(b[:dot], 3)
	_, ok2 := parseDigits(b[dot+1:], 3)
	return ok1 && ok2
}

// hasSIPSlash reports whether b starts with "SIP/" in any case.
func hasSIPSlash(b []byte) bool {
	// ORing 0x20 into the three letters folds case exactly; '/' is compared as is.
	return len(b) >= 4 && binary.LittleEndian.Uint32(b)|0x00202020 == 'p'<<16|'i'<<8|'s'|'/'<<24
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return c-'0' <= 9 }

// skipToken returns the index of the first byte of b at or after i that is
// not a token byte (len(b) if none).
func skipToken(b []byte, i int) int {
	for i < len(b) && tokenTable[b[i]] {
		i++
	}
	return i
}

// maxStartLine bounds how far LooksLikeSIP searches for the end of the start
// line.
const maxStartLine = 8 << 10

// LooksLikeSIP reports whether b begins with a complete, well-formed SIP
// request line or status line (terminated by LF or CRLF). It reads at most
// the first 8 KiB of b and does not allocate; the TCP reassembler uses it to
// resynchronise on a message boundary.
func LooksLikeSIP(b []byte) bool {
	if len(b) == 0 || !tokenTable[b[0]] {
		return false
	}
	if len(b) > maxStartLine {
		b = b[:maxStartLine]
	}
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		return false
	}
	var sl sipStartLine
	return sl.parse(trimCR(b[:eol])) == nil
}

// SIPMessageLen returns the length of the first complete SIP message in b:
// the start line, the headers, the empty line and Content-Length bytes of
// body (0 when Content-Length is absent, as on stream transports it is
// mandatory). It returns ErrSIPIncomplete when b ends before that, ErrNotSIP
// when the first line is not SIP, and ErrSIPContentLength when Content-Length
// is not a number. It does not allocate; bounding the bytes it is given is up
// to the caller.
func SIPMessageLen(b []byte) (int, error) {
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		if len(b) > 0 && !tokenTable[b[0]] {
			return 0, ErrNotSIP
		}
		return 0, ErrSIPIncomplete
	}
	var sl sipStartLine
	if sl.parse(trimCR(b[:eol])) == ErrNotSIP {
		return 0, ErrNotSIP
	}
	pos := eol + 1
	cl, seenCL, badCL := 0, false, false
	for {
		if pos >= len(b) {
			return 0, ErrSIPIncomplete
		}
		if c := b[pos]; c == '\n' {
			pos++
			break
		} else if c == '\r' {
			if pos+1 >= len(b) {
				return 0, ErrSIPIncomplete
			}
			if b[pos+1] == '\n' {
				pos += 2
				break
			}
		}
		var hl []byte
		hl, pos = sipHeaderLine(b, pos)
		if pos >= len(b) {
			// The line may continue (a fold) or the blank line is still to come.
			return 0, ErrSIPIncomplete
		}
		if seenCL {
			continue
		}
		if name, v, ok := splitHeader(hl); ok && lookupSIPHeader(name) == hdrContentLength {
			seenCL = true
			n, ok := parseDigits(v, 9)
			cl, badCL = int(n), !ok
		}
	}
	if badCL {
		return 0, ErrSIPContentLength
	}
	if cl > len(b)-pos {
		return 0, ErrSIPIncomplete
	}
	return pos + cl, nil
}

// splitNameAddr splits a From/To/Contact-style value into the URI (inside
// <...> when present) and what follows it (header parameters). Only the first
// of several comma-separated values is looked at.
func splitNameAddr(v []byte) (uri, params []byte) {
	i := 0
	for i < len(v) && isLWS(v[i]) {
		i++
	}
	if i < len(v) && v[i] == '"' {
		i += 1 + len(quoted(v[i+1:])) + 1 // past the closing quote
		if i > len(v) {
			i = len(v)
		}
	}
	j := i
	for j < len(v) && v[j] != '<' && v[j] != ',' && v[j] != ';' {
		j++
	}
	if j < len(v) && v[j] == '<' {
		u := v[j+1:]
		gt := bytes.IndexByte(u, '>')
		if gt < 0 {
			return u, nil
		}
		return u[:gt], u[gt+1:]
	}
	return trimLWS(v[i:j]), v[j:]
}

// splitURI returns the user, host and port of a sip:, sips: or tel: URI
// (nothing for other schemes). For tel: the user is the number and host is
// nil. An IPv6 host keeps its brackets.
func splitURI(u []byte) (user, host []byte, port uint16) {
	i := 0
	for i < len(u) && isLWS(u[i]) {
		i++
	}
	u = u[i:]
	if len(u) < 4 {
		return nil, nil, 0
	}
	var rest []byte
	// ORing 0x20 into the letters folds case exactly; ':' is compared as is.
	switch w := binary.LittleEndian.Uint32(u); {
	case w|0x00202020 == 's'|'i'<<8|'p'<<16|':'<<24:
		rest = u[4:]
	case w|0x20202020 == 's'|'i'<<8|'p'<<16|'s'<<24 && len(u) > 4 && u[4] == ':':
		rest = u[5:]
	case w|0x00202020 == 't'|'e'<<8|'l'<<16|':'<<24:
		rest = u[4:]
		i := 0
		for i < len(rest) && rest[i] != ';' && rest[i] != '?' && !isLWS(rest[i]) {
			i++
		}
		return rest[:i], nil, 0
	default:
		return nil, nil, 0
	}
	// One pass to the first '@' or '?', noting the first ':' (the user part
	// ends there, before a password).
	colon := -1
	for i = scanURIMark(rest, 0); i < len(rest); i = scanURIMark(rest, i+1) {
		if c := rest[i]; c == '@' || c == '?' {
			break
		} else if c == ':' && colon < 0 {
			colon = i
		}
	}
	if i < len(rest) && rest[i] == '@' {
		user = rest[:i]
		if colon >= 0 {
			user = rest[:colon]
		}
		rest = rest[i+1:]
	}
	host, port = splitHostPort(rest)
	return user, host, port
}

// splitHostPort reads "host[:port]" or "[v6]:port" at the start of b; the
// host stops at ';', '?', '>', ',' or white space. The port is 0 when absent
// or not a number below 65536.
func splitHostPort(b []byte) (host []byte, port uint16) {
	i := 0
	for i < len(b) && isLWS(b[i]) {
		i++
	}
	b = b[i:]
	i = 0
	if len(b) > 0 && b[0] == '[' {
		if c := bytes.IndexByte(b, ']'); c >= 0 {
			i = c + 1
		}
	}
	i = scanHostEnd(b, i)
	host = b[:i]
	if i < len(b) && b[i] == ':' {
		// Up to six digits are read: six or more are not a port.
		j, n := i+1, 0
		for j < len(b) && j-i <= 6 && isDigit(b[j]) {
			n = n*10 + int(b[j]-'0')
			j++
		}
		if d := j - i - 1; d > 0 && d <= 5 && n <= 65535 {
			port = uint16(n)
		}
	}
	return host, port
}

// unbracket drops the brackets of an IPv6 reference.
func unbracket(h []byte) []byte {
	if n := len(h); n >= 2 && h[0] == '[' && h[n-1] == ']' {
		return h[1 : n-1]
	}
	return h
}

// firstValue returns the first of several comma-separated values (commas
// inside double quotes do not count), trimmed.
func firstValue(v []byte) []byte {
	c := bytes.IndexByte(v, ',')
	if c < 0 {
		return v
	}
	if bytes.IndexByte(v[:c], '"') < 0 {
		return trimLWS(v[:c])
	}
	inQuote := false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQuote = !inQuote
		case '\\':
			if inQuote {
				i++
			}
		case ',':
			if !inQuote {
				return trimLWS(v[:i])
			}
		}
	}
	return v
}

// paramKey is a parameter name, lower case and at most six letters, with
// '=' after it, as one little-endian word: word holds those bytes, mask
// selects them, fold has 0x20 in each letter (ORing it folds case exactly
// for letters, and leaves '=' to be compared as is).
type paramKey struct {
	name             string
	word, mask, fold uint64 // "name=" folded to lower case, its bytes
	nword, nmask     uint64 // the name alone
}

func newParamKey(name string) paramKey {
	k := paramKey{name: name}
	for i := 0; i <= len(name); i++ {
		c := byte('=')
		if i < len(name) {
			c = name[i]
			k.fold |= 0x20 << (8 * i)
		}
		k.word |= uint64(c) << (8 * i)
		k.mask |= 0xff << (8 * i)
	}
	k.nmask = k.mask >> 8
	k.nword = k.word & k.nmask
	return k
}

var (
	tagKey    = newParamKey("tag")
	branchKey = newParamKey("branch")
)

// findParam returns the value of the ;name=value parameter in p (name
// compared case-insensitively), an empty slice for a parameter without
// value, nil when absent. Quoted values are returned without their quotes.
//
// When the parameter is written as most agents write it, "name=" right
// after a ';' and an unquoted value, one word compare finds it; everything
// else takes the token-by-token path. Like the scanners, the compare may
// read up to seven bytes past len(p) within cap(p), but only bytes inside p
// decide.
func findParam(p []byte, k *paramKey) []byte {
	name := k.name
	for {
		// The header parameters of From and To usually start right here.
		i := 0
		if len(p) == 0 || p[0] != ';' {
			if i = bytes.IndexByte(p, ';'); i < 0 {
				return nil
			}
		}
		p = p[i+1:]
		if c := p[:cap(p)]; len(c) >= 8 {
			raw := binary.LittleEndian.Uint64(c)
			w := raw | k.fold
			if v := len(name) + 1; v < len(p) && w&k.mask == k.word && p[v] != '"' && !isLWS(p[v]) {
				return p[v:scanParamEnd(p, v)]
			}
			// A name that starts here and differs within its first
			// len(name) bytes is another parameter (received=, rport,
			// transport=...): on to the next ';' without the token walk.
			// Bytes past len(p) cannot make a mismatch of a name that is
			// not there out of one that is.
			// (byte(raw) is p[0]: a second read of that byte would keep the
			// compiler from loading the word in one instruction.)
			if len(p) > 0 && tokenTable[byte(raw)] && w&k.nmask != k.nword {
				p = p[1:]
				continue
			}
		}
		j := 0
		for j < len(p) && isLWS(p[j]) {
			j++
		}
		k := skipToken(p, j)
		if !equalFoldLower(p[j:k], name) {
			p = p[k:]
			continue
		}
		for k < len(p) && isLWS(p[k]) {
			k++
		}
		if k >= len(p) || p[k] != '=' {
			return p[k:k]
		}
		k++
		for k < len(p) && isLWS(p[k]) {
			k++
		}
		if k < len(p) && p[k] == '"' {
			return quoted(p[k+1:])
		}
		return p[k:scanParamEnd(p, k)]
	}
}

// quoted returns the bytes up to the closing double quote of a quoted string
// whose opening quote was just consumed (escapes are skipped, not removed),
// or all of b when there is none.
func quoted(b []byte) []byte {
	q := bytes.IndexByte(b, '"')
	if q < 0 {
		q = len(b)
	}
	if bytes.IndexByte(b[:q], '\\') < 0 {
		return b[:q] // no escape before the first quote: it closes the string
	}
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

// authParam returns the value of auth-param name (lower case) in a
// credentials value such as `Digest username="bob", realm="x"`, without
// quotes; nil when absent.
func authParam(v []byte, name string) []byte {
	i := 0
	for i < len(v) && isLWS(v[i]) {
		i++
	}
	for i < len(v) && tokenTable[v[i]] { // the scheme
		i++
	}
	for i < len(v) {
		for i < len(v) && (isLWS(v[i]) || v[i] == ',') {
			i++
		}
		st := i
		for i < len(v) && tokenTable[v[i]] {
			i++
		}
		pname := v[st:i]
		for i < len(v) && isLWS(v[i]) {
			i++
		}
		if i >= len(v) || v[i] != '=' {
			if len(pname) == 0 {
				i++ // a stray byte; step over it
			}
			continue
		}
		i++
		for i < len(v) && isLWS(v[i]) {
			i++
		}
		var val []byte
		if i < len(v) && v[i] == '"' {
			val = quoted(v[i+1:])
			i += len(val) + 2
		} else {
			st := i
			for i < len(v) && v[i] != ',' && !isLWS(v[i]) {
				i++
			}
			val = v[st:i]
		}
		if equalFoldLower(pname, name) {
			return val
		}
	}
	return nil
}
