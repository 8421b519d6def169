package tuning

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	find := func(fs []Finding, check string) Finding {
		for _, f := range fs {
			if f.Check == check {
				return f
			}
		}
		t.Fatalf("no %q finding in %+v", check, fs)
		return Finding{}
	}
	small := Host{CPUs: 2, MemAvailable: 1 << 30, RmemMax: 212992, NetdevBacklog: 1000, Interface: "eth1", InterfaceExists: true, RxQueues: 1}
	fs := Check(small, Plan{Workers: 2, RingBytes: 64 << 20, HEPRecvBuf: 32 << 20})
	if f := find(fs, "cpus"); f.Severity != Warning || !strings.Contains(f.Message, "raw_sock_children=1") {
		t.Errorf("cpus: %+v", f)
	}
	if f := find(fs, "socket buffers"); f.Severity != Advice || f.Sysctl != "net.core.rmem_max=33554432" {
		t.Errorf("socket buffers: %+v", f)
	}
	if f := find(fs, "backlog"); f.Severity != Advice || f.Sysctl != "net.core.netdev_max_backlog=2000" {
		t.Errorf("backlog: %+v", f)
	}
	big := Host{CPUs: 16, MemAvailable: 64 << 30, RmemMax: 64 << 20, NetdevBacklog: 100000, Interface: "eth1", InterfaceExists: true, RxQueues: 4}
	fs = Check(big, Plan{Workers: 14, RingBytes: 256 << 20, HEPRecvBuf: 32 << 20, ExpectedPPS: 1_500_000})
	for _, f := range fs {
		if f.Severity == Warning {
			t.Errorf("a well-sized host got a warning: %+v", f)
		}
	}
	if f := find(fs, "interface"); f.Severity != Advice || !strings.Contains(f.Message, "no RPS") {
		t.Errorf("interface: %+v", f)
	}
	if f := find(Check(Host{CPUs: 4, MemAvailable: 100 << 20}, Plan{Workers: 2, RingBytes: 64 << 20}), "ring memory"); f.Severity != Warning {
		t.Errorf("rings larger than memory: %+v", f)
	}
	if f := find(Check(Host{Interface: "nope0"}, Plan{Workers: 1}), "interface"); f.Severity != Warning {
		t.Errorf("missing interface: %+v", f)
	}
}

func TestReadHost(t *testing.T) {
	h := ReadHost("lo")
	if h.CPUs < 1 || !h.InterfaceExists {
		t.Errorf("read host: %+v", h)
	}
	if h.RmemMax == 0 || h.NetdevBacklog == 0 || h.MemAvailable == 0 {
		t.Skipf("this host hides /proc/sys or /proc/meminfo: %+v", h)
	}
}
