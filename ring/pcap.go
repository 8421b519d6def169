package ring

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// File is a pcap or pcapng capture presented as blocks, for `appliance replay`
// and `inspect`. Classic pcap is read into one buffer and its frames are
// handed out where they lie (pcapReader); pcapng frames are read with
// pcapgo's ZeroCopyReadPacketData and copied once into the block's own
// buffer, which is reused for every block. A File is owned by one goroutine.
type File struct {
	f        *os.File
	pr       *pcapReader  // classic pcap
	r        packetReader // pcapng
	link     uint16
	realtime bool

	block  Block
	arena  []byte
	frames []fileFrame
	pend   []byte // a frame read past the end of the previous block
	pendF  fileFrame
	hasPen bool
	eof    bool

	firstTS int64     // first frame's time, for realtime pacing
	start   time.Time // when the first block was handed out
}

type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// File block limits: a block ends at fileBlockFrames frames, fileBlockBytes
// bytes or, with realtime pacing, fileBlockSpan of capture time.
const (
	fileBlockFrames = 256
	fileBlockBytes  = 1 << 20
	fileBlockSpan   = 10 * time.Millisecond
)

// OpenFile opens a pcap (any of its four magics) or pcapng file. With
// realtime the blocks are handed out at the pace of the capture's own
// timestamps; otherwise as fast as they are read.
func OpenFile(path string, realtime bool) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("open capture %s: read magic: %w", path, err)
	}
	// The magic read again in front of the rest, so that a pipe works too.
	in := io.MultiReader(bytes.NewReader(magic[:]), f)
	p := &File{f: f, realtime: realtime, frames: make([]fileFrame, 0, fileBlockFrames)}
	switch binary.LittleEndian.Uint32(magic[:]) {
	case 0x0a0d0d0a:
		p.r, err = pcapgo.NewNgReader(bufio.NewReaderSize(in, 1<<20), pcapgo.DefaultNgReaderOptions)
		if err == nil {
			p.link = uint16(p.r.LinkType())
			p.arena = make([]byte, 0, fileBlockBytes+64<<10)
		}
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		p.pr, err = newPcapReader(in, pcapBufSize)
		if err == nil {
			p.link = p.pr.link
			if st, serr := f.Stat(); serr == nil && !st.Mode().IsRegular() {
				p.pr.stream = true // hand out records as a pipe delivers them
			}
		}
	default:
		err = fmt.Errorf("magic %x is neither pcap nor pcapng", magic)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open capture %s: %w", path, err)
	}
	p.block.file = true
	p.block.linkType = p.link
	return p, nil
}

// LinkType is the capture's pcap link type (1 Ethernet, 113 Linux SLL, ...).
func (p *File) LinkType() uint16 { return p.link }

// Close closes the file.
func (p *File) Close() error { return p.f.Close() }

// Next reads the next block of frames and calls fn with it. The block and its
// bytes are valid only inside fn. At the end of the file it returns io.EOF
// without calling fn; a damaged file returns the read error after the frames
// before the damage have been delivered.
func (p *File) Next(fn func(b *Block) error) error {
	if p.pr != nil {
		return p.nextPcap(fn)
	}
	if p.eof && !p.hasPen {
		return io.EOF
	}
	p.arena, p.frames = p.arena[:0], p.frames[:0]
	if p.hasPen {
		p.add(p.pend, p.pendF)
		p.hasPen = false
	}
	var readErr error
	for !p.eof && len(p.frames) < fileBlockFrames && len(p.arena) < fileBlockBytes {
		data, ci, err := p.r.ZeroCopyReadPacketData()
		if err != nil {
			p.eof = true
			if !errors.Is(err, io.EOF) {
				readErr = fmt.Errorf("read capture: %w", err)
			}
			break
		}
		fr := fileFrame{wire: uint32(ci.Length), ts: ci.Timestamp.UnixMicro()}
		if p.realtime && len(p.frames) > 0 && fr.ts-p.frames[0].ts > fileBlockSpan.Microseconds() {
			p.pend = append(p.pend[:0], data...)
			p.pendF, p.hasPen = fr, true
			break
		}
		p.add(data, fr)
	}
	if len(p.frames) == 0 {
		if readErr != nil {
			return readErr
		}
		return io.EOF
	}
	if p.realtime {
		p.pace(p.frames[0].ts)
	}
	b := &p.block
	b.mem, b.frames, b.n = p.arena, p.frames, len(p.frames)
	b.Rewind()
	err := fn(b)
	b.mem, b.frames, b.n, b.data = nil, nil, 0, nil
	if err != nil {
		return err
	}
	return readErr
}

// nextPcap is Next for classic pcap: the block's frames are the complete
// records in the reader's buffer, up to fileBlockFrames (and, with realtime
// pacing, fileBlockSpan of capture time); the buffer is refilled only when
// it holds no complete record, before the block starts.
func (p *File) nextPcap(fn func(b *Block) error) error {
	pr := p.pr
	p.frames = p.frames[:0]
	var readErr error
	for len(p.frames) < fileBlockFrames {
		fr, next, ok, err := pr.peek()
		if err == nil && !ok && pr.eof && pr.off < pr.end {
			err = io.ErrUnexpectedEOF // the input ends inside a record
		}
		if err != nil {
			// Deliver the frames before the damage, then the error once;
			// the next call reports io.EOF.
			readErr = err
			pr.off, pr.eof = pr.end, true
			break
		}
		if !ok {
			if len(p.frames) > 0 {
				break
			}
			if err := pr.fill(); err != nil {
				if !errors.Is(err, io.EOF) {
					readErr = err
					pr.off, pr.eof = pr.end, true
				}
				break
			}
			continue
		}
		if p.realtime && len(p.frames) > 0 && fr.ts-p.frames[0].ts > fileBlockSpan.Microseconds() {
			break
		}
		p.frames = append(p.frames, fr)
		pr.off = next
	}
	if len(p.frames) == 0 {
		if readErr != nil {
			return fmt.Errorf("read capture: %w", readErr)
		}
		return io.EOF
	}
	if p.realtime {
		p.pace(p.frames[0].ts)
	}
	b := &p.block
	b.mem, b.frames, b.n = pr.buf[:pr.end], p.frames, len(p.frames)
	b.Rewind()
	err := fn(b)
	b.mem, b.frames, b.n, b.data = nil, nil, 0, nil
	if err != nil {
		return err
	}
	if readErr != nil {
		return fmt.Errorf("read capture: %w", readErr)
	}
	return nil
}

func (p *File) add(data []byte, fr fileFrame) {
	fr.start = uint32(len(p.arena))
	p.arena = append(p.arena, data...)
	fr.end = uint32(len(p.arena))
	p.frames = append(p.frames, fr)
}

// pace sleeps until a frame captured at ts is due, relative to the first.
func (p *File) pace(ts int64) {
	if p.start.IsZero() {
		p.start, p.firstTS = time.Now(), ts
		return
	}
	if d := time.Until(p.start.Add(time.Duration(ts-p.firstTS) * time.Microsecond)); d > 0 {
		time.Sleep(d)
	}
}
