package bench

// End-to-end capture benchmark: SIP frames sent by the project's own sender
// (bench/gen, AF_PACKET with qdisc bypass and sendmmsg, pinned to CPU 0)
// from inside a throwaway network namespace onto a veth pair, captured on
// the host end (pinned to CPU 1) by (1) ring.Ring alone, (2) ring.Ring with
// full decoding (capture.Worker: frame path, SIP parse, store filter), (3)
// tcpdump -w /dev/null and (4) gopacket/afpacket, each with 64 MiB of ring
// memory, one after the other in the same run, at offered-rate steps. Each
// b.Loop iteration is one step of RING_BENCH_SECONDS (default 2) seconds.
// Reported: offered and captured frames/s, kernel drops, frames missing.
//
//	RING_BENCH_PPS="50000 100000 200000 400000 0" go test ./bench -run '^$' -bench RingCapture -benchtime 1x -count 3
//
// (0 = top speed.) Needs root (netns, veth, AF_PACKET), ip(8) and tcpdump;
// skips otherwise. On a veth the kernel delivers each frame to the packet
// socket in the sender's softirq, on the sender's CPU: the capturer's CPU
// only runs the capturer's user-space loop.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/sys/unix"

	"github.com/sipcap/appliance/bench/gen"
	"github.com/sipcap/appliance/capture"
	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/ring"
)

const (
	benchFrames = 4096 // distinct frames in the sender's pool
	benchMemory = 64 << 20
	senderCPU   = 0
	captureCPU  = 1
)

type benchNet struct{ ns, host, peer string }

func setupBenchNet(b *testing.B) *benchNet {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("skipping: needs root for a netns, a veth pair and AF_PACKET")
	}
	if runtime.NumCPU() < 2 {
		b.Skip("skipping: needs 2 CPUs (one for the sender, one for the capturer)")
	}
	for _, tool := range []string{"ip", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("skipping: %s not installed (apt-get install %s)", tool, tool)
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

// pinThread locks the calling goroutine to its thread and the thread to cpu.
// The goroutine must not unlock: its thread ends with it.
func pinThread(b *testing.B, cpu int) {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		b.Errorf("pin to cpu %d: %v", cpu, err)
	}
}

// capturer captures on an interface until stop is called; stop returns the
// frames captured, the frames the kernel dropped and the CPU time (user and
// system) the capturer used.
type capturer func(b *testing.B, iface string) (stop func(sent uint64) (captured, drops uint64, cpu time.Duration))

// drain waits until the capturer has read what the ring holds: until it
// has counted every frame sent, or its count has not moved for 500 ms (50
// block retire timeouts), at most 10 s.
func drain(n *atomic.Uint64, sent uint64) {
	last := n.Load()
	for still, deadline := 0, time.Now().Add(10*time.Second); last < sent && still < 10 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if cur := n.Load(); cur != last {
			last, still = cur, 0
		} else {
			still++
		}
	}
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

type nopOutput struct{ n uint64 }

func (o *nopOutput) Append(*decode.Meta, *decode.SIP) { o.n++ }

func ringCapturer(decodeAll bool) capturer {
	return func(b *testing.B, iface string) func(uint64) (uint64, uint64, time.Duration) {
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
		var n atomic.Uint64
		var cpu time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			pinThread(b, captureCPU)
			t0 := threadCPU()
			defer func() { cpu = threadCPU() - t0 }()
			for {
				err := r.Next(50*time.Millisecond, func(blk *ring.Block) error {
					if w != nil {
						w.BeginBlock()
					}
					for blk.Next() {
						n.Add(1)
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
		return func(sent uint64) (uint64, uint64, time.Duration) {
			drain(&n, sent)
			r.Shutdown()
			<-done
			st, _ := r.Stats()
			r.Close()
			if decodeAll && out.n != n.Load() {
				b.Errorf("decoded %d SIP messages from %d frames", out.n, n.Load())
			}
			return n.Load(), st.Drops, cpu
		}
	}
}

func afpacketCapturer(b *testing.B, iface string) func(uint64) (uint64, uint64, time.Duration) {
	h, err := afpacket.NewTPacket(afpacket.OptInterface(iface), afpacket.OptFrameSize(2048),
		afpacket.OptBlockSize(1<<20), afpacket.OptNumBlocks(benchMemory>>20), afpacket.TPacketVersion3,
		afpacket.OptPollTimeout(50*time.Millisecond), afpacket.OptBlockTimeout(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Uint64
	var cpu time.Duration
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pinThread(b, captureCPU)
		t0 := threadCPU()
		defer func() { cpu = threadCPU() - t0 }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := h.ZeroCopyReadPacketData(); err == nil {
				n.Add(1)
			}
		}
	}()
	return func(sent uint64) (uint64, uint64, time.Duration) {
		drain(&n, sent)
		close(stop)
		<-done
		_, st, _ := h.SocketStats()
		h.Close()
		return n.Load(), uint64(st.Drops()), cpu
	}
}

func tcpdumpCapturer(b *testing.B, iface string) func(uint64) (uint64, uint64, time.Duration) {
	var stderr bytes.Buffer
	args := []string{"tcpdump", "-i", iface, "-n", "-B", strconv.Itoa(benchMemory >> 10), "-w", "/dev/null"}
	if _, err := exec.LookPath("taskset"); err == nil {
		args = append([]string{"taskset", "-c", strconv.Itoa(captureCPU)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !bytes.Contains(stderr.Bytes(), []byte("listening on")) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return func(uint64) (uint64, uint64, time.Duration) {
		// tcpdump opens the ring with a 1000 ms timeout, which libpcap makes
		// the block retire timeout: wait for the last block.
		time.Sleep(1500 * time.Millisecond)
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		cap := regexp.MustCompile(`(\d+) packets captured`).FindSubmatch(stderr.Bytes())
		drop := regexp.MustCompile(`(\d+) packets dropped by kernel`).FindSubmatch(stderr.Bytes())
		if cap == nil || drop == nil {
			b.Fatalf("tcpdump summary missing: %s", stderr.String())
		}
		c, _ := strconv.ParseUint(string(cap[1]), 10, 64)
		d, _ := strconv.ParseUint(string(drop[1]), 10, 64)
		return c, d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
}

// benchRates reads RING_BENCH_PPS (0 = top speed).
func benchRates() []int {
	rates := []int{50_000, 100_000, 200_000, 400_000, 0}
	if s := os.Getenv("RING_BENCH_PPS"); s != "" {
		rates = nil
		for _, f := range regexp.MustCompile(`\d+`).FindAllString(s, -1) {
			v, _ := strconv.Atoi(f)
			rates = append(rates, v)
		}
	}
	return rates
}

func benchStep() time.Duration {
	if s := os.Getenv("RING_BENCH_SECONDS"); s != "" {
		if v, err := strconv.ParseFloat(s, 64); err == nil && v > 0 && v <= 30 {
			return time.Duration(v * float64(time.Second))
		}
	}
	return 2 * time.Second
}

func BenchmarkRingCapture(b *testing.B) {
	n := setupBenchNet(b)
	frames, msgs, err := gen.BuildFrames(benchFrames, 1, gen.Mix{gen.EncapUDP: 1})
	if err != nil {
		b.Fatal(err)
	}
	if msgs != len(frames) {
		b.Fatalf("%d frames carry %d messages; want one each", len(frames), msgs)
	}
	bytes := 0
	for _, f := range frames {
		bytes += len(f)
	}
	b.Logf("%d distinct frames, %d bytes on average", len(frames), bytes/len(frames))
	sender, err := gen.OpenRawNetns(n.ns, n.peer)
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()
	capturers := []struct {
		name string
		c    capturer
	}{
		{"ring", ringCapturer(false)},
		{"ring+decode", ringCapturer(true)},
		{"tcpdump", tcpdumpCapturer},
		{"afpacket", afpacketCapturer},
	}
	step := benchStep()
	for _, pps := range benchRates() {
		rate := "topspeed"
		count := 5_000_000
		if pps > 0 {
			rate = strconv.Itoa(pps) + "pps"
			count = int(float64(pps) * step.Seconds())
		}
		for _, c := range capturers {
			b.Run(rate+"/"+c.name, func(b *testing.B) {
				var sent, captured, drops uint64
				var elapsed, cpu time.Duration
				for b.Loop() {
					stop := c.c(b, n.host)
					res, err := sender.Send(context.Background(), frames, gen.SendConfig{Rate: pps, Count: count,
						Duration: step + step/2, Pin: true, CPU: senderCPU})
					if err != nil {
						b.Fatal(err)
					}
					got, d, c := stop(uint64(res.Sent))
					cpu += c
					sent += uint64(res.Sent)
					elapsed += res.Elapsed
					captured += got
					drops += d
				}
				b.ReportMetric(float64(captured)/elapsed.Seconds(), "frames/s")
				b.ReportMetric(float64(sent)/elapsed.Seconds(), "sent/s")
				b.ReportMetric(float64(drops)/float64(b.N), "drops")
				b.ReportMetric(float64(sent-min(sent, captured))/float64(b.N), "missing")
				// The capturer's own CPU time per captured frame, and its share
				// of its core while the sender ran: the headroom left when the
				// sender cannot outrun it.
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(captured, 1)), "cpu-ns/frame")
				b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "cpu%")
			})
		}
	}
}
