package decode

// SIP is a parsed SIP message. Byte-slice fields alias the input passed to
// DecodeFrom and are valid only until the next DecodeFrom or Reset, or until the
// ring block holding the input is released. Values are the bytes of the message
// as they are on the wire: no case folding, no unescaping.
// A SIP must not be copied or used from more than one goroutine.
type SIP struct {
	// Msg is the whole message: start line, headers and body.
	Msg []byte

	// Request line; Method is nil for replies.
	Method []byte
	RURI   []byte
	// RURIUser and RURIDomain are the user and host parts of the Request-URI.
	RURIUser, RURIDomain []byte

	// Status line; Status is 0 and StatusCode nil for requests.
	Status      uint16
	StatusCode  []byte // the three digits as on the wire ("200")
	ReplyReason []byte

	FromUser, FromDomain, FromTag []byte
	ToUser, ToDomain, ToTag       []byte
	// PIDUser is the user of P-Asserted-Identity, else P-Preferred-Identity,
	// else Remote-Party-ID.
	PIDUser []byte
	// First Contact URI.
	ContactUser, ContactIP []byte
	ContactPort            uint16
	// Auth is the Authorization or Proxy-Authorization value; AuthUser its username.
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

	// X-OIP header.
	OriginatorIP   []byte
	OriginatorPort uint16

	Custom  [3][]byte // values of the configured custom headers
	RTPStat []byte    // first present of the RTP statistics headers

	// ContentLength is the Content-Length value, -1 when absent.
	ContentLength int
	Body          []byte

	cfg *SIPConfig
}

// IsRequest reports whether the last decoded message is a request.
func (s *SIP) IsRequest() bool { return s.Method != nil }
