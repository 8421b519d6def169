package decode

import "fmt"

// MaxALegHeaders is the largest number of a-leg header names a SIPConfig may list.
const MaxALegHeaders = 8

// SIPConfig holds the header names a SIP decoder extracts beyond the fixed set.
// It is read-only once handed to a decoder and may be shared between workers.
// A nil *SIPConfig means the defaults.
type SIPConfig struct {
	// ALegHeaders are tried in order for callid_aleg (the first name in this
	// list that the message carries wins); empty means the default, X-CID.
	ALegHeaders []string
	// CustomHeaders names up to three headers stored in custom_field1..3; an
	// empty name leaves its field unused.
	CustomHeaders [3]string
}

// DefaultALegHeader is the a-leg Call-ID header used when none is configured
// (sipcapture's callid_aleg_header default).
const DefaultALegHeader = "X-CID"

// Validate checks the header names: each must be a non-empty RFC 3261 token
// (empty custom names are allowed and unused), at most MaxALegHeaders a-leg names.
func (c *SIPConfig) Validate() error {
	if c == nil {
		return nil
	}
	if len(c.ALegHeaders) > MaxALegHeaders {
		return fmt.Errorf("callid_aleg_header lists %d headers, at most %d are allowed", len(c.ALegHeaders), MaxALegHeaders)
	}
	for _, n := range c.ALegHeaders {
		if !isToken(n) {
			return fmt.Errorf("callid_aleg_header %q is not a valid header name", n)
		}
	}
	for i, n := range c.CustomHeaders {
		if n != "" && !isToken(n) {
			return fmt.Errorf("custom header %d %q is not a valid header name", i+1, n)
		}
	}
	return nil
}

// isToken reports whether s is a non-empty RFC 3261 token (a configured
// header name).
func isToken(s string) bool { return s != "" && isTokenBytes([]byte(s)) }

// Configure validates cfg and makes s extract its a-leg and custom headers
// (nil = defaults). It allocates once; DecodeFrom then matches the names
// case-insensitively without allocating. The compact form of a known header
// matches a configured full name (for example "s" for "Subject").
func (s *SIP) Configure(cfg *SIPConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.m = compileSIPConfig(cfg)
	return nil
}

// NewSIP returns a SIP decoder configured with cfg (nil = defaults).
func NewSIP(cfg *SIPConfig) (*SIP, error) {
	s := &SIP{ContentLength: -1}
	if err := s.Configure(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// sipMatcher is a SIPConfig compiled for matching without allocation.
type sipMatcher struct {
	names []sipExtraName
	// idMask has bit id set for every configured name that is a known header
	// and bit 0 (hdrUnknown) when a configured name is not; lenMask has bit
	// lenBit(len) set for every configured unknown name.
	idMask, lenMask uint64
}

// sipExtraName is one configured header name.
type sipExtraName struct {
	id    sipHdr // hdrUnknown for names the decoder does not know itself
	lower []byte // the lower-cased name, compared when id is hdrUnknown
	slot  uint8  // custom field index when aleg is 0
	aleg  uint8  // position+1 in the a-leg list, 0 for a custom header
}

var defaultSIPMatcher = *compileSIPConfig(nil)

func compileSIPConfig(cfg *SIPConfig) *sipMatcher {
	m := &sipMatcher{}
	add := func(name string, slot, aleg uint8) {
		lower := make([]byte, len(name))
		for i := range lower {
			lower[i] = toLowerTable[name[i]]
		}
		e := sipExtraName{id: lookupSIPHeader(lower), lower: lower, slot: slot, aleg: aleg}
		m.idMask |= 1 << e.id // bit 0 (hdrUnknown) for any unknown name
		if e.id == hdrUnknown {
			m.lenMask |= lenBit(len(lower))
		}
		m.names = append(m.names, e)
	}
	alegs := []string{DefaultALegHeader}
	if cfg != nil && len(cfg.ALegHeaders) > 0 {
		alegs = cfg.ALegHeaders
	}
	for i, n := range alegs {
		add(n, 0, uint8(i+1))
	}
	if cfg != nil {
		for i, n := range cfg.CustomHeaders {
			if n != "" {
				add(n, uint8(i), 0)
			}
		}
	}
	return m
}

// lenBit maps a header-name length to a bit of sipMatcher.lenMask (lengths of
// 63 and more share the top bit).
func lenBit(n int) uint64 {
	if n > 63 {
		n = 63
	}
	return 1 << n
}
