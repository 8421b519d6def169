package gen

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sipcap/appliance/decode"
)

// hepReceiver counts the HEP packets arriving on a loopback UDP socket.
type hepReceiver struct {
	conn    *net.UDPConn
	mu      sync.Mutex
	packets int
	callIDs map[string]bool
	keys    map[Key]int
	bad     []string
	done    chan struct{}
}

func listenHEP(t *testing.T, network, addr string) *hepReceiver {
	t.Helper()
	c, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(addr)})
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	if rc, err := c.SyscallConn(); err == nil && os.Geteuid() == 0 {
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20) })
	} else {
		c.SetReadBuffer(8 << 20)
	}
	r := &hepReceiver{conn: c, callIDs: map[string]bool{}, keys: map[Key]int{}, done: make(chan struct{})}
	go r.run()
	t.Cleanup(func() { c.Close(); <-r.done })
	return r
}

func (r *hepReceiver) run() {
	defer close(r.done)
	var h decode.HEP
	var s decode.SIP
	buf := make([]byte, 65536)
	for {
		n, err := r.conn.Read(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.packets++
		if err := h.DecodeFrom(buf[:n]); err != nil {
			r.bad = append(r.bad, "hep: "+err.Error())
		} else if err := s.DecodeFrom(h.Payload); err != nil {
			r.bad = append(r.bad, "sip: "+err.Error())
		} else {
			if h.CaptureID != 4242 || string(h.AuthKey) != "secret" || string(h.NodeName) != "gen-test" || !h.IsSIP() {
				r.bad = append(r.bad, "agent fields: "+string(h.AuthKey)+" "+string(h.NodeName))
			}
			r.callIDs[string(s.CallID)] = true
			r.keys[Key{string(s.CallID), s.CSeqNum, string(s.CSeqMethod), int(s.Status)}]++
		}
		r.mu.Unlock()
	}
}

// wait returns the packets received once n have arrived or 5 s have passed.
func (r *hepReceiver) wait(n int) int {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		got := r.packets
		r.mu.Unlock()
		if got >= n {
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // and nothing more
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packets
}

func TestSendHEPLoopback(t *testing.T) {
	t.Parallel()
	f := func(name, network, addr string, ipv6 bool) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := listenHEP(t, network, addr)
			cfg := &HEPConfig{Addr: r.conn.LocalAddr().String(), Seed: 11, Pool: 500, IPv6: ipv6,
				HEPOptions: HEPOptions{AuthKey: "secret", CaptureID: 4242, Node: "gen-test"},
				Sockets:    3, SendConfig: SendConfig{Rate: 50_000, Count: 3000, Duration: 10 * time.Second, Batch: 32}}
			res, err := SendHEP(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != cfg.Count || res.Failed != 0 {
				t.Fatalf("sent %d, failed %d, want %d", res.Sent, res.Failed, cfg.Count)
			}
			if got := r.wait(res.Sent); got != res.Sent {
				t.Fatalf("received %d of %d packets", got, res.Sent)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.bad) > 0 {
				t.Fatalf("%d bad packets, first: %s", len(r.bad), r.bad[0])
			}
			if len(r.callIDs) != res.Calls {
				t.Errorf("received %d distinct Call-IDs, sender says %d", len(r.callIDs), res.Calls)
			}
			// 3000 packets from a pool of 500: six rounds, each with its own
			// Call-IDs, so every message is unique.
			for k, n := range r.keys {
				if n != 1 {
					t.Errorf("%+v received %d times", k, n)
					break
				}
			}
			if len(r.keys) != res.Sent {
				t.Errorf("%d distinct messages of %d", len(r.keys), res.Sent)
			}
		})
	}
	f("ipv4", "udp4", "127.0.0.1", false)
	f("ipv6", "udp6", "::1", true)
}

func TestSendHEPRefusesNonlocal(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"192.0.2.1:9060", "0.0.0.0:9060", "[2001:db8::1]:9060", "[::]:9060", "10.0.0.1:9060"} {
		cfg := &HEPConfig{Addr: addr, SendConfig: SendConfig{Count: 1, Duration: time.Second}}
		if _, err := SendHEP(context.Background(), cfg); !errors.Is(err, ErrNonlocal) {
			t.Errorf("%s: err = %v, want ErrNonlocal", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.1", "nonsense:x"} {
		cfg := &HEPConfig{Addr: addr, SendConfig: SendConfig{Count: 1, Duration: time.Second}}
		if _, err := SendHEP(context.Background(), cfg); err == nil {
			t.Errorf("%s accepted", addr)
		}
	}
}

func TestSendConfigBounds(t *testing.T) {
	t.Parallel()
	for _, c := range []SendConfig{
		{Count: 0, Duration: time.Second},
		{Count: 1, Duration: 0},
		{Count: MaxCount + 1, Duration: time.Second},
		{Count: 1, Duration: MaxDuration + 1},
		{Count: 1, Duration: time.Second, Rate: -1},
		{Count: 1, Duration: time.Second, Batch: 5000},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestSendHEPPaced checks the pacer never runs ahead of the rate: the
// packets sent fit in rate × elapsed plus one batch, and the duration bound
// stops the send.
func TestSendHEPPaced(t *testing.T) {
	t.Parallel()
	r := listenHEP(t, "udp4", "127.0.0.1")
	cfg := &HEPConfig{Addr: r.conn.LocalAddr().String(), Pool: 100,
		SendConfig: SendConfig{Rate: 2000, Count: 1_000_000, Duration: 200 * time.Millisecond, Batch: 16}}
	res, err := SendHEP(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if limit := int(float64(cfg.Rate)*res.Elapsed.Seconds()) + cfg.Batch; res.Sent > limit {
		t.Errorf("sent %d in %s at %d/s: more than %d", res.Sent, res.Elapsed, cfg.Rate, limit)
	}
	if res.Sent == 0 || res.Sent >= cfg.Count {
		t.Errorf("sent %d: the duration bound did not stop the send", res.Sent)
	}
}
