package bench

// Frame path versus the decoder a Go user would write, over one generated
// capture of at least 500 000 SIP messages in varied encapsulations (plain,
// 802.1Q, QinQ, IPv6, IPIP, GRE, VXLAN, SIP over TCP, IPv4 fragments). The
// capture is written with pcapgo into a temporary folder as ten files of
// consecutive messages (the capture cut at message boundaries, as a rotating
// tcpdump -C would cut it); each b.Loop iteration decodes all of them once,
// in order, with one decoder state.
//
//	go test ./bench -run '^$' -bench FrameCapture -benchtime 1x -count 6
//
// Sub-benchmarks:
//   - baseline: gopacket/gopacket's DecodingLayerParser (Ethernet, Dot1Q,
//     IPv4, IPv6, UDP, TCP, GRE, VXLAN), its ip4defrag for fragments, and
//     emiago/sipgo's parser on every UDP/TCP payload; files read by pcapgo.
//   - path: decode.Path (frame path, defrag, TCP streams, SIP decoder);
//     files read by ring.File, as `appliance inspect` reads them.
//   - interleaved: both, file by file in turn (baseline first on even
//     files, path first on odd ones), each one's CPU time summed over its
//     own turns. The shared machine this was measured on switches for
//     seconds at a time between two speeds about 2x apart; a pass of the
//     baseline (4 s) and one of the path (0.5 s) run one after the other
//     often see different speeds, turns of 0.4 s and 0.05 s mostly the
//     same. Its ratio is the goal's figure.
//
// Reported: msgs/op (SIP messages found per pass) and msgs/cpu-s (SIP
// messages per CPU-second of the process, user + system, from getrusage);
// interleaved reports baseline-msgs/cpu-s, path-msgs/cpu-s and their ratio.
// Neither side keeps the capture in memory: the Go heap holds each
// decoder's own state only, as in a program of its own (a 300 MB live heap
// makes the baseline's garbage collector run less often).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/ring"
)

// frameBenchMessages is the number of SIP messages in the generated capture,
// frameBenchFiles the number of files it is written as.
const (
	frameBenchMessages = 500_000
	frameBenchFiles    = 10
)

// sipTemplates returns real SIP messages: the frame-path fixtures plus the
// UDP SIP payloads of the shared captures when present.
func sipTemplates(tb testing.TB) [][]byte {
	var out [][]byte
	for _, n := range []string{"invite.sip", "ok.sip"} {
		b, err := os.ReadFile(filepath.Join("..", "decode", "testdata", "frame", n))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	dir := os.Getenv("APPLIANCE_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared")
	}
	for _, name := range []string{"sip-udp-register-auth-invite-cancel-ipv4.pcap", "sip-udp-t38-fax-options-bye-ipv4.pcap", "sip-udp-call-rtp-mixed-traffic-ipv4.pcap"} {
		raw, err := os.ReadFile(filepath.Join(dir, "testdata", "pcap", name))
		if err != nil {
			continue // shared captures absent: fixtures only
		}
		r, err := pcapgo.NewReader(bytes.NewReader(raw))
		if err != nil {
			tb.Fatal(err)
		}
		p, _ := decode.NewPath(nil)
		c := &collect{}
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				break
			}
			_ = p.Decode(data, decode.LinkType(r.LinkType()), ci.Timestamp.UnixMicro(), 0, c)
		}
		out = append(out, c.msgs...)
	}
	return out
}

type collect struct{ msgs [][]byte }

func (c *collect) SIP(m *decode.Meta, s *decode.SIP, err error) {
	if err == nil && m.Proto == 17 && !m.Encap.Has(decode.LayerFragment) {
		// sipgo needs a Content-Length-consistent body, as do both decoders.
		c.msgs = append(c.msgs, append([]byte(nil), s.Msg...))
	}
}

// genCapture writes the benchmark capture of n SIP messages as files
// consecutive files and returns their paths and their size in bytes.
func genCapture(tb testing.TB, dir string, n, files int) ([]string, int64) {
	tmpl := sipTemplates(tb)
	var (
		paths []string
		f     *os.File
		bw    *bufio.Writer
		w     *pcapgo.Writer
		size  int64
	)
	closeFile := func() {
		if f == nil {
			return
		}
		if err := bw.Flush(); err != nil {
			tb.Fatal(err)
		}
		st, err := f.Stat()
		if err == nil {
			size += st.Size()
			err = f.Close()
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	// next starts file k, which holds messages [k*n/files, (k+1)*n/files).
	next := func(k int) {
		closeFile()
		path := filepath.Join(dir, fmt.Sprintf("frames-%02d.pcap", k))
		var err error
		if f, err = os.Create(path); err != nil {
			tb.Fatal(err)
		}
		bw = bufio.NewWriterSize(f, 1<<20)
		w = pcapgo.NewWriter(bw)
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			tb.Fatal(err)
		}
		paths = append(paths, path)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true}
	ts := time.Unix(1_700_000_000, 0)
	write := func(ls ...gopacket.SerializableLayer) {
		if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
			tb.Fatal(err)
		}
		ts = ts.Add(20 * time.Microsecond)
		d := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(d), Length: len(d)}, d); err != nil {
			tb.Fatal(err)
		}
	}
	mac1, mac2 := net.HardwareAddr{0, 1, 2, 3, 4, 5}, net.HardwareAddr{0, 1, 2, 3, 4, 6}
	eth := func(t layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: t}
	}
	tcpSeq := map[uint16]uint32{}
	msgs := 0
	for i := 0; msgs < n; i++ {
		if msgs == len(paths)*n/files {
			next(len(paths))
		}
		m := tmpl[i%len(tmpl)]
		src := net.IP{10, byte(i >> 16), byte(i >> 8), byte(i)}
		dst := net.IP{192, 0, 2, byte(i % 7)}
		src6 := net.ParseIP("2001:db8::1").To16()
		binary.BigEndian.PutUint32(src6[12:], uint32(i))
		dst6 := net.ParseIP("2001:db8:1::7")
		ip4 := func(s, d net.IP, p layers.IPProtocol) *layers.IPv4 {
			return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: s, DstIP: d, Id: uint16(i)}
		}
		udp := &layers.UDP{SrcPort: layers.UDPPort(5060 + i%2), DstPort: 5060}
		pl := gopacket.Payload(m)
		switch k := i % 100; {
		case k < 55:
			write(eth(layers.EthernetTypeIPv4), ip4(src, dst, layers.IPProtocolUDP), udp, pl)
		case k < 65:
			write(eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: uint16(i % 4000), Type: layers.EthernetTypeIPv4}, ip4(src, dst, layers.IPProtocolUDP), udp, pl)
		case k < 70:
			write(eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeIPv4}, ip4(src, dst, layers.IPProtocolUDP), udp, pl)
		case k < 77:
			write(eth(layers.EthernetTypeIPv6), &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: src6, DstIP: dst6}, udp, pl)
		case k < 82:
			write(eth(layers.EthernetTypeIPv4), ip4(net.IP{172, 16, 0, 1}, net.IP{172, 16, 0, 2}, layers.IPProtocolIPv4), ip4(src, dst, layers.IPProtocolUDP), udp, pl)
		case k < 87:
			write(eth(layers.EthernetTypeIPv4), ip4(net.IP{172, 16, 0, 1}, net.IP{172, 16, 0, 2}, layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeIPv4}, ip4(src, dst, layers.IPProtocolUDP), udp, pl)
		case k < 92:
			write(eth(layers.EthernetTypeIPv4), ip4(net.IP{172, 16, 0, 1}, net.IP{172, 16, 0, 2}, layers.IPProtocolUDP), &layers.UDP{SrcPort: 49152, DstPort: 4789},
				&layers.VXLAN{ValidIDFlag: true, VNI: 42}, eth(layers.EthernetTypeIPv4), ip4(src, dst, layers.IPProtocolUDP), udp, pl)
		case k < 97:
			// SIP over TCP: one message per segment on 16 long-lived connections.
			sport := uint16(40000 + i%16)
			seq := tcpSeq[sport]
			tcpSeq[sport] = seq + uint32(len(m))
			write(eth(layers.EthernetTypeIPv4), ip4(net.IP{10, 9, 9, 9}, net.IP{192, 0, 2, 1}, layers.IPProtocolTCP),
				&layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: 5060, Seq: seq + 1, DataOffset: 5, ACK: true, PSH: true, Window: 1000}, pl)
		default:
			// IPv4 fragments of 512 bytes (the last one sent first).
			if err := gopacket.SerializeLayers(buf, opts, udp, pl); err != nil {
				tb.Fatal(err)
			}
			dg := append([]byte(nil), buf.Bytes()...)
			var offs []int
			for o := 0; o < len(dg); o += 512 {
				offs = append(offs, o)
			}
			offs = append(offs[len(offs)-1:], offs[:len(offs)-1]...)
			for _, o := range offs {
				end := min(o+512, len(dg))
				ip := ip4(src, dst, layers.IPProtocolUDP)
				ip.FragOffset = uint16(o / 8)
				if end < len(dg) {
					ip.Flags = layers.IPv4MoreFragments
				}
				write(eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(dg[o:end]))
			}
		}
		msgs++
	}
	closeFile()
	return paths, size
}

// cpuTime returns the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// baseline is the decoder a Go user would write with gopacket and sipgo.
type baseline struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	udp     layers.UDP
	tcp     layers.TCP
	gre     layers.GRE
	vxlan   layers.VXLAN
	payload gopacket.Payload
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	defrag  *ip4defrag.IPv4Defragmenter
	sip     *sip.Parser
	msgs    int
}

func newBaseline() *baseline {
	b := &baseline{defrag: ip4defrag.NewIPv4Defragmenter(), sip: sip.NewParser()}
	b.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &b.eth, &b.dot1q, &b.ip4, &b.ip6, &b.udp, &b.tcp, &b.gre, &b.vxlan, &b.payload)
	b.parser.IgnoreUnsupported = true
	return b
}

func (b *baseline) frame(data []byte, ts time.Time) {
	_ = b.parser.DecodeLayers(data, &b.decoded)
	var app []byte
	for _, lt := range b.decoded {
		switch lt {
		case layers.LayerTypeUDP:
			app = b.udp.Payload
		case layers.LayerTypeTCP:
			app = b.tcp.Payload
		case layers.LayerTypeIPv4:
			if b.ip4.Flags&layers.IPv4MoreFragments != 0 || b.ip4.FragOffset != 0 {
				// ip4defrag keeps the *IPv4 it is given: hand it a copy.
				in := b.ip4
				in.Payload = append([]byte(nil), b.ip4.Payload...)
				out, err := b.defrag.DefragIPv4WithTimestamp(&in, ts)
				if err != nil || out == nil {
					return
				}
				if err := b.udp.DecodeFromBytes(out.Payload, gopacket.NilDecodeFeedback); err != nil {
					return
				}
				app = b.udp.Payload
			}
		}
	}
	if len(app) == 0 {
		return
	}
	if _, err := b.sip.ParseSIP(app); err == nil {
		b.msgs++
	}
}

type countMsgs struct{ n int }

func (c *countMsgs) SIP(*decode.Meta, *decode.SIP, error) { c.n++ }

// baselineFile decodes one capture file with the baseline, whose state
// carries over from the file before.
func (bl *baseline) file(tb testing.TB, path string) {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	for {
		data, ci, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		bl.frame(data, ci.Timestamp)
	}
}

// pathFile decodes one capture file with p, whose state carries over from
// the file before, as `appliance inspect` reads it.
func pathFile(tb testing.TB, p *decode.Path, h decode.Handler, path string) {
	f, err := ring.OpenFile(path, false)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	link := decode.LinkType(f.LinkType())
	for {
		err := f.Next(func(blk *ring.Block) error {
			for blk.Next() {
				_ = p.Decode(blk.Data(), link, blk.TS(), 0, h)
			}
			return nil
		})
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

func newPath(tb testing.TB) *decode.Path {
	p, err := decode.NewPath(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

var writeCapture = flag.String("write-capture", "", "TestWriteFrameCapture writes the FrameCapture benchmark's capture files into this folder (for scripts/capture-ab.sh).")

// TestWriteFrameCapture writes the benchmark capture to -write-capture's
// folder and does nothing without it.
func TestWriteFrameCapture(t *testing.T) {
	if *writeCapture == "" {
		t.Skip("no -write-capture folder given")
	}
	if err := os.MkdirAll(*writeCapture, 0o755); err != nil {
		t.Fatal(err)
	}
	paths, size := genCapture(t, *writeCapture, frameBenchMessages, frameBenchFiles)
	t.Logf("%d files, %d bytes, %d SIP messages in %s", len(paths), size, frameBenchMessages, *writeCapture)
}

func BenchmarkFrameCapture(b *testing.B) {
	paths, size := genCapture(b, b.TempDir(), frameBenchMessages, frameBenchFiles)
	want := frameBenchMessages
	b.Logf("capture: %d files, %d bytes, %d SIP messages", len(paths), size, want)
	check := func(b *testing.B, msgs int) {
		if msgs/b.N != want {
			b.Errorf("found %d SIP messages per pass, the capture holds %d", msgs/b.N, want)
		}
	}
	report := func(b *testing.B, msgs int, cpu time.Duration) {
		b.ReportMetric(float64(msgs)/float64(b.N), "msgs/op")
		b.ReportMetric(float64(msgs)/cpu.Seconds(), "msgs/cpu-s")
		b.SetBytes(size)
		check(b, msgs)
	}
	// Both sides read the files (from the page cache: genCapture has just
	// written them), each with its own reader: pcapgo for the baseline,
	// ring.File (what `appliance inspect` and `replay` use) for the path.
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		msgs := 0
		runtime.GC() // leave the generator's garbage out of the measurement
		c0 := cpuTime()
		for b.Loop() {
			bl := newBaseline()
			for _, path := range paths {
				bl.file(b, path)
			}
			msgs += bl.msgs
		}
		report(b, msgs, cpuTime()-c0)
	})
	b.Run("path", func(b *testing.B) {
		b.ReportAllocs()
		msgs := 0
		runtime.GC()
		c0 := cpuTime()
		for b.Loop() {
			p, h := newPath(b), &countMsgs{}
			for _, path := range paths {
				pathFile(b, p, h, path)
			}
			msgs += h.n
		}
		report(b, msgs, cpuTime()-c0)
	})
	b.Run("interleaved", func(b *testing.B) {
		var bcpu, pcpu time.Duration
		var bmsgs, pmsgs int
		runtime.GC()
		for b.Loop() {
			bl := newBaseline()
			p, h := newPath(b), &countMsgs{}
			for i, path := range paths {
				// ABBA: the side that goes second in one turn goes first
				// in the next, so neither always follows the other (whose
				// garbage collector may still be finishing a cycle).
				for _, side := range [2]int{i % 2, 1 - i%2} {
					c0 := cpuTime()
					if side == 0 {
						bl.file(b, path)
						bcpu += cpuTime() - c0
					} else {
						pathFile(b, p, h, path)
						pcpu += cpuTime() - c0
					}
				}
			}
			bmsgs += bl.msgs
			pmsgs += h.n
		}
		check(b, bmsgs)
		check(b, pmsgs)
		brate, prate := float64(bmsgs)/bcpu.Seconds(), float64(pmsgs)/pcpu.Seconds()
		b.ReportMetric(brate, "baseline-msgs/cpu-s")
		b.ReportMetric(prate, "path-msgs/cpu-s")
		b.ReportMetric(prate/brate, "ratio")
		b.SetBytes(2 * size)
	})
}
