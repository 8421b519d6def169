package ring

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// HEPUDP is a set of UDP sockets bound to one address with SO_REUSEPORT, one
// per worker; the kernel spreads senders over them by flow hash. Run hands
// each socket to one goroutine.
type HEPUDP struct {
	conns []*net.UDPConn
	cfg   HEPConfig
	// Warnings lists setup problems that do not stop the listener, such as
	// a receive buffer clamped by net.core.rmem_max.
	Warnings []string
	// Stats are the counters of all sockets together.
	Stats HEPStats
}

// ListenHEPUDP opens cfg.Workers UDP sockets on cfg.Addr (nil cfg: defaults).
// With port 0 the first socket picks the port and the others join it.
func ListenHEPUDP(cfg *HEPConfig) (*HEPUDP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := cfg.withDefaults()
	l := &HEPUDP{cfg: d}
	addr := d.Addr
	for i := 0; i < d.Workers; i++ {
		var setErr error
		lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
			err := c.Control(func(fd uintptr) { setErr = l.setup(int(fd), i == 0) })
			if err != nil {
				return err
			}
			return setErr
		}}
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("listen hep udp %s: %w", addr, err)
		}
		c := pc.(*net.UDPConn)
		l.conns = append(l.conns, c)
		addr = c.LocalAddr().String() // the others share the chosen port
	}
	return l, nil
}

// setup sets SO_REUSEPORT, the receive buffer and SO_RXQ_OVFL on fd.
func (l *HEPUDP) setup(fd int, first bool) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fmt.Errorf("set SO_REUSEPORT: %w", err)
	}
	want := l.cfg.RecvBuf
	if want > 0 {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, want) != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, want); err != nil {
				return fmt.Errorf("set SO_RCVBUF %d: %w", want, err)
			}
		}
		// The kernel reports twice the size it grants (bookkeeping overhead).
		if got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil && got/2 < want && first {
			l.Warnings = append(l.Warnings, fmt.Sprintf(
				"hep udp receive buffer is %d bytes, not the %d asked for: raise net.core.rmem_max%s or run with CAP_NET_ADMIN",
				got/2, want, rmemMax()))
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
		return fmt.Errorf("set SO_RXQ_OVFL: %w", err)
	}
	return nil
}

func rmemMax() string {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return ""
	}
	return " (now " + strings.TrimSpace(string(b)) + ")"
}

// Addr is the bound address.
func (l *HEPUDP) Addr() netip.AddrPort {
	if len(l.conns) == 0 {
		return netip.AddrPort{}
	}
	return l.conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close closes every socket; running workers return.
func (l *HEPUDP) Close() error {
	var err error
	for _, c := range l.conns {
		err = errors.Join(err, c.Close())
	}
	return err
}

// Run starts one goroutine per socket, pinned to cpus[i] when cpus is not
// nil, each reading batches with recvmmsg and calling handle(worker, batch)
// with the datagrams that pass the allowlist and auth key. The batch is
// owned by handle until it returns; handle for one worker is never called
// concurrently. Run returns when ctx is done (it closes the sockets) or a
// handler fails.
func (l *HEPUDP) Run(ctx context.Context, cpus []int, handle func(worker int, b *HEPBatch) error) error {
	return runPinned(ctx, "hep udp worker", len(l.conns), cpus, func() { l.Close() }, func(ctx context.Context, i int) error {
		return l.worker(i, l.conns[i], handle)
	})
}

type udpReader struct {
	m   *mmsgBuf
	n   int
	err error
	fn  func(fd uintptr) bool // built once: no closure allocation per read
}

func (r *udpReader) read(fd uintptr) bool {
	r.n, r.err = r.m.recv(fd)
	return r.err != unix.EAGAIN
}

func (l *HEPUDP) worker(w int, c *net.UDPConn, handle func(int, *HEPBatch) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	r := &udpReader{m: newMmsgBuf(l.cfg.Batch, l.cfg.MaxDatagram)}
	r.fn = r.read
	gate := newHEPGate(&l.cfg)
	b := &HEPBatch{msgs: make([]hepMsg, 0, l.cfg.Batch)}
	var lastDrops uint32
	for {
		if l.cfg.Idle > 0 {
			c.SetReadDeadline(time.Now().Add(l.cfg.Idle))
		}
		if err := rc.Read(r.fn); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// idle: an empty batch lets the worker flush by age
				b.msgs = b.msgs[:0]
				b.ts = time.Now().UnixMicro()
				if err := handle(w, b); err != nil {
					return err
				}
				continue
			}
			return err
		}
		if r.err != nil {
			return r.err
		}
		b.msgs = b.msgs[:0]
		b.ts = time.Now().UnixMicro()
		var bytes, denied, auth, trunc uint64
		for i := 0; i < r.n; i++ {
			h := &r.m.hdrs[i]
			n := int(h.Len)
			if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
				trunc++
			}
			if d, ok := rxqOvfl(r.m.ctrl[i*ctrlSpace : i*ctrlSpace+int(h.Hdr.Controllen)]); ok {
				if d != lastDrops {
					l.Stats.KernelDrops.Add(uint64(d - lastDrops))
					lastDrops = d
				}
			}
			src := sockaddrAddrPort(r.m.name(i))
			if !gate.allowed(src.Addr()) {
				denied++
				continue
			}
			data := r.m.slots[i*r.m.slot : i*r.m.slot+min(n, r.m.slot)]
			if !gate.authorized(data) {
				auth++
				continue
			}
			bytes += uint64(len(data))
			b.msgs = append(b.msgs, hepMsg{data: data, src: src})
		}
		l.Stats.Messages.Add(uint64(len(b.msgs)))
		l.Stats.Bytes.Add(bytes)
		if denied|auth|trunc != 0 {
			l.Stats.Denied.Add(denied)
			l.Stats.AuthFailures.Add(auth)
			l.Stats.Truncated.Add(trunc)
		}
		if len(b.msgs) > 0 {
			if err := handle(w, b); err != nil {
				return err
			}
		}
	}
}

// rxqOvfl finds the SO_RXQ_OVFL control message (the socket's cumulative
// drop count) in a control buffer. It assumes the 64-bit struct cmsghdr
// (a size_t length), like the rest of the package (amd64, arm64).
func rxqOvfl(ctrl []byte) (uint32, bool) {
	const hdr = unix.SizeofCmsghdr
	for len(ctrl) >= hdr {
		ln := int(binary.NativeEndian.Uint64(ctrl[0:8]))
		level := int32(binary.NativeEndian.Uint32(ctrl[8:12]))
		typ := int32(binary.NativeEndian.Uint32(ctrl[12:16]))
		if ln < hdr || ln > len(ctrl) {
			return 0, false
		}
		if level == unix.SOL_SOCKET && typ == unix.SO_RXQ_OVFL && ln >= hdr+4 {
			return binary.NativeEndian.Uint32(ctrl[hdr:]), true
		}
		step := (ln + 7) &^ 7
		if step > len(ctrl) {
			break
		}
		ctrl = ctrl[step:]
	}
	return 0, false
}

// sockaddrAddrPort converts a raw sockaddr_in or sockaddr_in6.
func sockaddrAddrPort(sa []byte) netip.AddrPort {
	if len(sa) < 8 {
		return netip.AddrPort{}
	}
	port := binary.BigEndian.Uint16(sa[2:4])
	switch binary.NativeEndian.Uint16(sa[0:2]) {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(sa[4:8])), port)
	case unix.AF_INET6:
		if len(sa) < 24 {
			return netip.AddrPort{}
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(sa[8:24])).Unmap(), port)
	}
	return netip.AddrPort{}
}
