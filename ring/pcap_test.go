package ring

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

type writtenFrame struct {
	data []byte
	ts   time.Time
}

func writeCapture(t *testing.T, ng bool, frames []writtenFrame) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ng {
		w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
		if err != nil {
			t.Fatal(err)
		}
		for _, fr := range frames {
			w.WritePacket(gopacket.CaptureInfo{Timestamp: fr.ts, CaptureLength: len(fr.data), Length: len(fr.data) + 4}, fr.data)
		}
		w.Flush()
	} else {
		w := pcapgo.NewWriter(f)
		w.WriteFileHeader(65535, layers.LinkTypeEthernet)
		for _, fr := range frames {
			w.WritePacket(gopacket.CaptureInfo{Timestamp: fr.ts, CaptureLength: len(fr.data), Length: len(fr.data) + 4}, fr.data)
		}
	}
	return path
}

func readAll(t *testing.T, path string, realtime bool) (frames []writtenFrame, wire []int, blocks int) {
	t.Helper()
	p, err := OpenFile(path, realtime)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for {
		err := p.Next(func(b *Block) error {
			blocks++
			if b.LinkType() != LinkTypeEthernet {
				t.Errorf("link type %d", b.LinkType())
			}
			for b.Next() {
				frames = append(frames, writtenFrame{bytes.Clone(b.Data()), time.UnixMicro(b.TS())})
				wire = append(wire, b.WireLen())
			}
			return nil
		})
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestFileRoundTrip(t *testing.T) {
	base := time.Unix(1700000000, 123456000)
	var in []writtenFrame
	for i := range 1000 {
		in = append(in, writtenFrame{buildFrame(t, frameSpec{proto: layers.IPProtocolUDP, sport: 1000, dport: 5060, payload: marker(uint32(i), 600)})[:60+i%500], base.Add(time.Duration(i) * time.Millisecond)})
	}
	for _, ng := range []bool{false, true} {
		path := writeCapture(t, ng, in)
		got, wire, blocks := readAll(t, path, false)
		if len(got) != len(in) {
			t.Fatalf("ng=%v: read %d frames, want %d", ng, len(got), len(in))
		}
		for i := range in {
			if !bytes.Equal(got[i].data, in[i].data) || !got[i].ts.Equal(in[i].ts) || wire[i] != len(in[i].data)+4 {
				t.Fatalf("ng=%v frame %d differs: ts %v want %v, wire %d", ng, i, got[i].ts, in[i].ts, wire[i])
			}
		}
		if blocks < 1000/fileBlockFrames {
			t.Errorf("ng=%v: %d blocks for 1000 frames", ng, blocks)
		}
	}
}

func TestFileRealtime(t *testing.T) {
	base := time.Unix(1700000000, 0)
	in := []writtenFrame{
		{marker(0, 60), base},
		{marker(1, 60), base.Add(40 * time.Millisecond)},
		{marker(2, 60), base.Add(80 * time.Millisecond)},
	}
	path := writeCapture(t, false, in)
	start := time.Now()
	got, _, blocks := readAll(t, path, true)
	el := time.Since(start)
	if len(got) != 3 || blocks != 3 {
		t.Errorf("realtime: %d frames in %d blocks, want 3 in 3", len(got), blocks)
	}
	if el < 80*time.Millisecond {
		t.Errorf("realtime replay of 80 ms of capture took %v", el)
	}
	start = time.Now()
	if _, _, blocks := readAll(t, path, false); blocks != 1 {
		t.Errorf("top speed: %d blocks, want 1", blocks)
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("this is not a capture file"), 0o600)
	if _, err := OpenFile(bad, false); err == nil {
		t.Errorf("non-capture accepted")
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	if _, err := OpenFile(empty, false); err == nil {
		t.Errorf("empty file accepted")
	}
	if _, err := OpenFile(filepath.Join(dir, "missing"), false); err == nil {
		t.Errorf("missing file accepted")
	}
	// A capture cut in the middle of a frame: the whole frames come first,
	// then the error.
	path := writeCapture(t, false, []writtenFrame{{marker(1, 100), time.Unix(1, 0)}, {marker(2, 100), time.Unix(2, 0)}})
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-30], 0o600)
	p, err := OpenFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	n := 0
	err = p.Next(func(b *Block) error { n = b.Len(); return nil })
	if n != 1 || err == nil || errors.Is(err, io.EOF) {
		t.Errorf("cut file: %d frames, err %v; want 1 frame and a read error", n, err)
	}
	if err := p.Next(func(*Block) error { return nil }); err != io.EOF {
		t.Errorf("after the error: %v, want io.EOF", err)
	}
}

// TestFileSharedCaptures reads every shared capture and checks the frame
// count against pcapgo read directly.
func TestFileSharedCaptures(t *testing.T) {
	paths := sharedCaptures(t, "*.pcap*")
	for _, path := range paths {
		want, wantErr := countDirect(path)
		p, err := OpenFile(path, false)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
			continue
		}
		got := 0
		for {
			err = p.Next(func(b *Block) error {
				for b.Next() {
					got++
				}
				return nil
			})
			if err != nil {
				break
			}
		}
		p.Close()
		if got != want || (err != io.EOF) != wantErr {
			t.Errorf("%s: %d frames (end %v), pcapgo reads %d (error %v)", filepath.Base(path), got, err, want, wantErr)
		}
	}
}

func countDirect(path string) (int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, true
	}
	defer f.Close()
	var r interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var magic [4]byte
	f.Read(magic[:])
	f.Seek(0, io.SeekStart)
	if magic == [4]byte{0x0a, 0x0d, 0x0d, 0x0a} { // by magic: some .pcap files are pcapng
		r, err = pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	} else {
		r, err = pcapgo.NewReader(f)
	}
	if err != nil {
		return 0, true
	}
	n := 0
	for {
		_, _, err := r.ReadPacketData()
		if err == io.EOF {
			return n, false
		}
		if err != nil {
			return n, true
		}
		n++
	}
}

// sharedCaptures returns the shared captures matching pattern, or skips the
// test when there are none (a clone without ../shared).
func sharedCaptures(t *testing.T, pattern string) []string {
	t.Helper()
	dir := os.Getenv("APPLIANCE_SHARED")
	if dir == "" {
		dir = "../../shared"
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "testdata", "pcap", pattern))
	if len(paths) == 0 {
		t.Skipf("no shared captures under %s (set APPLIANCE_SHARED)", dir)
	}
	return paths
}
