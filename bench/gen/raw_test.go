package gen

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/ring"
)

// vethNetns creates a netns holding one end of a veth pair whose other end
// stays in the test's namespace, and removes both at cleanup.
func vethNetns(t *testing.T, tag string) (ns, host, peer string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (CAP_NET_ADMIN, CAP_NET_RAW) for a netns, a veth pair and AF_PACKET")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: ip(8) not installed")
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	ns, host, peer = "gen"+tag+id, "g"+tag+"h"+id, "g"+tag+"p"+id
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", host).Run()
		exec.Command("ip", "netns", "del", ns).Run()
	})
	run("link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns)
	os.WriteFile("/proc/sys/net/ipv6/conf/"+host+"/disable_ipv6", []byte("1"), 0)
	run("netns", "exec", ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6")
	run("link", "set", host, "up")
	run("-n", ns, "link", "set", peer, "up")
	return ns, host, peer
}

type countSIP struct{ n int }

func (c *countSIP) SIP(_ *decode.Meta, _ *decode.SIP, err error) {
	if err == nil {
		c.n++
	}
}

// TestRawSender sends generated frames from inside a netns and captures them
// on the host end: every frame arrives once and decodes to its SIP message.
func TestRawSender(t *testing.T) {
	ns, host, peer := vethNetns(t, "r")
	frames, msgs, err := BuildFrames(3000, 5, Mix{EncapUDP: 2, EncapVLAN: 1, EncapGRE: 1, EncapFrag: 1})
	if err != nil {
		t.Fatal(err)
	}
	// No defrag flag: the ring sees every fragment as sent.
	r, err := ring.Open(&ring.Config{Interface: host, BlockSize: 1 << 20, BlockCount: 16, FanoutNoDefrag: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := OpenRawNetns(ns, peer)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := OpenRaw("no-such-if0"); err == nil {
		t.Error("OpenRaw on a missing interface succeeded")
	}
	res, err := s.Send(context.Background(), frames, SendConfig{Count: len(frames), Duration: 10 * time.Second, Pin: true, CPU: 0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != len(frames) {
		t.Fatalf("sent %d of %d frames (failed %d)", res.Sent, len(frames), res.Failed)
	}
	p, _ := decode.NewPath(nil)
	c := &countSIP{}
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got < len(frames) && time.Now().Before(deadline); {
		r.Next(50*time.Millisecond, func(b *ring.Block) error {
			for b.Next() {
				got++
				p.Decode(b.Data(), decode.LinkEthernet, b.TS(), 0, c)
			}
			return nil
		})
	}
	if got != len(frames) {
		st, _ := r.Stats()
		out, _ := exec.Command("ip", "-s", "link", "show", host).CombinedOutput()
		t.Errorf("captured %d of %d frames (ring stats %+v)\n%s", got, len(frames), st, out)
	}
	if c.n != msgs {
		t.Errorf("decoded %d SIP messages, sent %d", c.n, msgs)
	}
}
