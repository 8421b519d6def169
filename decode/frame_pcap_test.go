package decode

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// sharedPcapDir returns the shared capture folder or skips the test.
func sharedPcapDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("APPLIANCE_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared")
	}
	dir = filepath.Join(dir, "testdata", "pcap")
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Skipf("shared captures not found at %s (set APPLIANCE_SHARED): %v", dir, err)
	}
	return dir
}

// capturePacket is one frame read from a capture file.
type capturePacket struct {
	data []byte
	link LinkType
	ts   int64
}

// readCapture reads every frame of a pcap or pcapng file.
func readCapture(t testing.TB, path string) []capturePacket {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pkts []capturePacket
	if bytes.HasPrefix(raw, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		for {
			data, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("read %s: %v", path, err)
			}
			lt := r.LinkType()
			if ci.InterfaceIndex >= 0 {
				if intf, err := r.Interface(ci.InterfaceIndex); err == nil {
					lt = intf.LinkType
				}
			}
			pkts = append(pkts, capturePacket{data, LinkType(lt), ci.Timestamp.UnixMicro()})
		}
		return pkts
	}
	r, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		pkts = append(pkts, capturePacket{data, LinkType(r.LinkType()), ci.Timestamp.UnixMicro()})
	}
	return pkts
}

// sourcesCounts parses the summary table of SOURCES.md: file name to SIP
// message counts by method or status code ("INVITE", "200").
func sourcesCounts(t testing.TB, dir string) map[string]map[string]int {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| file") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 6 {
			continue
		}
		name := strings.TrimSpace(cols[1])
		if !strings.Contains(name, ".pcap") {
			continue
		}
		m := map[string]int{}
		spec := strings.TrimSpace(cols[5])
		spec = strings.TrimPrefix(spec, "HEP-inner:")
		if spec != "none" {
			for _, part := range strings.Split(spec, ",") {
				fs := strings.Fields(part)
				if len(fs) != 2 {
					t.Fatalf("SOURCES.md %s: cannot parse %q", name, part)
				}
				n, err := strconv.Atoi(fs[1])
				if err != nil {
					t.Fatalf("SOURCES.md %s: %v", name, err)
				}
				m[fs[0]] += n
			}
		}
		out[name] = m
	}
	return out
}

// countingHandler counts messages by method or status code and checks that
// every slice aliases the frame or the Path's buffers.
type countingHandler struct {
	t      testing.TB
	counts map[string]int
	frame  []byte
	p      *Path
	encaps map[string]int

	fast, generic SIP
}

func (h *countingHandler) SIP(m *Meta, s *SIP, err error) {
	key := string(s.Method)
	if s.Method == nil {
		key = strconv.Itoa(int(s.Status))
	}
	h.counts[key]++
	h.encaps[m.Encap.String()]++
	if !h.p.owns(h.frame, s.Msg) {
		h.t.Errorf("SIP.Msg (%d bytes) aliases neither the frame nor the path's buffers", len(s.Msg))
	}
	// The message again, with the decoder's assembly parsers (sipmask.go)
	// and with the portable ones only: the same fields, slice for slice.
	fast, generic := &h.fast, &h.generic
	generic.generic = true
	ferr, gerr := fast.DecodeFrom(s.Msg), generic.DecodeFrom(s.Msg)
	fs, _ := sipSpans(fast, s.Msg)
	gs, _ := sipSpans(generic, s.Msg)
	fs, gs = emptyAnywhere(fs), emptyAnywhere(gs) // see FuzzSIP
	if ferr != gerr || !reflect.DeepEqual(fs, gs) {
		h.t.Errorf("the assembly parsers give %v %v, the portable ones %v %v, on %q", ferr, fs, gerr, gs, s.Msg)
	}
}

func TestPathSharedCaptures(t *testing.T) {
	dir := sharedPcapDir(t)
	want := sourcesCounts(t, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	cfg := &PathConfig{}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			p, err := NewPath(cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := &countingHandler{t: t, counts: map[string]int{}, p: p, encaps: map[string]int{}}
			for _, pk := range readCapture(t, file) {
				h.frame = pk.data
				_ = p.Decode(pk.data, pk.link, pk.ts, 0, h)
			}
			st := p.Stats()
			exp, ok := want[name]
			if !ok {
				t.Fatalf("%s is not in SOURCES.md", name)
			}
			got := h.counts
			if fmtCounts(got) != fmtCounts(exp) {
				t.Errorf("SIP messages:\n got  %s\n want %s\n stats %+v", fmtCounts(got), fmtCounts(exp), statsLine(&st))
			}
			t.Logf("%s encaps %v", fmtCounts(got), h.encaps)
		})
	}
}

func fmtCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + strconv.Itoa(m[k]) + " ")
	}
	return b.String()
}

func statsLine(s *Stats) string {
	var b strings.Builder
	b.WriteString("frames=" + strconv.FormatUint(s.Frames, 10))
	b.WriteString(" sip=" + strconv.FormatUint(s.SIPMessages, 10))
	b.WriteString(" nonsip=" + strconv.FormatUint(s.NonSIP, 10))
	b.WriteString(" other=" + strconv.FormatUint(s.Other, 10))
	b.WriteString(" nonip=" + strconv.FormatUint(s.NonIP, 10))
	for l := range s.Errors {
		for k := range s.Errors[l] {
			if n := s.Errors[l][k]; n > 0 {
				b.WriteString(" err:" + FrameError(uint16(l)<<8|uint16(k)).Error() + "=" + strconv.FormatUint(n, 10))
			}
		}
	}
	for i, n := range s.SIPErrors {
		if n > 0 {
			b.WriteString(" sip:" + SIPErrorKindAt(i) + "=" + strconv.FormatUint(n, 10))
		}
	}
	b.WriteString(" tcp=" + strconv.FormatUint(s.TCP.Messages, 10))
	return b.String()
}
