package decode

// SIPConfig holds the header names a SIP decoder extracts beyond the fixed set.
// It is read-only once handed to a decoder and may be shared between workers.
type SIPConfig struct {
	// ALegHeaders are tried in order for callid_aleg; default X-CID.
	ALegHeaders []string
	// CustomHeaders names up to three headers stored in custom_field1..3.
	CustomHeaders [3]string
}
