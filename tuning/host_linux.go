package tuning

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// ReadHost reads what Check needs from /proc and /sys. Values it cannot
// read stay zero (unknown).
func ReadHost(iface string) Host {
	h := Host{CPUs: runtime.NumCPU(), Interface: iface}
	h.RmemMax = readInt("/proc/sys/net/core/rmem_max")
	h.NetdevBacklog = readInt("/proc/sys/net/core/netdev_max_backlog")
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				h.MemAvailable = kb << 10
			}
		}
		f.Close()
	}
	if data, err := os.ReadFile("/proc/net/softnet_stat"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if f := strings.Fields(line); len(f) > 1 {
				n, _ := strconv.ParseUint(f[1], 16, 64)
				h.SoftnetDropped += n
			}
		}
	}
	if iface != "" {
		dir := filepath.Join("/sys/class/net", iface)
		if _, err := os.Stat(dir); err == nil {
			h.InterfaceExists = true
			qs, _ := filepath.Glob(filepath.Join(dir, "queues", "rx-*"))
			h.RxQueues = len(qs)
			for _, q := range qs {
				if b, err := os.ReadFile(filepath.Join(q, "rps_cpus")); err == nil && strings.Trim(strings.TrimSpace(string(b)), "0,") != "" {
					h.RPSConfigured = true
				}
			}
		}
	}
	return h
}

func readInt(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// Apply writes a finding's sysctl ("net.core.rmem_max=33554432") to
// /proc/sys. It is the only function here that changes the host.
func Apply(sysctl string) error {
	key, value, ok := strings.Cut(sysctl, "=")
	if !ok {
		return fmt.Errorf("apply %q: not key=value", sysctl)
	}
	path := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("apply %s: %w", sysctl, err)
	}
	return nil
}
