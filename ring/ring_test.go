package ring

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/sipcap/appliance/tuning"
)

// seen is one frame a worker captured (copied: the test keeps it).
type seen struct {
	worker  int
	frame   []byte
	vlan    uint16
	vlanOK  bool
	pkttype uint8
	ifindex int
}

// smallRing is a test geometry: 16 blocks of 64 KiB, 5 ms retire timeout.
func smallRing(iface string) Config {
	return Config{Interface: iface, BlockSize: 64 << 10, BlockCount: 16, RetireTimeout: 5 * time.Millisecond}
}

// collect runs the group's workers until want frames have been captured (or
// timeout), then keeps reading for settle to catch duplicates, and returns
// what each worker saw.
func collect(t *testing.T, g *Group, cpus []int, want int, timeout, settle time.Duration) [][]seen {
	t.Helper()
	per := make([][]seen, len(g.Rings))
	var total atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- g.Run(ctx, cpus, func(w int, r *Ring) error {
			for {
				err := r.Next(20*time.Millisecond, func(b *Block) error {
					for b.Next() {
						tci, ok := b.VLAN()
						per[w] = append(per[w], seen{w, bytes.Clone(b.Data()), tci, ok, b.PktType(), b.Ifindex()})
						total.Add(1)
					}
					return nil
				})
				if err == ErrTimeout {
					continue
				}
				if err != nil {
					return err
				}
			}
		})
	}()
	deadline := time.Now().Add(timeout)
	for total.Load() < int64(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(settle)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run workers: %v", err)
	}
	return per
}

func openGroup(t *testing.T, c Config) *Group {
	t.Helper()
	g, err := OpenGroup(&c)
	if err != nil {
		t.Fatalf("open group: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func udpFrame(t *testing.T, id uint32, sport, dport uint16) []byte {
	return buildFrame(t, frameSpec{proto: layers.IPProtocolUDP, sport: sport, dport: dport, payload: marker(id, 64)})
}

func TestRingFanoutExactlyOnce(t *testing.T) {
	tn := newTestNet(t)
	c := smallRing(tn.Host)
	c.Workers, c.Mirror, c.Listen = 3, true, ":5060"
	g := openGroup(t, c)
	if g.FanoutID() == 0 && len(g.Rings) > 1 {
		t.Logf("kernel chose fanout id 0") // legal, just unusual
	}
	if got, want := g.Memory(), int64(3*16*64<<10); got != want {
		t.Errorf("group memory %d, want %d", got, want)
	}
	send := tn.rawSender(t)
	const n = 600
	for i := range n {
		send(udpFrame(t, uint32(i), uint16(10000+i), 5060))
		if i%50 == 0 { // noise the filter must drop in the kernel
			send(udpFrame(t, 1<<30+uint32(i), uint16(10000+i), 9999))
		}
	}
	per := collect(t, g, nil, n, 5*time.Second, 50*time.Millisecond)
	count := make([]int, n)
	for w, frames := range per {
		for _, s := range frames {
			id, ok := markerOf(s.frame)
			if !ok || id >= n {
				t.Errorf("worker %d got a frame that is not ours (id %d, ok %v): %x", w, id, ok, s.frame)
				continue
			}
			count[id]++
		}
		t.Logf("worker %d: %d frames", w, len(frames))
	}
	for id, c := range count {
		if c != 1 {
			t.Errorf("frame %d delivered %d times", id, c)
		}
	}
	busy := 0
	for _, frames := range per {
		if len(frames) > 0 {
			busy++
		}
	}
	if busy < 2 {
		t.Errorf("hash fanout used %d of 3 workers for %d flows", busy, n)
	}
	perStats, total, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if total.Packets != n || total.Drops != 0 {
		t.Errorf("kernel stats %+v (per ring %+v), want %d packets and no drops", total, perStats, n)
	}
}

func TestRingKernelFilter(t *testing.T) {
	tn := newTestNet(t)
	cf := smallRing(tn.Host)
	cf.Mirror, cf.Listen = true, ":5060-5070"
	// Without the defrag flag: with it the kernel holds a lone non-first
	// fragment for reassembly and never delivers it.
	cf.FanoutNoDefrag = true
	filtered := openGroup(t, cf)
	cu := cf
	cu.KernelFilterOff = true
	unfiltered := openGroup(t, cu)

	cases := mirrorCases(t)
	send := tn.rawSender(t)
	keep := 0
	for _, c := range cases {
		send(c.frame)
		if c.keep {
			keep++
		}
	}
	got := collect(t, filtered, nil, keep, 3*time.Second, 30*time.Millisecond)[0]
	all := collect(t, unfiltered, nil, len(cases), 3*time.Second, 30*time.Millisecond)[0]

	byID := map[uint32]seen{}
	for _, s := range got {
		id, ok := markerOf(s.frame)
		if !ok {
			t.Errorf("filtered ring got an unmarked frame %x", s.frame)
			continue
		}
		if _, dup := byID[id]; dup {
			t.Errorf("frame %d delivered twice", id)
		}
		byID[id] = s
	}
	for i, c := range cases {
		id := uint32(i)
		if c.name == "arp" {
			id = 0xffffffff
		}
		s, ok := byID[id]
		if ok != c.keep {
			t.Errorf("%s: delivered=%v, want %v", c.name, ok, c.keep)
			continue
		}
		if ok && strings.HasPrefix(c.name, "vlan") || strings.HasPrefix(c.name, "qinq") && ok {
			// The kernel moves the outer tag to metadata; accept it still in the frame too.
			inFrame := len(s.frame) > 16 && binary.BigEndian.Uint16(s.frame[12:]) == 0x8100 && binary.BigEndian.Uint16(s.frame[14:])&0xfff == 100
			if !(s.vlanOK && s.vlan&0xfff == 100) && !inFrame {
				t.Errorf("%s: outer VLAN 100 neither in metadata (%d %v) nor in the frame", c.name, s.vlan, s.vlanOK)
			}
		}
	}
	if len(all) < len(cases) {
		t.Errorf("unfiltered ring saw %d frames, want all %d", len(all), len(cases))
	}
	_, fs, err := filtered.Stats()
	if err != nil {
		t.Fatal(err)
	}
	_, us, _ := unfiltered.Stats()
	// The kernel counts only frames that pass the filter: the noise never
	// reached the filtered ring.
	if fs.Packets != uint64(keep) || us.Packets < uint64(len(cases)) {
		t.Errorf("kernel packets: filtered %d (want %d), unfiltered %d (want >= %d)", fs.Packets, keep, us.Packets, len(cases))
	}
}

// fragments splits an IPv4/UDP datagram with IP id into IPv4 fragments of
// chunk bytes (a multiple of 8).
func fragments(t *testing.T, id uint16, sport uint16, payload []byte, chunk int) [][]byte {
	full := buildFrame(t, frameSpec{proto: layers.IPProtocolUDP, sport: sport, dport: 5060, payload: payload})
	ipPayload := full[14+20:]
	var out [][]byte
	for off := 0; off < len(ipPayload); off += chunk {
		end := min(off+chunk, len(ipPayload))
		ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: ip4A, DstIP: ip4B, Protocol: layers.IPProtocolUDP, Id: id, FragOffset: uint16(off / 8)}
		if end < len(ipPayload) {
			ip.Flags = layers.IPv4MoreFragments
		}
		eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, gopacket.Payload(ipPayload[off:end])); err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(buf.Bytes()))
	}
	return out
}

func TestRingFragmentsMeetOnOneWorker(t *testing.T) {
	tn := newTestNet(t)
	c := smallRing(tn.Host)
	c.Workers, c.Mirror, c.Listen = 3, true, ":5060"
	g := openGroup(t, c)
	send := tn.rawSender(t)
	const n = 30
	payloadLen := 2400
	for i := range n {
		for _, f := range fragments(t, uint16(100+i), uint16(20000+i), marker(uint32(i), payloadLen), 1000) {
			send(f)
		}
	}
	per := collect(t, g, nil, n, 5*time.Second, 50*time.Millisecond)
	where := map[uint16]map[int]int{} // ip id -> worker -> IP payload bytes
	for w, frames := range per {
		for _, s := range frames {
			if len(s.frame) < 34 || binary.BigEndian.Uint16(s.frame[12:]) != 0x0800 {
				t.Errorf("worker %d: unexpected frame %x", w, s.frame)
				continue
			}
			id := binary.BigEndian.Uint16(s.frame[18:])
			if where[id] == nil {
				where[id] = map[int]int{}
			}
			where[id][w] += int(binary.BigEndian.Uint16(s.frame[16:])) - 20
		}
	}
	for i := range n {
		ws := where[uint16(100+i)]
		if len(ws) != 1 {
			t.Errorf("datagram %d reached workers %v, want exactly one", i, ws)
			continue
		}
		for _, b := range ws {
			if b != 8+payloadLen {
				t.Errorf("datagram %d: %d IP payload bytes captured, want %d", i, b, 8+payloadLen)
			}
		}
	}
}

func promiscuity(t *testing.T, iface string) int {
	t.Helper()
	out, err := exec.Command("ip", "-d", "link", "show", "dev", iface).CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show: %v: %s", err, out)
	}
	m := regexp.MustCompile(`promiscuity (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no promiscuity in %s", out)
	}
	var n int
	fmt.Sscan(string(m[1]), &n)
	return n
}

func TestRingPromiscuous(t *testing.T) {
	tn := newTestNet(t)
	if n := promiscuity(t, tn.Host); n != 0 {
		t.Fatalf("fresh veth has promiscuity %d", n)
	}
	c := smallRing(tn.Host)
	c.Promiscuous = true
	r, err := Open(&c)
	if err != nil {
		t.Fatal(err)
	}
	flags, _ := os.ReadFile("/sys/class/net/" + tn.Host + "/flags")
	var f uint64
	fmt.Sscanf(strings.TrimSpace(string(flags)), "0x%x", &f)
	if n := promiscuity(t, tn.Host); n != 1 || f&unix.IFF_PROMISC == 0 {
		t.Errorf("with the ring open: promiscuity %d, flags %#x; want 1 and IFF_PROMISC", n, f)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := promiscuity(t, tn.Host); n != 0 {
		t.Errorf("after Close: promiscuity %d, want 0", n)
	}
}

func TestRingStatsDrops(t *testing.T) {
	tn := newTestNet(t)
	c := Config{Interface: tn.Host, BlockSize: 4096, BlockCount: 2, FrameSize: 2048, Listen: ":5060", Mirror: true}
	r, err := Open(&c)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Memory() != 8192 {
		t.Errorf("memory %d", r.Memory())
	}
	send := tn.rawSender(t)
	const n = 200
	for i := range n {
		send(udpFrame(t, uint32(i), 30000, 5060)) // nobody reads: the ring overflows
	}
	var st Stats
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if st, err = r.Stats(); err != nil {
			t.Fatal(err)
		}
		if st.Packets >= n {
			break
		}
	}
	if st.Packets != n || st.Drops == 0 || st.Drops >= n {
		t.Errorf("stats %+v: want %d packets, some but not all dropped", st, n)
	}
	// Reading drains what fits; counters are kept across reads.
	got := 0
	for {
		err := r.Next(30*time.Millisecond, func(b *Block) error { got += b.Len(); return nil })
		if err == ErrTimeout {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if uint64(got) != st.Packets-st.Drops {
		t.Errorf("read %d frames, kernel says %d kept", got, st.Packets-st.Drops)
	}
	st2, _ := r.Stats()
	if st2.Packets != st.Packets || st2.Drops != st.Drops {
		t.Errorf("totals changed without traffic: %+v -> %+v", st, st2)
	}
}

func cpusAllowedList(t *testing.T) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status", unix.Gettid()))
	if err != nil {
		t.Error(err)
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestRingWorkersPinned(t *testing.T) {
	tn := newTestNet(t)
	allowed, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	c := smallRing(tn.Host)
	c.Workers = 2
	g := openGroup(t, c)
	plan := tuning.CPUPlan(2, allowed)
	got := make([]string, 2)
	err = g.Run(context.Background(), plan, func(w int, r *Ring) error {
		got[w] = cpusAllowedList(t)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for w, cpu := range plan {
		if got[w] != fmt.Sprint(cpu) {
			t.Errorf("worker %d runs on Cpus_allowed_list %q, want %d", w, got[w], cpu)
		}
	}
	if err := g.Run(context.Background(), []int{0}, func(int, *Ring) error { return nil }); err == nil {
		t.Errorf("fewer cpus than workers accepted")
	}
}

func TestRingRealSockets(t *testing.T) {
	tn := newTestNet(t)
	c := smallRing(tn.Host)
	c.Mirror, c.Listen, c.IgnoreOutgoing = true, ":5060", true
	g := openGroup(t, c)

	ln, err := net.Listen("tcp4", net.JoinHostPort(tn.HostIP.String(), "5060"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 256)
		conn.Read(buf)
		conn.Close()
	}()

	var udpFd, tcpFd int
	host4 := [4]byte(tn.HostIP.To4())
	tn.inNS(t, func() error {
		var err error
		if udpFd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if tcpFd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		unix.SetsockoptTimeval(tcpFd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &unix.Timeval{Sec: 3})
		return unix.Connect(tcpFd, &unix.SockaddrInet4{Port: 5060, Addr: host4})
	})
	defer unix.Close(udpFd)
	defer unix.Close(tcpFd)
	const n = 20
	for i := range n {
		if err := unix.Sendto(udpFd, marker(uint32(i), 100), 0, &unix.SockaddrInet4{Port: 5060, Addr: host4}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := unix.Write(tcpFd, marker(1000, 100)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// n UDP + SYN, ACK, data, FIN/ACKs from the peer: at least n+3 incoming frames.
	frames := collect(t, g, nil, n+3, 3*time.Second, 50*time.Millisecond)[0]
	udpSeen := map[uint32]int{}
	tcpData, syn := false, false
	for _, s := range frames {
		if s.pkttype == unix.PACKET_OUTGOING {
			t.Errorf("outgoing frame captured despite IgnoreOutgoing: %x", s.frame)
		}
		if len(s.frame) < 34 {
			continue
		}
		switch s.frame[23] {
		case ipProtoUDP:
			if id, ok := markerOf(s.frame); ok {
				udpSeen[id]++
			}
		case ipProtoTCP:
			ihl := int(s.frame[14]&0xf) * 4
			if s.frame[14+ihl+13]&0x02 != 0 {
				syn = true
			}
			if id, ok := markerOf(s.frame); ok && id == 1000 {
				tcpData = true
			}
		}
	}
	for i := range n {
		if udpSeen[uint32(i)] != 1 {
			t.Errorf("udp datagram %d seen %d times", i, udpSeen[uint32(i)])
		}
	}
	if !syn || !tcpData {
		t.Errorf("tcp: syn seen %v, data seen %v", syn, tcpData)
	}
}

func TestRingIPIPMode(t *testing.T) {
	tn := newTestNet(t)
	c := smallRing(tn.Host)
	c.IPIP, c.Listen = true, "10.99.0.1:5060"
	g := openGroup(t, c)
	send := tn.rawSender(t)
	send(buildFrame(t, frameSpec{ipipInner: true, sport: 1, dport: 5060, payload: marker(1, 16)}))
	send(buildFrame(t, frameSpec{ipipInner: true, sport: 1, dport: 5060, payload: marker(2, 16), dstIP: net.IP{10, 99, 0, 7}}))
	send(udpFrame(t, 3, 1, 5060))
	frames := collect(t, g, nil, 1, 2*time.Second, 30*time.Millisecond)[0]
	if len(frames) != 1 {
		t.Fatalf("got %d frames, want only the tunnel to 10.99.0.1", len(frames))
	}
	if id, _ := markerOf(frames[0].frame); id != 1 {
		t.Errorf("got frame %d", id)
	}
}

func TestRingShutdownWakesNext(t *testing.T) {
	tn := newTestNet(t)
	c := smallRing(tn.Host)
	r, err := Open(&c)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	errc := make(chan error, 1)
	go func() { errc <- r.Next(-1, func(*Block) error { return nil }) }()
	time.Sleep(20 * time.Millisecond)
	r.Shutdown()
	select {
	case err := <-errc:
		if err != ErrClosed {
			t.Errorf("Next after Shutdown: %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next did not wake up on Shutdown")
	}
}

func TestOpenErrors(t *testing.T) {
	requireCapNetRaw(t)
	if _, err := Open(&Config{Interface: "nosuchif0"}); err == nil || !strings.Contains(err.Error(), "nosuchif0") {
		t.Errorf("open on a missing interface: %v", err)
	}
	if _, err := Open(&Config{IPIP: true, Mirror: true}); err == nil {
		t.Errorf("both modes accepted")
	}
}
