package bench

// End-to-end capture benchmark: frames replayed by tcpreplay from inside a
// throwaway network namespace onto a veth pair, captured on the host end by
// (1) ring.Ring alone, (2) ring.Ring with full decoding (capture.Worker: frame
// path, SIP parse, store filter), (3) tcpdump -w /dev/null and (4)
// gopacket/afpacket, each with 64 MiB of ring memory, one after the other in
// the same run. Each b.Loop iteration replays the whole file once.
// Reported: captured frames/s, drops and the frames tcpreplay sent.
//
//	go test ./bench -run '^$' -bench RingCapture -benchtime 3x
//
// Needs root (netns, veth, AF_PACKET), ip(8), tcpreplay and tcpdump; skips
// otherwise.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipcap/appliance/capture"
	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/ring"
)

const (
	benchFlows  = 2000 // distinct frames in the file
	benchLoops  = 50   // tcpreplay --loop: frames per replay = flows*loops
	benchMemory = 64 << 20
)

type benchNet struct{ ns, host, peer string }

func setupBenchNet(b *testing.B) *benchNet {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("skipping: needs root for a netns, a veth pair and AF_PACKET")
	}
	for _, tool := range []string{"ip", "tcpreplay", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("skipping: %s not installed", tool)
		}
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	n := &benchNet{ns: "ringbench" + id, host: "rbh" + id, peer: "rbp" + id}
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			b.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", n.ns)
	b.Cleanup(func() {
		exec.Command("ip", "link", "del", n.host).Run()
		exec.Command("ip", "netns", "del", n.ns).Run()
	})
	run("link", "add", n.host, "type", "veth", "peer", "name", n.peer, "netns", n.ns)
	os.WriteFile("/proc/sys/net/ipv6/conf/"+n.host+"/disable_ipv6", []byte("1"), 0)
	run("netns", "exec", n.ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6")
	run("link", "set", n.host, "up")
	run("-n", n.ns, "link", "set", n.peer, "up")
	return n
}

const invite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n" +
	"Max-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.example.com>\r\n" +
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com-%06d\r\nCSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@pc33.atlanta.example.com>\r\nContent-Type: application/sdp\r\nContent-Length: 142\r\n\r\n" +
	"v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\ns=-\r\nc=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

// writeBenchPcap writes benchFlows Ethernet/IPv4/UDP SIP INVITE frames with
// distinct flows (destination MAC foreign to the host: the stack drops them
// after capture, nothing is routed).
func writeBenchPcap(b *testing.B) (string, int) {
	path := filepath.Join(b.TempDir(), "sip.pcap")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	size := 0
	for i := range benchFlows {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.IP{10, 98, byte(i >> 8), byte(i)}, DstIP: net.IP{10, 97, 0, 1}}
		udp := &layers.UDP{SrcPort: layers.UDPPort(5060 + i%100), DstPort: 5060}
		udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, udp, gopacket.Payload(fmt.Sprintf(invite, i)))
		size = len(buf.Bytes())
		w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)*1000), CaptureLength: size, Length: size}, buf.Bytes())
	}
	return path, size
}

// replay runs tcpreplay in the namespace and returns the frames it sent.
func (n *benchNet) replay(b *testing.B, pcap string, pps int) int {
	args := []string{"netns", "exec", n.ns, "tcpreplay", "-q", "-i", n.peer, "--loop=" + strconv.Itoa(benchLoops)}
	if pps > 0 {
		args = append(args, "--pps="+strconv.Itoa(pps))
	} else {
		args = append(args, "--topspeed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append(args, pcap)...).CombinedOutput()
	if err != nil {
		b.Fatalf("tcpreplay: %v: %s", err, out)
	}
	m := regexp.MustCompile(`Actual: (\d+) packets`).FindSubmatch(out)
	if m == nil {
		b.Fatalf("tcpreplay output without a packet count: %s", out)
	}
	sent, _ := strconv.Atoi(string(m[1]))
	return sent
}

// capturer captures on an interface until stop is called; stop returns the
// frames captured and the frames the kernel dropped.
type capturer func(b *testing.B, iface string) (stop func() (captured, drops uint64))

type nopOutput struct{ n uint64 }

func (o *nopOutput) Append(*decode.Meta, *decode.SIP) { o.n++ }

func ringCapturer(decodeAll bool) capturer {
	return func(b *testing.B, iface string) func() (uint64, uint64) {
		r, err := ring.Open(&ring.Config{Interface: iface, BlockSize: 1 << 20, BlockCount: benchMemory >> 20})
		if err != nil {
			b.Fatal(err)
		}
		var w *capture.Worker
		out := &nopOutput{}
		if decodeAll {
			if w, err = capture.NewWorker(capture.WorkerConfig{StoreMalformed: true}, capture.NewControl(true, nil), out); err != nil {
				b.Fatal(err)
			}
		}
		var n uint64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				err := r.Next(50*time.Millisecond, func(blk *ring.Block) error {
					if w != nil {
						w.BeginBlock()
					}
					for blk.Next() {
						n++
						if w != nil {
							tci, _ := blk.VLAN()
							w.Frame(blk.Data(), decode.LinkEthernet, blk.TS(), tci)
						}
					}
					return nil
				})
				if err != nil && err != ring.ErrTimeout {
					return
				}
			}
		}()
		return func() (uint64, uint64) {
			time.Sleep(100 * time.Millisecond) // > retire timeout: the last block is handed over
			r.Shutdown()
			<-done
			st, _ := r.Stats()
			r.Close()
			if decodeAll && out.n != n {
				b.Errorf("decoded %d SIP messages from %d frames", out.n, n)
			}
			return n, st.Drops
		}
	}
}

func afpacketCapturer(b *testing.B, iface string) func() (uint64, uint64) {
	h, err := afpacket.NewTPacket(afpacket.OptInterface(iface), afpacket.OptFrameSize(2048),
		afpacket.OptBlockSize(1<<20), afpacket.OptNumBlocks(benchMemory>>20), afpacket.TPacketVersion3,
		afpacket.OptPollTimeout(50*time.Millisecond), afpacket.OptBlockTimeout(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	var n uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := h.ZeroCopyReadPacketData(); err == nil {
				n++
			}
		}
	}()
	return func() (uint64, uint64) {
		time.Sleep(100 * time.Millisecond)
		close(stop)
		<-done
		_, st, _ := h.SocketStats()
		h.Close()
		return n, uint64(st.Drops())
	}
}

func tcpdumpCapturer(b *testing.B, iface string) func() (uint64, uint64) {
	var stderr bytes.Buffer
	cmd := exec.Command("tcpdump", "-i", iface, "-n", "-B", strconv.Itoa(benchMemory>>10), "-w", "/dev/null")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !bytes.Contains(stderr.Bytes(), []byte("listening on")) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return func() (uint64, uint64) {
		time.Sleep(100 * time.Millisecond)
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		cap := regexp.MustCompile(`(\d+) packets captured`).FindSubmatch(stderr.Bytes())
		drop := regexp.MustCompile(`(\d+) packets dropped by kernel`).FindSubmatch(stderr.Bytes())
		if cap == nil || drop == nil {
			b.Fatalf("tcpdump summary missing: %s", stderr.String())
		}
		c, _ := strconv.ParseUint(string(cap[1]), 10, 64)
		d, _ := strconv.ParseUint(string(drop[1]), 10, 64)
		return c, d
	}
}

func BenchmarkRingCapture(b *testing.B) {
	n := setupBenchNet(b)
	pcap, size := writeBenchPcap(b)
	capturers := []struct {
		name string
		c    capturer
	}{
		{"ring", ringCapturer(false)},
		{"ring+decode", ringCapturer(true)},
		{"tcpdump", tcpdumpCapturer},
		{"afpacket", afpacketCapturer},
	}
	rates := []int{0} // 0 = --topspeed
	if s := os.Getenv("RING_BENCH_PPS"); s != "" {
		rates = nil
		for _, f := range regexp.MustCompile(`\d+`).FindAllString(s, -1) {
			v, _ := strconv.Atoi(f)
			rates = append(rates, v)
		}
	}
	for _, pps := range rates {
		rate := "topspeed"
		if pps > 0 {
			rate = strconv.Itoa(pps) + "pps"
		}
		for _, c := range capturers {
			b.Run(rate+"/"+c.name, func(b *testing.B) {
				b.SetBytes(int64(size * benchFlows * benchLoops))
				var sent, captured, drops uint64
				var elapsed time.Duration
				for b.Loop() {
					stop := c.c(b, n.host)
					t0 := time.Now()
					sent += uint64(n.replay(b, pcap, pps))
					elapsed += time.Since(t0)
					got, d := stop()
					captured += got
					drops += d
				}
				b.ReportMetric(float64(captured)/elapsed.Seconds(), "frames/s")
				b.ReportMetric(float64(sent)/elapsed.Seconds(), "sent/s")
				b.ReportMetric(float64(drops), "drops")
				b.ReportMetric(float64(sent-min(sent, captured)), "missing")
			})
		}
	}
}
