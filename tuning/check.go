package tuning

import (
	"fmt"
	"time"
)

// Host is what the checks read about the machine. Zero values mean unknown.
type Host struct {
	CPUs            int    // CPUs the process may use
	MemAvailable    int64  // bytes
	RmemMax         int64  // net.core.rmem_max
	NetdevBacklog   int64  // net.core.netdev_max_backlog
	SoftnetDropped  uint64 // sum of /proc/net/softnet_stat drops since boot
	Interface       string // raw_interface, "" for none or all
	RxQueues        int    // receive queues of Interface
	RPSConfigured   bool   // any rx queue has a non-zero rps_cpus mask
	InterfaceExists bool
}

// Plan is what the appliance is configured to do.
type Plan struct {
	Workers      int
	RingBytes    int64 // per worker: block size × block count
	HEPRecvBuf   int64 // per HEP UDP socket
	ExpectedPPS  int   // the peak rate to size for; 0 means 100 000 per worker
	MessageBytes int   // typical SIP frame size; 0 means 900
}

// Severity of a finding.
type Severity uint8

// Severities.
const (
	OK Severity = iota
	Advice
	Warning
)

func (s Severity) String() string {
	return [...]string{"ok", "advice", "warning"}[s]
}

// Finding is one check's result. Sysctl, when set, is a setting that fixes
// it ("net.core.rmem_max=33554432"); Apply may write it.
type Finding struct {
	Severity Severity
	Check    string
	Message  string
	Sysctl   string
}

// Check compares the host with the plan and returns one finding per check.
// It is a pure function: reading the host and applying sysctls live in
// host_linux.go.
func Check(h Host, p Plan) []Finding {
	var out []Finding
	add := func(sev Severity, check, msg, sysctl string) {
		out = append(out, Finding{sev, check, msg, sysctl})
	}
	pps := p.ExpectedPPS
	if pps <= 0 {
		pps = 100_000 * max(p.Workers, 1)
	}
	msg := p.MessageBytes
	if msg <= 0 {
		msg = 900
	}

	switch {
	case h.CPUs == 0:
	case p.Workers >= h.CPUs && h.CPUs > 1:
		add(Warning, "cpus", fmt.Sprintf("%d workers on %d CPUs: leave one CPU for the kernel's softirq work and the sink (raw_sock_children=%d)", p.Workers, h.CPUs, h.CPUs-1), "")
	default:
		add(OK, "cpus", fmt.Sprintf("%d workers on %d CPUs", p.Workers, h.CPUs), "")
	}

	ring := p.RingBytes * int64(max(p.Workers, 1))
	if h.MemAvailable > 0 && ring > h.MemAvailable/2 {
		add(Warning, "ring memory", fmt.Sprintf("rings take %d MiB, more than half of the %d MiB available: lower ring_block_count", ring>>20, h.MemAvailable>>20), "")
	} else if p.RingBytes > 0 {
		per := int64(pps/max(p.Workers, 1)) * int64(msg+80)
		stall := time.Duration(0)
		if per > 0 {
			stall = time.Duration(float64(p.RingBytes) / float64(per) * float64(time.Second))
		}
		sev := OK
		text := fmt.Sprintf("each ring holds %d MiB: %s of traffic at %d frames/s per worker", p.RingBytes>>20, stall.Round(time.Millisecond), pps/max(p.Workers, 1))
		if stall < 200*time.Millisecond {
			sev = Advice
			text += "; raise ring_block_count to absorb longer stalls"
		}
		add(sev, "ring memory", text, "")
	}

	if p.HEPRecvBuf > 0 && h.RmemMax > 0 && h.RmemMax < p.HEPRecvBuf {
		add(Advice, "socket buffers", fmt.Sprintf("net.core.rmem_max is %d: HEP sockets get less than the %d bytes asked for unless the appliance has CAP_NET_ADMIN", h.RmemMax, p.HEPRecvBuf),
			fmt.Sprintf("net.core.rmem_max=%d", p.HEPRecvBuf))
	} else if h.RmemMax > 0 {
		add(OK, "socket buffers", fmt.Sprintf("net.core.rmem_max is %d", h.RmemMax), "")
	}

	wantBacklog := int64(pps / 100) // 10 ms of the peak rate
	if h.NetdevBacklog > 0 && h.NetdevBacklog < wantBacklog {
		add(Advice, "backlog", fmt.Sprintf("net.core.netdev_max_backlog is %d: bursts above %d frames per CPU between softirq runs are dropped before capture", h.NetdevBacklog, h.NetdevBacklog),
			fmt.Sprintf("net.core.netdev_max_backlog=%d", wantBacklog))
	} else if h.NetdevBacklog > 0 {
		add(OK, "backlog", fmt.Sprintf("net.core.netdev_max_backlog is %d", h.NetdevBacklog), "")
	}
	if h.SoftnetDropped > 0 {
		add(Warning, "softnet drops", fmt.Sprintf("the kernel dropped %d frames before any capture since boot (/proc/net/softnet_stat)", h.SoftnetDropped), "")
	}

	if h.Interface != "" {
		switch {
		case !h.InterfaceExists:
			add(Warning, "interface", fmt.Sprintf("interface %s does not exist", h.Interface), "")
		case h.RxQueues > 1 && h.RxQueues < p.Workers && !h.RPSConfigured:
			add(Advice, "interface", fmt.Sprintf("%s has %d receive queues for %d workers and no RPS: fanout spreads the load, but softirq work stays on %d CPUs", h.Interface, h.RxQueues, p.Workers, h.RxQueues), "")
		default:
			add(OK, "interface", fmt.Sprintf("%s has %d receive queues", h.Interface, h.RxQueues), "")
		}
	}
	return out
}
