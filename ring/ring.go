package ring

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Errors returned by Next and Lease. They are sentinels: compare with ==.
var (
	// ErrTimeout means no block became ready within the timeout.
	ErrTimeout = errors.New("ring: timeout")
	// ErrClosed means Shutdown was called; the owner should stop and Close.
	ErrClosed = errors.New("ring: closed")
	// ErrLeased means a block is already leased and not released.
	ErrLeased = errors.New("ring: block already leased")
)

// Ring is one AF_PACKET socket with a TPACKET_V3 memory-mapped receive ring.
//
// A Ring is owned by one goroutine: Next, Lease, Release and Close must not be
// called concurrently. Stats and Shutdown are safe from any goroutine.
type Ring struct {
	fd      int
	evfd    int // eventfd that Shutdown writes to wake a blocked poll
	mem     []byte
	bsize   int
	nblocks int
	cur     int
	leased  bool
	block   Block
	pfd     [2]unix.PollFd
	ifindex int
	fanout  uint16

	shut    atomic.Bool
	statsMu sync.Mutex // guards stats, closed, and fd/evfd against Close
	stats   Stats
	closed  bool
}

// Stats are the kernel's counters for one socket (PACKET_STATISTICS, struct
// tpacket_stats_v3), accumulated since the socket was opened.
type Stats struct {
	// Packets is the number of frames that passed the filter, including the
	// dropped ones (the kernel adds drops to tp_packets when it reports).
	Packets uint64
	// Drops is the number of frames lost because the ring was full.
	Drops uint64
	// Freezes is the number of times the kernel froze the queue because no
	// block was free (tp_freeze_q_cnt).
	Freezes uint64
}

// Add returns the sum of s and o.
func (s Stats) Add(o Stats) Stats {
	return Stats{Packets: s.Packets + o.Packets, Drops: s.Drops + o.Drops, Freezes: s.Freezes + o.Freezes}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Open opens one ring as described by cfg (nil means defaults) and joins the
// fanout group cfg.FanoutID (a unique id is requested when it is 0; see
// Ring.FanoutID). It needs CAP_NET_RAW. Open is for a single ring; OpenGroup
// opens cfg.Workers rings in one group.
func Open(cfg *Config) (*Ring, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := cfg.withDefaults()
	filter, err := cfg.Filter()
	if err != nil {
		return nil, err
	}
	return open(&d, filter, d.FanoutID, d.FanoutID == 0)
}

func open(d *Config, filter []bpf.RawInstruction, fanoutID uint16, unique bool) (r *Ring, err error) {
	ifindex := 0
	if d.Interface != "" {
		ifi, err := net.InterfaceByName(d.Interface)
		if err != nil {
			return nil, fmt.Errorf("open ring on %s: %w", d.Interface, err)
		}
		ifindex = ifi.Index
	}
	where := d.Interface
	if where == "" {
		where = "all interfaces"
	}
	// Protocol 0: the socket receives nothing until bind, so no frame slips
	// in before the filter is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open ring on %s: socket: %w", where, err)
	}
	r = &Ring{fd: fd, evfd: -1, bsize: d.BlockSize, nblocks: d.BlockCount, ifindex: ifindex}
	defer func() {
		if err != nil {
			r.Close()
			r = nil
		}
	}()
	fail := func(what string, e error) error { return fmt.Errorf("open ring on %s: %s: %w", where, what, e) }

	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return r, fail("set TPACKET_V3", err)
	}
	if d.IgnoreOutgoing {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
			return r, fail("set PACKET_IGNORE_OUTGOING", err)
		}
	}
	if filter != nil {
		if err := attachFilter(fd, filter); err != nil {
			return r, fail("attach filter", err)
		}
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(d.BlockSize),
		Block_nr:       uint32(d.BlockCount),
		Frame_size:     uint32(d.FrameSize),
		Frame_nr:       uint32(d.BlockSize / d.FrameSize * d.BlockCount),
		Retire_blk_tov: uint32(d.RetireTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return r, fail(fmt.Sprintf("set PACKET_RX_RING (%d blocks of %d bytes)", d.BlockCount, d.BlockSize), err)
	}
	if r.mem, err = mmapRing(fd, d.BlockSize*d.BlockCount); err != nil {
		return r, fail("mmap ring", err)
	}
	sa := unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, &sa); err != nil {
		return r, fail("bind", err)
	}
	if d.Promiscuous && ifindex != 0 {
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return r, fail("add promiscuous membership", err)
		}
	}
	if d.Workers > 1 || d.FanoutID != 0 || unique {
		if r.fanout, err = joinFanout(fd, d, fanoutID, unique); err != nil {
			return r, fail("join fanout group", err)
		}
	}
	if r.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return r, fail("eventfd", err)
	}
	r.pfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN | unix.POLLERR}
	r.pfd[1] = unix.PollFd{Fd: int32(r.evfd), Events: unix.POLLIN}
	r.block.r = r
	return r, nil
}

func attachFilter(fd int, prog []bpf.RawInstruction) error {
	f := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		f[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]})
}

var fanoutTypes = [...]int{
	FanoutHash:     unix.PACKET_FANOUT_HASH,
	FanoutLB:       unix.PACKET_FANOUT_LB,
	FanoutCPU:      unix.PACKET_FANOUT_CPU,
	FanoutQM:       unix.PACKET_FANOUT_QM,
	FanoutRollover: unix.PACKET_FANOUT_ROLLOVER,
}

// joinFanout joins the fanout group id, or creates one with a kernel-chosen
// unique id when unique is set, and returns the group id.
func joinFanout(fd int, d *Config, id uint16, unique bool) (uint16, error) {
	typ := fanoutTypes[d.Fanout]
	if !d.FanoutNoDefrag {
		typ |= unix.PACKET_FANOUT_FLAG_DEFRAG
	}
	if d.FanoutRolloverFlag && d.Fanout != FanoutRollover {
		typ |= unix.PACKET_FANOUT_FLAG_ROLLOVER
	}
	if d.IgnoreOutgoing {
		// A fanout group registers its own packet hook; the socket's
		// PACKET_IGNORE_OUTGOING does not apply to it.
		typ |= unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING
	}
	if unique {
		typ |= unix.PACKET_FANOUT_FLAG_UNIQUEID
		id = 0
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(id)|typ<<16); err != nil {
		return 0, err
	}
	v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
	if err != nil {
		return 0, err
	}
	return uint16(v), nil
}

// FanoutID is the fanout group this ring joined (0 when it joined none).
func (r *Ring) FanoutID() uint16 { return r.fanout }

// Memory is the size of the ring in bytes.
func (r *Ring) Memory() int64 { return int64(r.bsize) * int64(r.nblocks) }

// Fd is the socket, for diagnostics only.
func (r *Ring) Fd() int { return r.fd }

// Stats reads the kernel counters (which resets them in the kernel), adds them
// to the totals and returns the totals. Safe from any goroutine; not for the
// per-packet path (one getsockopt per call).
func (r *Ring) Stats() (Stats, error) {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	if r.closed {
		return r.stats, nil
	}
	if err := r.readStats(); err != nil {
		return r.stats, err
	}
	return r.stats, nil
}

// readStats must be called with statsMu held.
func (r *Ring) readStats() error {
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return fmt.Errorf("read ring stats: %w", err)
	}
	r.stats.Packets += uint64(st.Packets)
	r.stats.Drops += uint64(st.Drops)
	r.stats.Freezes += uint64(st.Freeze_q_cnt)
	return nil
}

// Shutdown makes a blocked or later Next/Lease return ErrClosed. Safe from
// any goroutine; the owner still calls Close.
func (r *Ring) Shutdown() {
	r.statsMu.Lock() // against a concurrent Close
	defer r.statsMu.Unlock()
	if r.shut.Swap(true) {
		return
	}
	var one = [8]byte{1}
	if r.evfd >= 0 {
		unix.Write(r.evfd, one[:])
	}
}

// Close releases the ring: it unmaps the memory and closes the socket, which
// also drops the promiscuous membership and leaves the fanout group. Only the
// owner calls Close, after its last Next/Lease; blocks leased earlier must
// not be used afterwards. Stats keeps returning the final totals.
func (r *Ring) Close() error {
	r.shut.Store(true)
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var err error
	if r.fd >= 0 && r.mem != nil {
		err = r.readStats()
	}
	if r.mem != nil {
		if e := unix.Munmap(r.mem); e != nil && err == nil {
			err = fmt.Errorf("unmap ring: %w", e)
		}
		r.mem = nil
	}
	if r.evfd >= 0 {
		unix.Close(r.evfd)
		r.evfd = -1
	}
	if r.fd >= 0 {
		if e := unix.Close(r.fd); e != nil && err == nil {
			err = fmt.Errorf("close ring: %w", e)
		}
		r.fd = -1
	}
	return err
}

// Next waits up to timeout (negative: forever) for the next block, calls fn
// with it and then returns the block to the kernel, whatever fn returns. fn's
// error is returned. The block and every byte it exposes are valid only
// inside fn. Returns ErrTimeout or ErrClosed without calling fn.
func (r *Ring) Next(timeout time.Duration, fn func(b *Block) error) error {
	b, err := r.Lease(timeout)
	if err != nil {
		return err
	}
	err = fn(b)
	r.Release()
	return err
}

// Lease waits up to timeout (negative: forever) for the next block and leases
// it to the caller until Release. Bytes from the block must not be kept past
// Release. Only one block is leased at a time. Returns ErrTimeout or
// ErrClosed.
func (r *Ring) Lease(timeout time.Duration) (*Block, error) {
	if r.leased {
		return nil, ErrLeased
	}
	if r.shut.Load() {
		return nil, ErrClosed
	}
	mem := r.mem[r.cur*r.bsize : (r.cur+1)*r.bsize]
	h := blockHdr(mem)
	if loadBlockStatus(h)&unix.TP_STATUS_USER == 0 {
		if err := r.wait(h, timeout); err != nil {
			return nil, err
		}
	}
	r.leased = true
	r.block.reset(mem, h)
	return &r.block, nil
}

// wait polls until block h is handed to user space, the deadline passes or
// Shutdown is called.
func (r *Ring) wait(h *unix.TpacketHdrV1, timeout time.Duration) error {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		ms := -1
		if timeout >= 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return ErrTimeout
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		r.pfd[0].Revents, r.pfd[1].Revents = 0, 0
		_, err := unix.Poll(r.pfd[:], ms)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("poll ring: %w", err)
		}
		if r.shut.Load() {
			return ErrClosed
		}
		if loadBlockStatus(h)&unix.TP_STATUS_USER != 0 {
			return nil
		}
		if r.pfd[0].Revents&unix.POLLERR != 0 {
			// A pending socket error (e.g. ENETDOWN) would make poll spin.
			var buf [1]byte
			unix.Recvfrom(r.fd, buf[:], unix.MSG_DONTWAIT)
		}
	}
}

// Release returns the leased block to the kernel and moves to the next one.
// Calling it with no lease is a no-op.
func (r *Ring) Release() {
	if !r.leased {
		return
	}
	r.leased = false
	storeBlockStatus(r.block.hdr, unix.TP_STATUS_KERNEL)
	r.block.clear()
	r.cur++
	if r.cur == r.nblocks {
		r.cur = 0
	}
}
