package ring

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// FanoutMode selects how the kernel spreads packets over the rings of a
// fanout group (PACKET_FANOUT, linux/if_packet.h).
type FanoutMode uint8

// Fanout modes. FanoutHash is the default: a symmetric flow hash, so both
// directions of a flow reach the same worker.
const (
	FanoutHash     FanoutMode = iota // PACKET_FANOUT_HASH
	FanoutLB                         // PACKET_FANOUT_LB: round robin
	FanoutCPU                        // PACKET_FANOUT_CPU: the CPU that ran the softirq
	FanoutQM                         // PACKET_FANOUT_QM: the NIC receive queue
	FanoutRollover                   // PACKET_FANOUT_ROLLOVER: fill one socket, then the next
)

var fanoutNames = [...]string{"hash", "lb", "cpu", "qm", "rollover"}

// String returns the name used on the command line.
func (m FanoutMode) String() string {
	if int(m) < len(fanoutNames) {
		return fanoutNames[m]
	}
	return fmt.Sprintf("FanoutMode(%d)", uint8(m))
}

// ParseFanoutMode parses hash, lb, cpu, qm or rollover.
func ParseFanoutMode(s string) (FanoutMode, error) {
	for i, n := range fanoutNames {
		if s == n {
			return FanoutMode(i), nil
		}
	}
	return 0, fmt.Errorf("parse fanout mode %q: want one of hash, lb, cpu, qm, rollover", s)
}

// Defaults for Config. A block of 1 MiB holds about 1,200 frames of an 850-byte
// SIP message; 64 blocks (64 MiB per worker) absorb a stall of about 0.3 s at
// 190 kpps per worker (performance.md 2.1).
const (
	DefaultBlockSize     = 1 << 20
	DefaultBlockCount    = 64
	DefaultFrameSize     = 2048
	DefaultRetireTimeout = 10 * time.Millisecond
	DefaultWorkers       = 1
)

// Config describes a group of AF_PACKET rings: their geometry, the fanout
// group they join and the kernel filter. A nil *Config means the defaults.
// The zero value of every field means its default.
type Config struct {
	// Interface is the interface to bind (raw_interface); "" or "any" means
	// all interfaces.
	Interface string

	// BlockSize is the size of one ring block in bytes: a multiple of the page
	// size and of FrameSize. Default DefaultBlockSize.
	BlockSize int
	// BlockCount is the number of blocks per ring. Default DefaultBlockCount.
	BlockCount int
	// FrameSize is the TPACKET_V3 frame size in bytes, a multiple of 16. In V3
	// frames are packed by their real length; this is only the kernel's frame
	// accounting unit. Default DefaultFrameSize.
	FrameSize int
	// RetireTimeout is how long the kernel keeps a partly filled block before
	// handing it over: the latency at low rates. Milliseconds resolution.
	// Default DefaultRetireTimeout.
	RetireTimeout time.Duration

	// Workers is the number of rings in the fanout group (raw_sock_children,
	// --fanout). Default 1.
	Workers int
	// Fanout is the fanout mode. Default FanoutHash.
	Fanout FanoutMode
	// FanoutNoDefrag turns off PACKET_FANOUT_FLAG_DEFRAG, which is on by
	// default so the fragments of one datagram meet on one worker. With the
	// flag the kernel reassembles IPv4 datagrams before delivering them (the
	// ring sees one frame per datagram) and holds back fragments whose
	// datagram never completes. Every ring joins a fanout group, even alone,
	// so one worker behaves like many.
	FanoutNoDefrag bool
	// FanoutRolloverFlag adds PACKET_FANOUT_FLAG_ROLLOVER: a full ring spills
	// to the next one (fewer drops, order within a flow is lost).
	FanoutRolloverFlag bool
	// FanoutID is the fanout group id. 0 asks the kernel for a unique id
	// (PACKET_FANOUT_FLAG_UNIQUEID).
	FanoutID uint16

	// Promiscuous puts the interface in promiscuous mode through
	// PACKET_ADD_MEMBERSHIP (promiscuous_on). The kernel counts the
	// membership and undoes it when the socket closes.
	Promiscuous bool
	// IgnoreOutgoing sets PACKET_IGNORE_OUTGOING: packets sent by this host
	// are not captured (kernel 4.20+). Needed on lo, where each packet is
	// otherwise seen twice.
	IgnoreOutgoing bool

	// Mirror is mirror (port-monitoring) mode, raw_moni_capture_on.
	Mirror bool
	// IPIP is IPIP mode, raw_ipip_capture_on. Exclusive with Mirror.
	IPIP bool
	// Listen is raw_socket_listen: "IP:port" or "IP:port-port". In mirror
	// mode the ports select traffic; in IPIP mode the IP selects the tunnel
	// endpoint. Empty means no kernel filter.
	Listen string
	// KernelFilterOff is raw_moni_bpf_on=0: no kernel filter is attached and
	// ports are checked in user space.
	KernelFilterOff bool
	// MirrorTunnels makes the mirror-mode kernel filter keep tunnel carriers
	// (IPIP, GRE and ERSPAN, VXLAN, GENEVE) whatever the ports inside them.
	MirrorTunnels bool
}

// ErrModeConflict is returned by Validate when both capture modes are on.
var ErrModeConflict = errors.New("raw_ipip_capture_on and raw_moni_capture_on are exclusive: turn one of them off")

// withDefaults returns a copy of c (or of the defaults when c is nil) with
// zero fields replaced by their defaults.
func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.BlockSize == 0 {
		d.BlockSize = DefaultBlockSize
	}
	if d.BlockCount == 0 {
		d.BlockCount = DefaultBlockCount
	}
	if d.FrameSize == 0 {
		d.FrameSize = DefaultFrameSize
	}
	if d.RetireTimeout == 0 {
		d.RetireTimeout = DefaultRetireTimeout
	}
	if d.Workers == 0 {
		d.Workers = DefaultWorkers
	}
	if d.Interface == "any" {
		d.Interface = ""
	}
	return d
}

// Validate checks the configuration after defaults are applied. A nil
// *Config is valid.
func (c *Config) Validate() error {
	d := c.withDefaults()
	page := os.Getpagesize()
	switch {
	case d.IPIP && d.Mirror:
		return ErrModeConflict
	case d.BlockSize < 0 || d.BlockCount < 0 || d.FrameSize < 0 || d.Workers < 0:
		return fmt.Errorf("ring sizes must not be negative: block size %d, block count %d, frame size %d, workers %d",
			d.BlockSize, d.BlockCount, d.FrameSize, d.Workers)
	case d.BlockSize%page != 0:
		return fmt.Errorf("block size %d must be divisible by page size %d", d.BlockSize, page)
	case d.FrameSize%16 != 0 || d.FrameSize < 64:
		return fmt.Errorf("frame size %d must be at least 64 and divisible by 16 (TPACKET_ALIGNMENT)", d.FrameSize)
	case d.BlockSize%d.FrameSize != 0:
		return fmt.Errorf("block size %d must be divisible by frame size %d", d.BlockSize, d.FrameSize)
	case uint64(d.BlockSize)*uint64(d.BlockCount) > 1<<40:
		return fmt.Errorf("ring of %d blocks of %d bytes is larger than 1 TiB", d.BlockCount, d.BlockSize)
	case uint64(d.BlockSize/d.FrameSize)*uint64(d.BlockCount) > 1<<32-1:
		return fmt.Errorf("ring of %d blocks of %d frames has too many frames", d.BlockCount, d.BlockSize/d.FrameSize)
	case d.RetireTimeout < time.Millisecond || d.RetireTimeout > time.Minute:
		return fmt.Errorf("block retire timeout %v must be between 1ms and 1m", d.RetireTimeout)
	case d.Workers > 1024:
		return fmt.Errorf("workers %d must be at most 1024", d.Workers)
	case d.Fanout > FanoutRollover:
		return fmt.Errorf("fanout mode %d is unknown", d.Fanout)
	}
	if d.Listen != "" && !d.KernelFilterOff {
		if _, err := ParseListen(d.Listen); err != nil {
			return err
		}
	}
	return nil
}

// Memory is the ring memory one ring of this configuration maps, in bytes.
func (c *Config) Memory() int64 {
	d := c.withDefaults()
	return int64(d.BlockSize) * int64(d.BlockCount)
}
