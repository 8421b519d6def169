package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"
)

type pcapRec struct {
	data     []byte
	sec, sub uint32 // sub: micro- or nanoseconds as the magic says
	wire     uint32
}

// pcapBytes writes a classic pcap file by hand in the given byte order, with
// nanosecond time stamps when nano is set.
func pcapBytes(order binary.AppendByteOrder, nano bool, link uint32, recs []pcapRec) []byte {
	var b []byte
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 262144)
	b = order.AppendUint32(b, link)
	for _, r := range recs {
		b = order.AppendUint32(b, r.sec)
		b = order.AppendUint32(b, r.sub)
		b = order.AppendUint32(b, uint32(len(r.data)))
		b = order.AppendUint32(b, r.wire)
		b = append(b, r.data...)
	}
	return b
}

func randomRecs(r *rand.Rand, n, maxLen int) []pcapRec {
	recs := make([]pcapRec, n)
	for i := range recs {
		d := make([]byte, r.IntN(maxLen+1))
		for j := range d {
			d[j] = byte(r.Uint32())
		}
		recs[i] = pcapRec{data: d, sec: 1_700_000_000 + uint32(i), sub: uint32(r.IntN(1_000_000)), wire: uint32(len(d) + r.IntN(3))}
	}
	return recs
}

// openPcapBytes opens b as a File whose reader has a buffer of bufSize bytes.
func openPcapBytes(t *testing.T, b []byte, bufSize int) *File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.pcap")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := OpenFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if bufSize != pcapBufSize {
		// The same reader over the same file, with a smaller buffer.
		if _, err := p.f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if p.pr, err = newPcapReader(p.f, bufSize); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

type readFrame struct {
	data []byte
	ts   int64
	wire int
}

// drain reads every block of p, copying the frames out, until Next returns
// an error; it returns the frames and that error.
func drain(p *File) ([]readFrame, error) {
	var out []readFrame
	for {
		err := p.Next(func(b *Block) error {
			for b.Next() {
				out = append(out, readFrame{append([]byte(nil), b.Data()...), b.TS(), b.WireLen()})
			}
			return nil
		})
		if err != nil {
			return out, err
		}
	}
}

func checkRecs(t *testing.T, what string, got []readFrame, want []pcapRec, nano bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		ts := int64(w.sec)*1e6 + int64(w.sub)
		if nano {
			ts = int64(w.sec)*1e6 + int64(w.sub)/1000
		}
		if g := got[i]; !bytes.Equal(g.data, w.data) || g.ts != ts || g.wire != int(w.wire) {
			t.Fatalf("%s: frame %d: %d bytes ts %d wire %d, want %d bytes ts %d wire %d",
				what, i, len(g.data), g.ts, g.wire, len(w.data), ts, w.wire)
		}
	}
}

// TestPcapReader reads hand-written files in all four magics, with buffers
// small enough that records straddle refills, and checks every frame.
func TestPcapReader(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, nano := range []bool{false, true} {
			recs := randomRecs(r, 500, 600)
			if nano {
				for i := range recs {
					recs[i].sub = uint32(r.IntN(1_000_000_000))
				}
			}
			file := pcapBytes(order, nano, 113|3<<28, recs) // Linux SLL, FCS bits set
			for _, size := range []int{pcapBufSize, 700, 1000, 4096} {
				p := openPcapBytes(t, file, size)
				if p.LinkType() != 113 {
					t.Fatalf("link type %d, want 113", p.LinkType())
				}
				got, err := drain(p)
				if err != io.EOF {
					t.Fatalf("%v nano %v buffer %d: end %v, want io.EOF", order, nano, size, err)
				}
				checkRecs(t, "whole file", got, recs, nano)
			}
		}
	}
}

// TestPcapReaderDamage cuts a file at every byte of its last two records and
// gives one record an impossible length: the whole frames before come out,
// then one error, then io.EOF.
func TestPcapReaderDamage(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	recs := randomRecs(r, 20, 100)
	file := pcapBytes(binary.LittleEndian, false, 1, recs)
	last2 := len(file) - 2*16 - len(recs[18].data) - len(recs[19].data)
	for cut := last2 + 1; cut < len(file); cut++ {
		if cut == last2+16+len(recs[18].data) {
			continue // a clean end after 19 records
		}
		for _, size := range []int{pcapBufSize, 300} {
			p := openPcapBytes(t, file[:cut], size)
			got, err := drain(p)
			whole := 18
			if cut >= last2+16+len(recs[18].data) {
				whole = 19
			}
			checkRecs(t, "cut file", got, recs[:whole], false)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d of %d, buffer %d: end %v, want unexpected EOF", cut, len(file), size, err)
			}
			if err := p.Next(func(*Block) error { return nil }); err != io.EOF {
				t.Fatalf("cut at %d: after the error %v, want io.EOF", cut, err)
			}
		}
	}
	bad := append([]byte(nil), file...)
	off := 24
	for _, rec := range recs[:5] {
		off += 16 + len(rec.data)
	}
	binary.LittleEndian.PutUint32(bad[off+8:], 1<<30)
	got, err := drain(openPcapBytes(t, bad, pcapBufSize))
	checkRecs(t, "bad length", got, recs[:5], false)
	if !errors.Is(err, errPcapRecord) {
		t.Fatalf("bad length: end %v, want %v", err, errPcapRecord)
	}
	if _, err := newPcapReader(bytes.NewReader(file[:20]), 100); err == nil {
		t.Errorf("cut file header accepted")
	}
}

// TestPcapReaderSharedCaptures compares every classic pcap of the shared
// captures, frame by frame, with pcapgo.
func TestPcapReaderSharedCaptures(t *testing.T) {
	for _, path := range sharedCaptures(t, "*.pcap") {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := pcapgo.NewReader(bytes.NewReader(raw))
		if err != nil {
			continue // not classic pcap
		}
		var want []readFrame
		for {
			data, ci, err := pr.ReadPacketData()
			if err != nil {
				break
			}
			want = append(want, readFrame{data, ci.Timestamp.UnixMicro(), ci.Length})
		}
		p, err := OpenFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := drain(p)
		p.Close()
		if len(got) != len(want) {
			t.Errorf("%s: %d frames, pcapgo %d", filepath.Base(path), len(got), len(want))
			continue
		}
		for i := range want {
			if !bytes.Equal(got[i].data, want[i].data) || got[i].ts != want[i].ts || got[i].wire != want[i].wire {
				t.Errorf("%s: frame %d differs from pcapgo's", filepath.Base(path), i)
				break
			}
		}
	}
}

// FuzzPcapReader reads arbitrary bytes after a pcap file header of each
// magic through File with a small buffer: it must not panic, must end with
// io.EOF or an error, and must give the frames pcapgo gives whenever pcapgo
// reads the whole input without error.
func FuzzPcapReader(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	f.Add(uint8(0), pcapBytes(binary.LittleEndian, false, 1, randomRecs(r, 5, 80))[24:])
	f.Add(uint8(3), pcapBytes(binary.BigEndian, true, 1, randomRecs(r, 5, 80))[24:])
	f.Add(uint8(1), []byte{1, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		order := binary.AppendByteOrder(binary.LittleEndian)
		if kind&1 != 0 {
			order = binary.BigEndian
		}
		nano := kind&2 != 0
		file := append(pcapBytes(order, nano, 1, nil), body...)
		pr, err := newPcapReader(bytes.NewReader(file), 512)
		if err != nil {
			t.Fatal(err)
		}
		p := &File{pr: pr, link: pr.link, frames: make([]fileFrame, 0, fileBlockFrames)}
		p.block.file, p.block.linkType = true, pr.link
		got, end := drain(p)
		if end == nil {
			t.Fatal("drain ended without an error")
		}
		g, err := pcapgo.NewReader(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		var want []readFrame
		for {
			data, ci, err := g.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return // pcapgo stops at damage we may read past or judge otherwise
			}
			if len(data) > 512-16 {
				return // longer than this test's buffer
			}
			want = append(want, readFrame{data, ci.Timestamp.UnixMicro(), ci.Length})
		}
		// pcapgo reports a record cut by the end of the input as a clean end;
		// File says unexpected EOF.
		if (end != io.EOF && !errors.Is(end, io.ErrUnexpectedEOF)) || len(got) != len(want) {
			t.Fatalf("%d frames ending with %v; pcapgo reads %d frames to the end", len(got), end, len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i].data, want[i].data) || got[i].wire != want[i].wire {
				t.Fatalf("frame %d differs from pcapgo's", i)
			}
			// pcapgo's time is right unless its 32-bit nanosecond product
			// wrapped (a microsecond field of 4 294 968 or more), which
			// takes whole multiples of 2^32 ns off it.
			if d := got[i].ts - want[i].ts; d != 0 {
				k := float64(d) / 4294967.296
				if nano || d < 0 || math.Abs(k-math.Round(k))*4294967.296 > 2 {
					t.Fatalf("frame %d: time %d, pcapgo %d", i, got[i].ts, want[i].ts)
				}
			}
		}
	})
}

// TestPcapReaderPipe reads from a FIFO whose writer has sent three records
// and then waits: the block must come out while the writer waits, as it did
// through pcapgo, not when 1 MiB or the end of the input has arrived.
func TestPcapReaderPipe(t *testing.T) {
	for _, realtime := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "fifo")
		if err := unix.Mkfifo(path, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		recs := randomRecs(rand.New(rand.NewPCG(9, 10)), 3, 300)
		for i := range recs {
			recs[i].sec = 1_700_000_000 // within one realtime span
		}
		file := pcapBytes(binary.LittleEndian, false, 1, recs)
		release := make(chan struct{})
		writeErr := make(chan error, 1)
		go func() {
			w, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				writeErr <- err
				return
			}
			_, err = w.Write(file)
			<-release
			w.Close()
			writeErr <- err
		}()
		p, err := OpenFile(path, realtime)
		if err != nil {
			close(release)
			t.Fatal(err)
		}
		type result struct {
			got []readFrame
			err error
		}
		first := make(chan result, 1)
		go func() {
			var got []readFrame
			err := p.Next(func(b *Block) error {
				for b.Next() {
					got = append(got, readFrame{append([]byte(nil), b.Data()...), b.TS(), b.WireLen()})
				}
				return nil
			})
			first <- result{got, err}
		}()
		select {
		case r := <-first:
			close(release)
			if r.err != nil {
				t.Fatalf("realtime %v: first block: %v", realtime, r.err)
			}
			checkRecs(t, "first block", r.got, recs, false)
		case <-time.After(5 * time.Second):
			close(release)
			<-first
			t.Fatalf("realtime %v: no block while the writer waits", realtime)
		}
		if err := <-writeErr; err != nil {
			t.Fatal(err)
		}
		if rest, err := drain(p); err != io.EOF || len(rest) != 0 {
			t.Fatalf("realtime %v: after the block: %d frames, %v; want none and io.EOF", realtime, len(rest), err)
		}
		p.Close()
	}
}
