package decode

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// HEPError is the kind of a HEP decoding failure. The values are comparable
// sentinels: errors.Is works, and returning one never allocates.
type HEPError uint8

// HEP decoding errors. Kind returns a short stable name for metric labels.
const (
	// ErrHEPTruncated: the datagram is shorter than the fixed header (v1/v2)
	// or than the total length the HEP v3 header declares.
	ErrHEPTruncated HEPError = iota + 1
	// ErrHEPBadVersion: the data starts with neither 1, 2, "HEP3" nor "EEP3";
	// it is not HEP.
	ErrHEPBadVersion
	// ErrHEPBadLength: the HEP v3 total length is below the 6-byte header.
	ErrHEPBadLength
	// ErrHEPBadFamily: a v1/v2 address family other than 2 (IPv4) or 10 (IPv6).
	ErrHEPBadFamily
	// ErrHEPBadChunk: a v3 chunk header is cut, its length is below 6, or it
	// runs past the total length.
	ErrHEPBadChunk
	// ErrHEPChunkSize: a fixed-size generic chunk (uint8, uint16, uint32,
	// uint64, IPv4, IPv6) has the wrong length.
	ErrHEPChunkSize
	// ErrHEPInflate: the compressed payload (chunk 0x0010) is corrupt or of an
	// unknown format.
	ErrHEPInflate
	// ErrHEPInflateTooLarge: the inflated payload exceeds HEP.MaxInflate.
	ErrHEPInflateTooLarge
)

var hepErrorText = [...]string{
	ErrHEPTruncated:       "decode: hep: truncated",
	ErrHEPBadVersion:      "decode: hep: not a HEP packet (bad version)",
	ErrHEPBadLength:       "decode: hep: total length below header size",
	ErrHEPBadFamily:       "decode: hep: bad address family",
	ErrHEPBadChunk:        "decode: hep: bad chunk header",
	ErrHEPChunkSize:       "decode: hep: wrong length for fixed-size chunk",
	ErrHEPInflate:         "decode: hep: cannot inflate compressed payload",
	ErrHEPInflateTooLarge: "decode: hep: inflated payload over size cap",
}

var hepErrorKind = [...]string{
	ErrHEPTruncated:       "truncated",
	ErrHEPBadVersion:      "bad_version",
	ErrHEPBadLength:       "bad_length",
	ErrHEPBadFamily:       "bad_family",
	ErrHEPBadChunk:        "bad_chunk",
	ErrHEPChunkSize:       "chunk_size",
	ErrHEPInflate:         "inflate",
	ErrHEPInflateTooLarge: "inflate_too_large",
}

// Error implements error.
func (e HEPError) Error() string {
	if int(e) < len(hepErrorText) && e != 0 {
		return hepErrorText[e]
	}
	return "decode: hep: unknown error"
}

// Kind returns a short stable name for e ("truncated", "bad_chunk", …),
// suitable as a metric label.
func (e HEPError) Kind() string {
	if int(e) < len(hepErrorKind) && e != 0 {
		return hepErrorKind[e]
	}
	return "unknown"
}

// HEPErrorKind returns the metric label for err: "" for nil, the Kind of a
// HEPError, "other" for anything else. It does not allocate.
func HEPErrorKind(err error) string {
	if err == nil {
		return ""
	}
	if he, ok := err.(HEPError); ok {
		return he.Kind()
	}
	var he HEPError
	if errors.As(err, &he) {
		return he.Kind()
	}
	return "other"
}

// HEP protocol types (chunk 0x000b) that callers commonly test for.
const (
	HEPTypeSIP  = 0x01
	HEPTypeRTCP = 0x05 // RTCP as JSON
	HEPTypeLog  = 0x64 // 100, used in practice (heplify, HOMER); not in rev 37
)

// DefaultHEPMaxInflate is the default cap on an inflated 0x0010 payload.
const DefaultHEPMaxInflate = 64 << 10

// HEP generic chunk type ids (vendor 0), HEP v3 rev 37.
const (
	hepChunkFamily     = 0x0001
	hepChunkProto      = 0x0002
	hepChunkSrc4       = 0x0003
	hepChunkDst4       = 0x0004
	hepChunkSrc6       = 0x0005
	hepChunkDst6       = 0x0006
	hepChunkSrcPort    = 0x0007
	hepChunkDstPort    = 0x0008
	hepChunkTSSec      = 0x0009
	hepChunkTSUsec     = 0x000a
	hepChunkProtoType  = 0x000b
	hepChunkCaptureID  = 0x000c
	hepChunkKeepAlive  = 0x000d
	hepChunkAuthKey    = 0x000e
	hepChunkPayload    = 0x000f
	hepChunkCompressed = 0x0010
	hepChunkCorrID     = 0x0011
	hepChunkVLAN       = 0x0012
	hepChunkNodeName   = 0x0013
	hepChunkSrcMAC     = 0x0014
	hepChunkDstMAC     = 0x0015
	hepChunkEthType    = 0x0016
	hepChunkTCPFlags   = 0x0017
	hepChunkTOS        = 0x0018
	hepChunkMOS        = 0x0020
	hepChunkRFactor    = 0x0021
	hepChunkGeo        = 0x0022
	hepChunkJitter     = 0x0023
	hepChunkTransType  = 0x0024
	hepChunkJSONKeys   = 0x0025
	hepChunkTags       = 0x0026
	hepChunkTagType    = 0x0027
	hepChunkEventType  = 0x0028
	hepChunkGroupID    = 0x0029
)

// HEP is a decoded HEP (Homer Encapsulation Protocol) packet, version 1, 2 or 3.
//
// Byte-slice fields alias the input passed to DecodeFrom and are valid only
// until the next DecodeFrom or Reset, or until the ring block holding the input
// is released. The one exception is Payload when Compressed is true: it then
// points into a buffer owned by the HEP value, reused by the next DecodeFrom.
// A HEP must not be copied or used from more than one goroutine.
//
// Fields not carried by the packet are zero (nil for slices). For v1 and v2
// the fields beyond the fixed header (everything below CaptureID except
// Payload) are always zero; v1 also has no timestamp.
type HEP struct {
	// Version is 1, 2 or 3.
	Version uint8
	// Family is the address family, 2 (IPv4) or 10 (IPv6). For v3 it is
	// chunk 0x0001, or inferred from the address chunks when that is absent.
	Family uint8
	// Proto is the IP protocol of the captured packet: 17 UDP, 6 TCP, 132 SCTP
	// (senders also use 22 for TLS and 50 for WebSocket).
	Proto uint8
	// Src and Dst are the captured packet's addresses (chunks 0x0003–0x0006).
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	// TSSec and TSUsec are the capture time (chunks 0x0009, 0x000a; the v2
	// time block). Both are 0 when the packet carries no time.
	TSSec, TSUsec uint32
	// ProtoType is chunk 0x000b (HEPTypeSIP = 1). v1 and v2 always carry SIP
	// and report 1. Payloads of other types must not be parsed as SIP.
	ProtoType uint8
	// CaptureID is the capture agent id: chunk 0x000c, or the v2 captid.
	CaptureID uint32
	// KeepAlive is chunk 0x000d, seconds.
	KeepAlive uint16
	// AuthKey is chunk 0x000e, the sender's authentication key. Compare it in
	// constant time.
	AuthKey []byte
	// Payload is the captured message: chunk 0x000f, or the inflated chunk
	// 0x0010 when Compressed is true; for v1/v2 everything after the header.
	Payload []byte
	// Compressed reports that Payload was inflated from chunk 0x0010 into the
	// decoder's own buffer. When a packet has both 0x000f and 0x0010, 0x000f
	// is used and nothing is inflated.
	Compressed bool
	// CompressedPayload is the raw chunk 0x0010, nil when absent.
	CompressedPayload []byte
	// CorrelationID is chunk 0x0011.
	CorrelationID []byte
	// VLAN is chunk 0x0012.
	VLAN uint16
	// NodeName is chunk 0x0013, the capture agent name.
	NodeName []byte
	// SrcMAC and DstMAC are chunks 0x0014 and 0x0015 (uint64 on the wire; the
	// MAC is in the low 48 bits).
	SrcMAC, DstMAC uint64
	// EthType is chunk 0x0016.
	EthType uint16
	// TCPFlags is chunk 0x0017.
	TCPFlags uint8
	// TOS is chunk 0x0018, the IP type of service.
	TOS uint8
	// MOS (0x0020) and RFactor (0x0021) are voice quality values.
	MOS, RFactor uint16
	// Geo is chunk 0x0022, the GEO location.
	Geo []byte
	// Jitter is chunk 0x0023.
	Jitter uint32
	// TransactionType is chunk 0x0024 ("call", "registration").
	TransactionType []byte
	// JSONKeys is chunk 0x0025, the payload JSON keys.
	JSONKeys []byte
	// Tags is chunk 0x0026, the tags' values; TagType is chunk 0x0027.
	Tags    []byte
	TagType uint16
	// EventType is chunk 0x0028 (1 recording, 2 recording LI).
	EventType uint16
	// GroupID is chunk 0x0029.
	GroupID []byte

	// Chunks has bit t set for each generic (vendor 0) chunk type t < 64 seen.
	Chunks uint64
	// Skipped counts chunks skipped by their length: vendor chunks, and
	// generic types this decoder does not know.
	Skipped int
	// Len is the number of input bytes this packet occupies: the v3 total
	// length, or the whole input for v1/v2.
	Len int
	// Rest is the input after Len: trailing bytes of a datagram, or the next
	// message in a stream. nil when there is none.
	Rest []byte

	// MaxInflate caps the size of an inflated 0x0010 payload; 0 means
	// DefaultHEPMaxInflate. It is configuration: Reset does not clear it.
	MaxInflate int

	// inflater is created on the first compressed payload: a decoder that
	// never sees one carries no inflate state.
	inflater *hepInflater
}

// Reset clears the decoded fields. MaxInflate and the inflate state (buffer,
// readers) are kept for reuse.
func (h *HEP) Reset() {
	max, inf := h.MaxInflate, h.inflater
	*h = HEP{}
	h.MaxInflate, h.inflater = max, inf
}

// MicroTS returns the capture time in microseconds since the Unix epoch, 0
// when the packet carries no time.
func (h *HEP) MicroTS() int64 { return int64(h.TSSec)*1e6 + int64(h.TSUsec) }

// Has reports whether the last packet carried the generic chunk type t.
// For v1/v2 it is always false.
func (h *HEP) Has(t uint16) bool { return t < 64 && h.Chunks&(1<<t) != 0 }

// IsSIP reports whether Payload is a SIP message (protocol type 1).
func (h *HEP) IsSIP() bool { return h.ProtoType == HEPTypeSIP }

// FillMeta writes what the HEP header says about the carried message into m
// and pushes LayerHEP onto m.Encap. It overwrites Family, Proto, Src, Dst,
// the ports, CaptureID, Node, CorrelationID and HEPVersion. TS is set only
// when the packet carries a time (v2, or v3 with chunk 0x0009) and VLAN only
// when chunk 0x0012 is present, so the caller may preset both from the outer
// frame. Slices in m share h's lifetime.
func (h *HEP) FillMeta(m *Meta) {
	m.Family = h.Family
	m.Proto = h.Proto
	m.Src, m.Dst = h.Src, h.Dst
	m.SrcPort, m.DstPort = h.SrcPort, h.DstPort
	if h.Version == 2 || h.Has(hepChunkTSSec) {
		m.TS = h.MicroTS()
	}
	if h.Has(hepChunkVLAN) {
		m.VLAN = h.VLAN
	}
	m.CaptureID = h.CaptureID
	m.Node = h.NodeName
	m.CorrelationID = h.CorrelationID
	m.HEPVersion = h.Version
	m.Encap.Push(LayerHEP)
}

// DecodeFrom decodes the HEP packet at the start of data. It detects the
// version by the first bytes: 1 or 2 for v1/v2, "HEP3" (or "EEP3") for v3.
// The 2013 draft's "EEP1" is not accepted: its chunks 0x0010 and 0x0011 mean
// different things. On error the fields are undefined (call Reset or decode
// again). It never panics.
func (h *HEP) DecodeFrom(data []byte) error {
	h.Reset()
	// v3, what agents send, is tested first. Loaded before anything else
	// reads data[0], the magic is one 4-byte load; in the switch below the
	// compiler reuses the data[0] load and assembles the rest byte by byte.
	if len(data) >= 4 {
		if m := binary.BigEndian.Uint32(data); m == hepMagicHEP3 || m == hepMagicEEP3 {
			return h.decodeV3(data)
		}
	}
	if len(data) < 1 {
		return ErrHEPTruncated
	}
	switch data[0] {
	case 1, 2:
		return h.decodeV12(data)
	case 'H', 'E':
		if len(data) < 4 {
			if hepMagicPrefix(data) {
				return ErrHEPTruncated
			}
			return ErrHEPBadVersion
		}
		m := binary.BigEndian.Uint32(data)
		if m != hepMagicHEP3 && m != hepMagicEEP3 {
			return ErrHEPBadVersion
		}
		return h.decodeV3(data)
	}
	return ErrHEPBadVersion
}

const (
	hepMagicHEP3 = 0x48455033 // "HEP3"
	hepMagicEEP3 = 0x45455033 // "EEP3"
)

// hepMagicPrefix reports whether b (up to its first 4 bytes) is a prefix of
// "HEP3" or "EEP3".
func hepMagicPrefix(b []byte) bool {
	const h, e = "HEP3", "EEP3"
	if len(b) > 4 {
		b = b[:4]
	}
	for i := range b {
		if b[i] != h[i] && b[i] != e[i] {
			return false
		}
	}
	return len(b) > 0 && (b[0] == 'H' || b[0] == 'E')
}

// decodeV12 decodes the fixed v1/v2 header (struct hep_hdr + hep_iphdr or
// hep_ip6hdr, then hep_timehdr for v2; see kamailio sipcapture hep.h):
//
//	0 version, 1 header length (ignored, as Kamailio and OpenSIPS do),
//	2 family, 3 protocol, 4 sport BE, 6 dport BE, 8 addresses (4+4 or 16+16),
//	v2 then: tv_sec LE u32, tv_usec LE u32, captid LE u16, 2 pad bytes.
func (h *HEP) decodeV12(data []byte) error {
	if len(data) < 8 {
		return ErrHEPTruncated
	}
	h.Version = data[0]
	h.Family = data[2]
	h.Proto = data[3]
	h.SrcPort = binary.BigEndian.Uint16(data[4:6])
	h.DstPort = binary.BigEndian.Uint16(data[6:8])
	var off int
	switch h.Family {
	case 2:
		if len(data) < 16 {
			return ErrHEPTruncated
		}
		h.Src = netip.AddrFrom4([4]byte(data[8:12]))
		h.Dst = netip.AddrFrom4([4]byte(data[12:16]))
		off = 16
	case 10:
		if len(data) < 40 {
			return ErrHEPTruncated
		}
		h.Src = netip.AddrFrom16([16]byte(data[8:24]))
		h.Dst = netip.AddrFrom16([16]byte(data[24:40]))
		off = 40
	default:
		return ErrHEPBadFamily
	}
	if h.Version == 2 {
		if len(data) < off+12 {
			return ErrHEPTruncated
		}
		t := data[off : off+12]
		h.TSSec = binary.LittleEndian.Uint32(t[0:4])
		h.TSUsec = binary.LittleEndian.Uint32(t[4:8])
		h.CaptureID = uint32(binary.LittleEndian.Uint16(t[8:10]))
		off += 12
	}
	h.ProtoType = HEPTypeSIP
	h.Payload = data[off:]
	h.Len = len(data)
	return nil
}

// decodeV3 walks the chunks of a HEP v3 packet. data starts with the magic.
func (h *HEP) decodeV3(data []byte) error {
	if len(data) < 6 {
		return ErrHEPTruncated
	}
	total := int(binary.BigEndian.Uint16(data[4:6]))
	if total < 6 {
		return ErrHEPBadLength
	}
	if total > len(data) {
		return ErrHEPTruncated
	}
	h.Version = 3
	h.Len = total
	if total < len(data) {
		h.Rest = data[total:]
	}
	// The loop indexes data instead of reslicing a cursor, and checks fixed
	// sizes per case against the chunk length: both cut instructions per chunk
	// on the ~14-chunk packets agents send (see bench/results/hep.md).
	// chunks and skipped are kept in registers and stored once: through h,
	// every chunk's store would reload and store them again.
	// d ends at total, so slicing it is checked against total, which the
	// loop has already compared with. off, the next chunk's offset, is a
	// uint16 (total is, and every chunk ends inside it): from the type the
	// compiler knows off+6 cannot overflow and drops the header slice's
	// bounds check, two compares per chunk with an int offset. The loop runs
	// while a chunk header fits; if bytes are left after it (1 to 5), they
	// are a cut header.
	var chunks uint64
	skipped := 0
	d := data[:total:total]
	off := uint16(6)
	for int(off)+6 <= total {
		i := int(off)
		hd := d[i : i+6 : i+6]
		vt := binary.BigEndian.Uint32(hd) // vendor id << 16 | type id
		n := int(binary.BigEndian.Uint16(hd[4:6]))
		if n < 6 || i+n > total {
			return ErrHEPBadChunk
		}
		off = uint16(i + n)
		// c is the chunk, header included, for the fixed-size values: with
		// its length compared to a constant, their loads need no checks.
		// The variable-length values are sliced from data, not c, so that
		// their capacity runs to the end of the input as it always has.
		c := d[i : i+n : i+n]
		switch vt {
		case hepChunkFamily:
			if n != 6+1 {
				return ErrHEPChunkSize
			}
			h.Family = c[6]
		case hepChunkProto:
			if n != 6+1 {
				return ErrHEPChunkSize
			}
			h.Proto = c[6]
		case hepChunkSrc4:
			if n != 6+4 {
				return ErrHEPChunkSize
			}
			h.Src = netip.AddrFrom4([4]byte(c[6:10]))
		case hepChunkDst4:
			if n != 6+4 {
				return ErrHEPChunkSize
			}
			h.Dst = netip.AddrFrom4([4]byte(c[6:10]))
		case hepChunkSrc6:
			if n != 6+16 {
				return ErrHEPChunkSize
			}
			h.Src = netip.AddrFrom16([16]byte(c[6:22]))
		case hepChunkDst6:
			if n != 6+16 {
				return ErrHEPChunkSize
			}
			h.Dst = netip.AddrFrom16([16]byte(c[6:22]))
		case hepChunkSrcPort:
			if n != 6+2 {
				return ErrHEPChunkSize
			}
			h.SrcPort = binary.BigEndian.Uint16(c[6:8])
		case hepChunkDstPort:
			if n != 6+2 {
				return ErrHEPChunkSize
			}
			h.DstPort = binary.BigEndian.Uint16(c[6:8])
		case hepChunkTSSec:
			if n != 6+4 {
				return ErrHEPChunkSize
			}
			h.TSSec = binary.BigEndian.Uint32(c[6:10])
		case hepChunkTSUsec:
			if n != 6+4 {
				return ErrHEPChunkSize
			}
			h.TSUsec = binary.BigEndian.Uint32(c[6:10])
		case hepChunkProtoType:
			if n != 6+1 {
				return ErrHEPChunkSize
			}
			h.ProtoType = c[6]
		case hepChunkCaptureID:
			if n != 6+4 {
				return ErrHEPChunkSize
			}
			h.CaptureID = binary.BigEndian.Uint32(c[6:10])
		case hepChunkKeepAlive:
			if n != 6+2 {
				return ErrHEPChunkSize
			}
			h.KeepAlive = binary.BigEndian.Uint16(c[6:8])
		case hepChunkAuthKey:
			h.AuthKey = data[i+6 : i+n]
		case hepChunkPayload:
			h.Payload = data[i+6 : i+n]
		case hepChunkCompressed:
			h.CompressedPayload = data[i+6 : i+n]
		case hepChunkCorrID:
			h.CorrelationID = data[i+6 : i+n]
		case hepChunkVLAN:
			if n != 6+2 {
				return ErrHEPChunkSize
			}
			h.VLAN = binary.BigEndian.Uint16(c[6:8])
		case hepChunkNodeName:
			h.NodeName = data[i+6 : i+n]
		case hepChunkSrcMAC:
			if n != 6+8 {
				return ErrHEPChunkSize
			}
			h.SrcMAC = binary.BigEndian.Uint64(c[6:14])
		case hepChunkDstMAC:
			if n != 6+8 {
				return ErrHEPChunkSize
			}
			h.DstMAC = binary.BigEndian.Uint64(c[6:14])
		case hepChunkEthType:
			if n != 6+2 {
				return ErrHEPChunkSize
			}
			h.EthType = binary.BigEndian.Uint16(c[6:8])
		case hepChunkTCPFlags:
			if n != 6+1 {
				return ErrHEPChunkSize
			}
			h.TCPFlags = c[6]
		case hepChunkTOS:
			if n != 6+1 {
				return ErrHEPChunkSize
			}
			h.TOS = c[6]
		case hepChunkMOS:
			if n != 6+2 {
				return ErrHEPChunkSize
			}
			h.MOS = binary.BigEndian.Uint16(c[6:8])
		case hepChunkRFactor:
			if n != 6+2 {
				return ErrHEPChunkSize
			}
			h.RFactor = binary.BigEndian.Uint16(c[6:8])
		case hepChunkGeo:
			h.Geo = data[i+6 : i+n]
		case hepChunkJitter:
			if n != 6+4 {
				return ErrHEPChunkSize
			}
			h.Jitter = binary.BigEndian.Uint32(c[6:10])
		case hepChunkTransType:
			h.TransactionType = data[i+6 : i+n]
		case hepChunkJSONKeys:
			h.JSONKeys = data[i+6 : i+n]
		case hepChunkTags:
			h.Tags = data[i+6 : i+n]
		case hepChunkTagType:
			if n != 6+2 {
				return ErrHEPChunkSize
			}
			h.TagType = binary.BigEndian.Uint16(c[6:8])
		case hepChunkEventType:
			if n != 6+2 {
				return ErrHEPChunkSize
			}
			h.EventType = binary.BigEndian.Uint16(c[6:8])
		case hepChunkGroupID:
			h.GroupID = data[i+6 : i+n]
		default:
			// A vendor chunk, or a generic type this decoder does not know.
			skipped++
			continue
		}
		chunks |= 1 << (vt & 63) // known types are < 64; the mask drops the shift check
	}
	if int(off) != total {
		return ErrHEPBadChunk
	}
	h.Chunks, h.Skipped = chunks, skipped
	if h.Family == 0 {
		switch {
		case h.Src.Is4() || h.Dst.Is4():
			h.Family = 2
		case h.Src.Is6() || h.Dst.Is6():
			h.Family = 10
		}
	}
	if h.Payload == nil && h.CompressedPayload != nil {
		if h.inflater == nil {
			h.inflater = new(hepInflater)
		}
		p, err := h.inflater.inflate(h.CompressedPayload, h.maxInflate())
		if err != nil {
			return err
		}
		h.Payload = p
		h.Compressed = true
	}
	return nil
}

// HEPAuthorized reports whether every HEP message in packet carries an auth
// key chunk (0x000e) equal to key, for a listener that requires one. It
// walks the chunk headers only (nothing is copied or inflated), about half
// the work of a decode. The packet must consist of well-formed HEP v3
// messages and nothing else, up to the eight that Path.DecodeHEP decodes:
// any other bytes after a message (a v1 or v2 header, which carries no key
// and which DecodeHEP would decode, or anything else) make the packet
// unauthorized. That is stricter than DecodeHEP, which keeps the messages
// before a bad one; an agent that sends a key sends clean packets. When a
// message carries several key chunks the last counts, as in DecodeFrom.
// The keys are compared in constant time.
func HEPAuthorized(packet, key []byte) bool {
	if len(packet) == 0 {
		return false
	}
	for i := 0; i < maxHEPPerDatagram && len(packet) > 0; i++ {
		if len(packet) < 6 {
			return false
		}
		if m := binary.BigEndian.Uint32(packet); m != hepMagicHEP3 && m != hepMagicEEP3 {
			return false
		}
		total := int(binary.BigEndian.Uint16(packet[4:6]))
		if total < 6 || total > len(packet) {
			return false
		}
		// The walk of decodeV3's chunk loop (see the comments there).
		var got []byte
		msg := packet[:total:total]
		off := uint16(6)
		for int(off)+6 <= total {
			j := int(off)
			hd := msg[j : j+6 : j+6]
			n := int(binary.BigEndian.Uint16(hd[4:6]))
			if n < 6 || j+n > total {
				break
			}
			if binary.BigEndian.Uint32(hd) == hepChunkAuthKey {
				got = msg[j+6 : j+n]
			}
			off = uint16(j + n)
		}
		if int(off) != total || subtle.ConstantTimeCompare(got, key) != 1 {
			return false
		}
		packet = packet[total:]
	}
	return true
}

func (h *HEP) maxInflate() int {
	if h.MaxInflate > 0 {
		return h.MaxInflate
	}
	return DefaultHEPMaxInflate
}

// hepInflater inflates 0x0010 payloads into a buffer it owns. The readers are
// created on first use and Reset afterwards, so the steady state allocates
// only what klauspost/compress allocates inside Reset (see hep_allocs_test.go).
type hepInflater struct {
	src bytes.Reader // implements io.ByteReader, so no bufio is wrapped around it
	buf []byte
	gz  *gzip.Reader
	zl  io.ReadCloser // zlib reader; also a zlib.Resetter
	fl  io.ReadCloser // raw deflate reader; also a flate.Resetter
}

// hepInflateStart is the first size of the inflate buffer; it doubles up to
// the cap.
const hepInflateStart = 8 << 10

// inflate decompresses src (gzip, zlib, or raw deflate, told apart by the
// first bytes) into the owned buffer and returns it. The result is valid until
// the next call.
func (f *hepInflater) inflate(src []byte, max int) ([]byte, error) {
	f.src.Reset(src)
	var r io.Reader
	switch {
	case len(src) >= 2 && src[0] == 0x1f && src[1] == 0x8b:
		if f.gz == nil {
			gz, err := gzip.NewReader(&f.src)
			if err != nil {
				return nil, ErrHEPInflate
			}
			f.gz = gz
		} else if err := f.gz.Reset(&f.src); err != nil {
			return nil, ErrHEPInflate
		}
		f.gz.Multistream(false)
		r = f.gz
	case len(src) >= 2 && src[0]&0x0f == 8 && src[0]>>4 <= 7 && binary.BigEndian.Uint16(src)%31 == 0:
		if f.zl == nil {
			zl, err := zlib.NewReader(&f.src)
			if err != nil {
				return nil, ErrHEPInflate
			}
			f.zl = zl
		} else if err := f.zl.(zlib.Resetter).Reset(&f.src, nil); err != nil {
			return nil, ErrHEPInflate
		}
		r = f.zl
	default:
		if f.fl == nil {
			f.fl = flate.NewReader(&f.src)
		} else if err := f.fl.(flate.Resetter).Reset(&f.src, nil); err != nil {
			return nil, ErrHEPInflate
		}
		r = f.fl
	}
	n, stalls := 0, 0
	for {
		if n == len(f.buf) {
			if len(f.buf) > max {
				return nil, ErrHEPInflateTooLarge
			}
			f.grow(max)
		}
		m, err := r.Read(f.buf[n:])
		n += m
		if n > max {
			return nil, ErrHEPInflateTooLarge
		}
		if err == io.EOF {
			return f.buf[:n:n], nil
		}
		if err != nil {
			return nil, ErrHEPInflate
		}
		if m == 0 {
			// A reader that makes no progress without an error; do not spin.
			if stalls++; stalls > 16 {
				return nil, ErrHEPInflate
			}
		} else {
			stalls = 0
		}
	}
}

// grow enlarges buf: doubling from hepInflateStart, to at most max+1 bytes
// (the extra byte detects a payload over the cap).
func (f *hepInflater) grow(max int) {
	n := 2 * len(f.buf)
	if n < hepInflateStart {
		n = hepInflateStart
	}
	if n > max+1 {
		n = max + 1
	}
	nb := make([]byte, n)
	copy(nb, f.buf)
	f.buf = nb
}
