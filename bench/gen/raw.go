package gen

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// RawSender puts Ethernet frames on one interface through an AF_PACKET
// socket that bypasses the qdisc (PACKET_QDISC_BYPASS). It only ever writes
// to the interface it was opened on. Not safe for concurrent use.
type RawSender struct {
	fd    int
	iface string
}

// OpenRaw opens a sender on the interface named iface (in the caller's
// network namespace). It needs CAP_NET_RAW.
func OpenRaw(iface string) (*RawSender, error) {
	if iface == "" {
		return nil, fmt.Errorf("raw sender: no interface named")
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("raw sender: %w", err)
	}
	// Protocol 0: the socket receives nothing, it only sends.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open packet socket on %s: %w", iface, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket to %s: %w", iface, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("qdisc bypass on %s: %w", iface, err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	return &RawSender{fd: fd, iface: iface}, nil
}

// OpenRawNetns opens a sender on iface inside the network namespace ns: a
// name under /var/run/netns or a path such as /proc/PID/ns/net. The socket
// stays in that namespace; the calling goroutine's thread is switched there
// and back.
func OpenRawNetns(ns, iface string) (*RawSender, error) {
	if !filepath.IsAbs(ns) {
		ns = filepath.Join("/var/run/netns", ns)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return nil, fmt.Errorf("open own netns: %w", err)
	}
	defer self.Close()
	target, err := os.Open(ns)
	if err != nil {
		return nil, fmt.Errorf("open netns: %w", err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("enter netns %s: %w", ns, err)
	}
	s, openErr := OpenRaw(iface)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread cannot go back: leave it locked so that it dies with
		// the goroutine instead of running other goroutines in ns.
		runtime.LockOSThread()
		if s != nil {
			s.Close()
		}
		return nil, fmt.Errorf("leave netns %s: %w", ns, err)
	}
	return s, openErr
}

// Send sends frames[i % len(frames)] for i from 0, bounded and paced by cfg.
func (s *RawSender) Send(ctx context.Context, frames [][]byte, cfg SendConfig) (Result, error) {
	for _, f := range frames {
		if len(f) < 14 {
			return Result{}, fmt.Errorf("frame of %d bytes is shorter than an Ethernet header", len(f))
		}
	}
	return sendLoop(ctx, []int{s.fd}, frames, cfg, nil, nil)
}

// Close closes the socket.
func (s *RawSender) Close() error { return unix.Close(s.fd) }

// BuildFrames generates scenarios from seed until it has n frames (n at most
// 1<<20) under the encapsulations of mix, and returns them with the number
// of SIP messages they carry (all whole: the last scenario may be cut).
func BuildFrames(n int, seed uint64, mix Mix) (frames [][]byte, messages int, err error) {
	if n <= 0 || n > 1<<20 {
		return nil, 0, fmt.Errorf("frames %d: allowed: 1 to %d", n, 1<<20)
	}
	if mix.total() == 0 {
		mix = Mix{EncapUDP: 1}
	}
	g := New(seed)
	fr := &Framer{}
	var buf [][]byte
	for len(frames) < n {
		e := mix.pick(g.Intn(mix.total()))
		o := Options{Transport: UDP, IPv6: e == EncapIPv6}
		if e == EncapTCP {
			o.Transport = TCP
		}
		for _, m := range g.Scenario(g.NextKind(), o) {
			if buf, _, err = fr.Frames(buf[:0], &m, e); err != nil {
				return nil, 0, err
			}
			if len(frames)+len(buf) > n {
				return frames, messages, nil
			}
			frames = append(frames, buf...)
			messages++
		}
	}
	return frames, messages, nil
}
