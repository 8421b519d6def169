package ring

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

func runFilter(t *testing.T, prog []bpf.RawInstruction, frame []byte) bool {
	t.Helper()
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("program does not disassemble")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatalf("load program in VM: %v", err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatalf("run program: %v", err)
	}
	return n > 0
}

func TestMirrorFilter(t *testing.T) {
	l, err := ParseListen("0.0.0.0:5060-5070")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := MirrorFilter(l, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) > 4096 {
		t.Fatalf("program has %d instructions, more than the kernel's 4096", len(prog))
	}
	for _, c := range mirrorCases(t) {
		if got := runFilter(t, prog, c.frame); got != c.keep {
			t.Errorf("%s: kept=%v, want %v", c.name, got, c.keep)
		}
	}
	// A truncated frame is dropped, not an error: the kernel VM returns 0 on
	// an out-of-bounds load.
	if runFilter(t, prog, mirrorCases(t)[0].frame[:20]) {
		t.Errorf("truncated frame kept")
	}
}

func TestMirrorFilterSinglePort(t *testing.T) {
	prog, err := MirrorFilter(Listen{PortLo: 5060, PortHi: 5060}, false)
	if err != nil {
		t.Fatal(err)
	}
	f := func(dport uint16, want bool) {
		t.Helper()
		fr := buildFrame(t, frameSpec{proto: layers.IPProtocolUDP, sport: 1, dport: dport, payload: marker(1, 8)})
		if got := runFilter(t, prog, fr); got != want {
			t.Errorf("dport %d: kept=%v, want %v", dport, got, want)
		}
	}
	f(5060, true)
	f(5061, false)
	f(5059, false)
	if _, err := MirrorFilter(Listen{}, false); err == nil {
		t.Errorf("empty port range accepted")
	}
}

func TestIPIPFilter(t *testing.T) {
	udp := layers.IPProtocolUDP
	f := func(listen string, s frameSpec, want bool) {
		t.Helper()
		l, err := ParseListen(listen)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := IPIPFilter(l)
		if err != nil {
			t.Fatal(err)
		}
		s.payload = marker(1, 8)
		if got := runFilter(t, prog, buildFrame(t, s)); got != want {
			t.Errorf("listen %s, frame %+v: kept=%v, want %v", listen, s, got, want)
		}
	}
	f("10.99.0.1:5060", frameSpec{ipipInner: true, sport: 1, dport: 5060}, true)
	f("10.99.0.1:5060", frameSpec{ipipInner: true, sport: 1, dport: 5060, dstIP: net.IP{10, 99, 0, 3}}, false)
	f("10.99.0.1:5060", frameSpec{vlans: []uint16{7}, ipipInner: true, sport: 1, dport: 5060}, true)
	f("10.99.0.1:5060", frameSpec{proto: udp, sport: 1, dport: 5060}, false) // plain UDP is not a tunnel
	f(":5060", frameSpec{ipipInner: true, sport: 1, dport: 5060, dstIP: net.IP{10, 99, 0, 3}}, true)
	f(":5060", frameSpec{v6: true, proto: layers.IPProtocolIPv4, sport: 1, dport: 5060}, true)
	f("[fd00:99::1]:5060", frameSpec{v6: true, proto: layers.IPProtocolIPv4}, true)
	f("[fd00:99::1]:5060", frameSpec{v6: true, proto: layers.IPProtocolIPv4, dstIP: net.ParseIP("fd00:99::3")}, false)
	f("[fd00:99::1]:5060", frameSpec{ipipInner: true, sport: 1, dport: 5060}, false) // IPv4 outer, IPv6 listener
}

func TestConfigFilter(t *testing.T) {
	f := func(c *Config, wantNil bool) {
		t.Helper()
		p, err := c.Filter()
		if err != nil {
			t.Fatal(err)
		}
		if (p == nil) != wantNil {
			t.Errorf("%+v: filter nil=%v, want %v", c, p == nil, wantNil)
		}
	}
	f(nil, true)
	f(&Config{Listen: ":5060"}, false)
	f(&Config{Listen: ":5060", KernelFilterOff: true}, true)
	f(&Config{Listen: "10.0.0.1:5060", IPIP: true}, false)
}

func TestParseListen(t *testing.T) {
	ok := func(s string, addr string, lo, hi uint16) {
		t.Helper()
		l, err := ParseListen(s)
		if err != nil {
			t.Fatalf("ParseListen(%q): %v", s, err)
		}
		var want netip.Addr
		if addr != "" {
			want = netip.MustParseAddr(addr)
		}
		if l.Addr != want || l.PortLo != lo || l.PortHi != hi {
			t.Errorf("ParseListen(%q) = %+v", s, l)
		}
	}
	ok(":5060", "", 5060, 5060)
	ok("0.0.0.0:5060-5080", "0.0.0.0", 5060, 5080)
	ok("10.1.2.3:5060", "10.1.2.3", 5060, 5060)
	ok("[fd00::1]:5060-5061", "fd00::1", 5060, 5061)
	ok("::ffff:10.1.2.3:5060", "10.1.2.3", 5060, 5060)
	for _, bad := range []string{"", "5060", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:70000", "1.2.3.4:5080-5060", "x:5060", "1.2.3.4:a-b", "1.2.3.4:5060-"} {
		if _, err := ParseListen(bad); err == nil {
			t.Errorf("ParseListen(%q) accepted", bad)
		}
	}
}

// TestMirrorFilterTunnels: with tunnels kept, tunnel carriers pass whatever
// they hold, and everything else is decided as without.
func TestMirrorFilterTunnels(t *testing.T) {
	l, err := ParseListen(":5060-5070")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := MirrorFilter(l, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range mirrorCases(t) {
		want := c.keep || c.name == "ipip to listener"
		if got := runFilter(t, prog, c.frame); got != want {
			t.Errorf("%s: kept=%v, want %v", c.name, got, want)
		}
	}
	udp := layers.IPProtocolUDP
	for _, c := range []struct {
		name string
		s    frameSpec
		keep bool
	}{
		{"vxlan", frameSpec{proto: udp, sport: 50000, dport: 4789}, true},
		{"geneve", frameSpec{proto: udp, sport: 50000, dport: 6081}, true},
		{"vxlan over ipv6 in vlan", frameSpec{vlans: []uint16{7}, v6: true, proto: udp, sport: 50000, dport: 4789}, true},
		{"udp 4790", frameSpec{proto: udp, sport: 50000, dport: 4790}, false},
		{"gre", frameSpec{proto: layers.IPProtocolGRE}, true},
		{"gre over ipv6", frameSpec{v6: true, proto: layers.IPProtocolGRE}, true},
		{"ipip in qinq", frameSpec{vlans: []uint16{1, 2}, ipipInner: true, sport: 1, dport: 2}, true},
		{"icmp", frameSpec{proto: layers.IPProtocolICMPv4}, false},
	} {
		c.s.payload = marker(1, 16)
		if got := runFilter(t, prog, buildFrame(t, c.s)); got != c.keep {
			t.Errorf("%s: kept=%v, want %v", c.name, got, c.keep)
		}
	}
}
