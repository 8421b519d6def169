package ring

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireCapNetRaw skips the test when AF_PACKET sockets cannot be opened.
func requireCapNetRaw(t testing.TB) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			t.Skipf("skipping, AF_PACKET socket: %v (needs CAP_NET_RAW; run as root or `make test-priv`)", err)
		}
		t.Skipf("skipping, AF_PACKET unavailable: %v", err)
	}
	unix.Close(fd)
}

// requireNetAdmin skips the test when network namespaces and veth pairs
// cannot be created (needs CAP_SYS_ADMIN and CAP_NET_ADMIN, and ip(8)).
func requireNetAdmin(t testing.TB) {
	t.Helper()
	requireCapNetRaw(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("skipping, ip(8) not found: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skipf("skipping, creating a netns and a veth pair needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
	}
}

var netSeq atomic.Uint32

// testNet is a veth pair: Host in the test's namespace, Peer inside the
// throwaway namespace NS. Addresses: host 10.99.N.1/24, peer 10.99.N.2/24;
// IPv6 is disabled on both ends so the kernel adds no ND/MLD noise.
type testNet struct {
	NS, Host, Peer   string
	HostIP, PeerIP   net.IP
	HostMAC, PeerMAC net.HardwareAddr
}

func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// newTestNet creates the namespace and the pair, and removes both in Cleanup.
func newTestNet(t testing.TB) *testNet {
	t.Helper()
	requireNetAdmin(t)
	n := netSeq.Add(1)
	id := fmt.Sprintf("%d%c", os.Getpid()%100000, 'a'+rune(n%26))
	tn := &testNet{NS: "ringtest" + id, Host: "rgh" + id, Peer: "rgp" + id,
		HostIP: net.IP{10, 99, byte(n), 1}, PeerIP: net.IP{10, 99, byte(n), 2}}
	ipCmd(t, "netns", "add", tn.NS)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", tn.Host).Run()
		exec.Command("ip", "netns", "del", tn.NS).Run()
	})
	ipCmd(t, "link", "add", tn.Host, "type", "veth", "peer", "name", tn.Peer, "netns", tn.NS)
	os.WriteFile("/proc/sys/net/ipv6/conf/"+tn.Host+"/disable_ipv6", []byte("1"), 0)
	ipCmd(t, "netns", "exec", tn.NS, "sh", "-c",
		"echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/"+tn.Peer+"/disable_ipv6")
	ipCmd(t, "addr", "add", tn.HostIP.String()+"/24", "dev", tn.Host)
	ipCmd(t, "-n", tn.NS, "addr", "add", tn.PeerIP.String()+"/24", "dev", tn.Peer)
	ipCmd(t, "link", "set", tn.Host, "up")
	ipCmd(t, "-n", tn.NS, "link", "set", tn.Peer, "up")
	ipCmd(t, "-n", tn.NS, "link", "set", "lo", "up")
	hi, err := net.InterfaceByName(tn.Host)
	if err != nil {
		t.Fatal(err)
	}
	tn.HostMAC = hi.HardwareAddr
	tn.inNS(t, func() error {
		pi, err := net.InterfaceByName(tn.Peer)
		if err == nil {
			tn.PeerMAC = pi.HardwareAddr
		}
		return err
	})
	// Static neighbours both ways: no ARP noise while tests count frames.
	ipCmd(t, "neigh", "replace", tn.PeerIP.String(), "lladdr", tn.PeerMAC.String(), "dev", tn.Host, "nud", "permanent")
	ipCmd(t, "-n", tn.NS, "neigh", "replace", tn.HostIP.String(), "lladdr", tn.HostMAC.String(), "dev", tn.Peer, "nud", "permanent")
	return tn
}

// inNS runs fn on a locked OS thread moved into the namespace. Sockets fn
// creates stay in the namespace after the thread moves back.
func (tn *testNet) inNS(t testing.TB, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: if moving back fails, the runtime
		// discards it with the goroutine.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		ns, err := os.Open("/var/run/netns/" + tn.NS)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", tn.NS, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in netns %s: %v", tn.NS, err)
	}
}

// rawSender opens an AF_PACKET socket bound to the peer end inside the
// namespace; frames written to it arrive on Host.
func (tn *testNet) rawSender(t testing.TB) func(frame []byte) {
	t.Helper()
	var fd int
	tn.inNS(t, func() error {
		ifi, err := net.InterfaceByName(tn.Peer)
		if err != nil {
			return err
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index})
	})
	t.Cleanup(func() { unix.Close(fd) })
	return func(frame []byte) {
		t.Helper()
		for tries := 0; ; tries++ {
			_, err := unix.Write(fd, frame)
			if err == nil {
				return
			}
			if errors.Is(err, unix.ENOBUFS) && tries < 100 {
				time.Sleep(time.Millisecond)
				continue
			}
			t.Fatalf("send frame: %v", err)
		}
	}
}
