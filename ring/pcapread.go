package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// pcapReader reads classic pcap (any of the four magics: microsecond or
// nanosecond time stamps, either byte order) from an io.Reader into one
// buffer and hands out records as sub-slices of it, so that a frame is copied
// once, by the read system call. pcapgo's reader copies each frame twice more
// (through its bufio.Reader into its packet buffer) and File then once into
// its block; on the 500 000-message capture of bench/ that was about a sixth
// of the whole decode's time. pcapng stays with pcapgo.
//
// Where it differs from pcapgo, on damaged or unusual files: a record whose
// captured length exceeds its length on the wire is read (pcapgo stops
// there); the file header's version is not checked; a record cut by the end
// of the file is reported as io.ErrUnexpectedEOF (pcapgo drops it as a clean
// end); a microsecond field of 4 294 968 or more gives the time it says
// (pcapgo's nanosecond product wraps in 32 bits); a record longer than
// 256 KiB is an error even when the header's snapshot length is larger.
// The shared captures read the same, frame by frame (TestPcapReaderSharedCaptures).
//
// Records are parsed from buf[off:end]. A record's bytes stay where they are
// until fill moves the unparsed tail to the front, which File does only
// before it starts a block, so every frame of a block lies in buf until the
// next block.
type pcapReader struct {
	r        io.Reader
	buf      []byte
	off, end int
	eof      bool
	swapped  bool // big-endian file on a little-endian reading, or the reverse
	nano     bool
	link     uint16
	// stream is set for a pipe or other input that is not a regular file:
	// fill returns once a whole record is in instead of filling the buffer.
	stream bool
}

// pcapBufSize is the reader's buffer: a few hundred frames of SIP, and room
// for the largest record pcapMaxRecord allows.
const pcapBufSize = 1 << 20

// pcapMaxRecord bounds a record's captured length: 256 KiB is libpcap's
// largest snapshot length, so a longer record means a damaged file.
const pcapMaxRecord = 256 << 10

// errPcapRecord reports a record header that cannot be right.
var errPcapRecord = errors.New("pcap: record longer than 256 KiB or than the read buffer (damaged file?)")

// newPcapReader reads the 24-byte file header (its magic already known to be
// a pcap magic) and returns the reader.
func newPcapReader(r io.Reader, bufSize int) (*pcapReader, error) {
	p := &pcapReader{r: r, buf: make([]byte, bufSize)}
	var hdr [24]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("pcap file header: %w", err)
	}
	switch binary.LittleEndian.Uint32(hdr[:]) {
	case 0xa1b2c3d4:
	case 0xa1b23c4d:
		p.nano = true
	case 0xd4c3b2a1:
		p.swapped = true
	case 0x4d3cb2a1:
		p.swapped, p.nano = true, true
	default:
		return nil, fmt.Errorf("magic %x is not pcap", hdr[:4])
	}
	// The link type is the low 16 bits; the high bits may hold the FCS length.
	p.link = uint16(p.u32(hdr[20:]))
	return p, nil
}

// u32 reads a header field in the file's byte order.
func (p *pcapReader) u32(b []byte) uint32 {
	if p.swapped {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// peek returns the next record in the buffer without consuming it; ok is
// false when the buffer does not hold all of it. A record header that cannot
// be right is an error.
func (p *pcapReader) peek() (fr fileFrame, next int, ok bool, err error) {
	if p.end-p.off < 16 {
		return fr, 0, false, nil
	}
	h := p.buf[p.off : p.off+16]
	caplen := p.u32(h[8:])
	if caplen > pcapMaxRecord {
		return fr, 0, false, errPcapRecord
	}
	start := p.off + 16
	next = start + int(caplen)
	if next > p.end {
		return fr, 0, false, nil
	}
	sub := int64(p.u32(h[4:]))
	if p.nano {
		sub /= 1000
	}
	fr = fileFrame{start: uint32(start), end: uint32(next), wire: p.u32(h[12:]),
		ts: int64(p.u32(h[0:]))*1e6 + sub}
	return fr, next, true, nil
}

// fill moves the unparsed bytes to the front of the buffer and reads until
// the buffer is full or the input ends (a stream: until it holds a whole
// record). It reports io.EOF when the input was exhausted before (File tells
// a record cut by the end from a clean end itself). Frames handed out before
// are invalid afterwards.
func (p *pcapReader) fill() error {
	if p.eof {
		return io.EOF
	}
	if p.off == 0 && p.end == len(p.buf) {
		return errPcapRecord // a record larger than the buffer
	}
	n := copy(p.buf, p.buf[p.off:p.end])
	p.off, p.end = 0, n
	for p.end < len(p.buf) {
		m, err := p.r.Read(p.buf[p.end:])
		p.end += m
		if errors.Is(err, io.EOF) {
			p.eof = true
			break
		}
		if err != nil {
			return err
		}
		if m == 0 {
			break
		}
		// A pipe returns what its writer has written so far: stop once a
		// whole record is in, rather than wait for a full buffer that a
		// slow writer (a live tcpdump -w -) may take minutes to send.
		if p.stream {
			if _, _, ok, err := p.peek(); ok || err != nil {
				break
			}
		}
	}
	if p.end == 0 && p.eof {
		return io.EOF
	}
	return nil
}
