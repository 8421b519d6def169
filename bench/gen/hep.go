package gen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// HEPOptions are the agent fields of the HEP v3 packets built by AppendHEP3.
type HEPOptions struct {
	// AuthKey is sent as chunk 0x000e when not empty.
	AuthKey string
	// CaptureID is chunk 0x000c.
	CaptureID uint32
	// Node is sent as chunk 0x0013 when not empty.
	Node string
}

func appendChunk(b []byte, typ uint16, val ...byte) []byte {
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(6+len(val)))
	return append(b, val...)
}

// AppendHEP3 appends m as a HEP v3 packet (rev 37: "HEP3", total length,
// then vendor 0 chunks, the SIP payload last) captured at ts, and returns it
// with the offset of the payload in the packet. It fails when the packet
// would exceed 65535 bytes.
func AppendHEP3(dst []byte, m *Message, o *HEPOptions, ts time.Time) ([]byte, int, error) {
	start := len(dst)
	b := append(dst, "HEP3\x00\x00"...)
	src, dstA := m.Src.Addr(), m.Dst.Addr()
	proto := byte(17)
	if m.Transport == TCP {
		proto = 6
	}
	if src.Is4() {
		b = appendChunk(b, 0x0001, 2)
		b = appendChunk(b, 0x0002, proto)
		s4, d4 := src.As4(), dstA.As4()
		b = appendChunk(b, 0x0003, s4[:]...)
		b = appendChunk(b, 0x0004, d4[:]...)
	} else {
		b = appendChunk(b, 0x0001, 10)
		b = appendChunk(b, 0x0002, proto)
		s6, d6 := src.As16(), dstA.As16()
		b = appendChunk(b, 0x0005, s6[:]...)
		b = appendChunk(b, 0x0006, d6[:]...)
	}
	b = appendChunk(b, 0x0007, byte(m.Src.Port()>>8), byte(m.Src.Port()))
	b = appendChunk(b, 0x0008, byte(m.Dst.Port()>>8), byte(m.Dst.Port()))
	b = appendChunk(b, 0x0009, binary.BigEndian.AppendUint32(nil, uint32(ts.Unix()))...)
	b = appendChunk(b, 0x000a, binary.BigEndian.AppendUint32(nil, uint32(ts.Nanosecond()/1000))...)
	b = appendChunk(b, 0x000b, 1) // SIP
	b = appendChunk(b, 0x000c, binary.BigEndian.AppendUint32(nil, o.CaptureID)...)
	if o.AuthKey != "" {
		b = appendChunk(b, 0x000e, []byte(o.AuthKey)...)
	}
	if o.Node != "" {
		b = appendChunk(b, 0x0013, []byte(o.Node)...)
	}
	b = appendChunk(b, 0x000f, m.Data...)
	n := len(b) - start
	if n > 0xffff {
		return dst, 0, fmt.Errorf("hep packet of %d bytes exceeds 65535", n)
	}
	binary.BigEndian.PutUint16(b[start+4:], uint16(n))
	return b, n - len(m.Data), nil
}

// HEPConfig says what SendHEP sends.
type HEPConfig struct {
	// Addr is the UDP address to send to, host:port. It must be a loopback
	// address unless AllowNonlocal is set.
	Addr          string
	AllowNonlocal bool
	HEPOptions
	SendConfig
	// Seed chooses the generated messages; Pool is how many distinct
	// messages are built before sending (default 8192). When Count exceeds
	// Pool the pool is sent again with new Call-IDs (the Call-ID epoch is
	// rewritten), so every Call-ID of a send is unique.
	Seed uint64
	Pool int
	// IPv6 generates scenarios with IPv6 endpoints (the HEP address chunks).
	IPv6 bool
	// Sockets is the number of sending sockets (source ports), used in turn
	// batch by batch, like that many agents; default 1, at most 64. A
	// receiver with SO_REUSEPORT spreads them over its sockets.
	Sockets int
}

// HEPResult is what SendHEP did.
type HEPResult struct {
	Result
	// Calls is the number of distinct Call-IDs among the packets sent.
	Calls int
	// Bytes is the number of HEP bytes sent.
	Bytes int64
}

// ErrNonlocal is returned for a HEP destination that is not loopback when
// AllowNonlocal is not set.
var ErrNonlocal = errors.New("gen: hep destination is not a loopback address (allow it explicitly)")

// resolveHEP resolves addr and applies the loopback rule.
func resolveHEP(addr string, allowNonlocal bool) (netip.AddrPort, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("resolve %s: %w", addr, err)
	}
	ap := ua.AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if ap.Port() == 0 {
		return ap, fmt.Errorf("hep destination %s has no port", addr)
	}
	if !ap.Addr().IsLoopback() && !allowNonlocal {
		return ap, fmt.Errorf("%s: %w", ap, ErrNonlocal)
	}
	return ap, nil
}

// BuildHEPPool generates n messages from seed and encodes them as HEP
// packets; offs[i] is the offset of packet i's Call-ID epoch and first[i]
// says whether packet i starts a scenario.
func BuildHEPPool(n int, seed uint64, ipv6 bool, o *HEPOptions) (pkts [][]byte, offs []int, first []bool, err error) {
	g := New(seed)
	ts := time.Now()
	buf := make([]byte, 0, n*1024)
	for len(pkts) < n {
		k := g.NextKind()
		for _, m := range g.Scenario(k, Options{IPv6: ipv6}) {
			if len(pkts) == n {
				break
			}
			s := len(buf)
			var po int
			buf, po, err = AppendHEP3(buf, &m, o, ts)
			if err != nil {
				return nil, nil, nil, err
			}
			// The pool is one buffer; capping each packet keeps appends
			// from touching its neighbours.
			pkts = append(pkts, buf[s:len(buf):len(buf)])
			offs = append(offs, po+m.CallIDOff)
			first = append(first, m.First)
		}
	}
	return pkts, offs, first, nil
}

// SendHEP sends generated SIP messages as HEP v3 over UDP to cfg.Addr,
// bounded by cfg.Count and cfg.Duration and paced at cfg.Rate.
func SendHEP(ctx context.Context, cfg *HEPConfig) (HEPResult, error) {
	var res HEPResult
	if err := cfg.SendConfig.Validate(); err != nil {
		return res, err
	}
	ap, err := resolveHEP(cfg.Addr, cfg.AllowNonlocal)
	if err != nil {
		return res, err
	}
	pool := cfg.Pool
	if pool <= 0 {
		pool = 8192
	}
	pool = min(pool, cfg.Count, 1<<20)
	pkts, offs, first, err := BuildHEPPool(pool, cfg.Seed, cfg.IPv6, &cfg.HEPOptions)
	if err != nil {
		return res, err
	}
	if cfg.Sockets < 0 || cfg.Sockets > 64 {
		return res, fmt.Errorf("sockets %d must be between 0 and 64", cfg.Sockets)
	}
	fds := make([]int, max(cfg.Sockets, 1))
	for i := range fds {
		if fds[i], err = dialUDP(ap); err != nil {
			for _, fd := range fds[:i] {
				unix.Close(fd)
			}
			return res, err
		}
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	base := uint32(cfg.Seed)
	prepare := func(i int) {
		if rep := i / len(pkts); rep > 0 {
			j := i % len(pkts)
			PatchEpoch(pkts[j], offs[j], base+uint32(rep))
		}
	}
	sent := func(i int) {
		j := i % len(pkts)
		if first[j] {
			res.Calls++
		}
		res.Bytes += int64(len(pkts[j]))
	}
	res.Result, err = sendLoop(ctx, fds, pkts, cfg.SendConfig, prepare, sent)
	return res, err
}

// dialUDP returns a blocking UDP socket connected to ap, with a large send
// buffer.
func dialUDP(ap netip.AddrPort) (int, error) {
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ap.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open udp socket: %w", err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect udp %s: %w", ap, err)
	}
	return fd, nil
}
