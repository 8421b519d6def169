package decode

// FrameErrorKind classifies a frame-path decode failure.
type FrameErrorKind uint8

// Kinds of frame-path errors.
const (
	// KindTruncated: the data is shorter than a header or than a length field says.
	KindTruncated FrameErrorKind = iota + 1
	// KindMalformed: a header field is invalid (version, header length, flags).
	KindMalformed
	// KindUnsupported: a valid header this decoder does not follow (GRE source
	// routing, GRE version > 1, a fragmented SCTP user message).
	KindUnsupported
	// KindTooDeep: tunnels nested deeper than PathConfig.MaxTunnelDepth, or
	// more VLAN tags than the frame path follows.
	KindTooDeep
	numFrameErrorKinds
)

var frameErrorKindNames = [numFrameErrorKinds]string{
	KindTruncated: "truncated", KindMalformed: "malformed",
	KindUnsupported: "unsupported", KindTooDeep: "too_deep",
}

// String returns a short stable name ("truncated", "malformed", …) for
// metric labels.
func (k FrameErrorKind) String() string {
	if k < numFrameErrorKinds && k != 0 {
		return frameErrorKindNames[k]
	}
	return "unknown"
}

// FrameError is a frame-path decode error: the layer where decoding stopped
// and the kind of failure, packed as Layer<<8 | Kind. All values are
// constants, so returning one never allocates, and errors.Is works both
// against a layer-specific value and against the kind-only sentinels
// ErrFrameTruncated, ErrFrameMalformed, ErrFrameUnsupported, ErrTunnelTooDeep.
type FrameError uint16

// Kind-only sentinels: errors.Is(err, ErrFrameTruncated) matches a truncation
// at any layer.
const (
	ErrFrameTruncated   = FrameError(KindTruncated)
	ErrFrameMalformed   = FrameError(KindMalformed)
	ErrFrameUnsupported = FrameError(KindUnsupported)
	ErrTunnelTooDeep    = FrameError(KindTooDeep)
)

func frameErr(l Layer, k FrameErrorKind) FrameError { return FrameError(l)<<8 | FrameError(k) }

// Layer is the layer where decoding stopped (LayerNone for kind-only sentinels).
func (e FrameError) Layer() Layer { return Layer(e >> 8) }

// Kind is the kind of failure.
func (e FrameError) Kind() FrameErrorKind { return FrameErrorKind(e & 0xff) }

// maxFrameLayers sizes the per-layer error table; Layer values are below it.
const maxFrameLayers = 32

var frameErrorText [maxFrameLayers][numFrameErrorKinds]string

func init() {
	for l := 0; l < maxFrameLayers; l++ {
		for k := FrameErrorKind(1); k < numFrameErrorKinds; k++ {
			name := Layer(l).String()
			if l == 0 {
				frameErrorText[l][k] = "decode: frame: " + k.String()
			} else {
				frameErrorText[l][k] = "decode: " + name + ": " + k.String()
			}
		}
	}
}

// Error implements error without allocating.
func (e FrameError) Error() string {
	l, k := int(e.Layer()), e.Kind()
	if l < maxFrameLayers && k < numFrameErrorKinds && k != 0 {
		return frameErrorText[l][k]
	}
	return "decode: frame: unknown error"
}

// Is makes a layer-specific error match its kind-only sentinel.
func (e FrameError) Is(target error) bool {
	t, ok := target.(FrameError)
	if !ok {
		return false
	}
	return t == e || (t.Layer() == LayerNone && t.Kind() == e.Kind())
}

// Per-layer errors returned on the per-packet path.
const (
	errEthTruncated    = FrameError(LayerEthernet)<<8 | FrameError(KindTruncated)
	errSLLTruncated    = FrameError(LayerSLL)<<8 | FrameError(KindTruncated)
	errSLL2Truncated   = FrameError(LayerSLL2)<<8 | FrameError(KindTruncated)
	errRawMalformed    = FrameError(LayerRawIP)<<8 | FrameError(KindMalformed)
	errNullTruncated   = FrameError(LayerLoopback)<<8 | FrameError(KindTruncated)
	errVLANTruncated   = FrameError(LayerVLAN)<<8 | FrameError(KindTruncated)
	errVLANTooDeep     = FrameError(LayerVLAN)<<8 | FrameError(KindTooDeep)
	errMPLSTruncated   = FrameError(LayerMPLS)<<8 | FrameError(KindTruncated)
	errMPLSMalformed   = FrameError(LayerMPLS)<<8 | FrameError(KindMalformed)
	errIPv4Truncated   = FrameError(LayerIPv4)<<8 | FrameError(KindTruncated)
	errIPv4Malformed   = FrameError(LayerIPv4)<<8 | FrameError(KindMalformed)
	errIPv6Truncated   = FrameError(LayerIPv6)<<8 | FrameError(KindTruncated)
	errIPv6Malformed   = FrameError(LayerIPv6)<<8 | FrameError(KindMalformed)
	errIPIPTooDeep     = FrameError(LayerIPIP)<<8 | FrameError(KindTooDeep)
	errGRETruncated    = FrameError(LayerGRE)<<8 | FrameError(KindTruncated)
	errGREMalformed    = FrameError(LayerGRE)<<8 | FrameError(KindMalformed)
	errGREUnsupported  = FrameError(LayerGRE)<<8 | FrameError(KindUnsupported)
	errGRETooDeep      = FrameError(LayerGRE)<<8 | FrameError(KindTooDeep)
	errERSPANTruncated = FrameError(LayerERSPAN)<<8 | FrameError(KindTruncated)
	errERSPANMalformed = FrameError(LayerERSPAN)<<8 | FrameError(KindMalformed)
	errVXLANTruncated  = FrameError(LayerVXLAN)<<8 | FrameError(KindTruncated)
	errVXLANMalformed  = FrameError(LayerVXLAN)<<8 | FrameError(KindMalformed)
	errVXLANTooDeep    = FrameError(LayerVXLAN)<<8 | FrameError(KindTooDeep)
	errGENEVETruncated = FrameError(LayerGENEVE)<<8 | FrameError(KindTruncated)
	errGENEVEMalformed = FrameError(LayerGENEVE)<<8 | FrameError(KindMalformed)
	errGENEVETooDeep   = FrameError(LayerGENEVE)<<8 | FrameError(KindTooDeep)
	errUDPTruncated    = FrameError(LayerUDP)<<8 | FrameError(KindTruncated)
	errUDPMalformed    = FrameError(LayerUDP)<<8 | FrameError(KindMalformed)
	errTCPTruncated    = FrameError(LayerTCP)<<8 | FrameError(KindTruncated)
	errTCPMalformed    = FrameError(LayerTCP)<<8 | FrameError(KindMalformed)
	errSCTPTruncated   = FrameError(LayerSCTP)<<8 | FrameError(KindTruncated)
	errSCTPMalformed   = FrameError(LayerSCTP)<<8 | FrameError(KindMalformed)
	errPPPTruncated    = FrameError(LayerPPP)<<8 | FrameError(KindTruncated)
	errFragTruncated   = FrameError(LayerFragment)<<8 | FrameError(KindTruncated)
	errFragMalformed   = FrameError(LayerFragment)<<8 | FrameError(KindMalformed)
)
