package ring

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hep3 builds a HEP v3 SIP message with the marker id in its payload and,
// when key is not nil, an auth key chunk.
func hep3(id uint32, key []byte) []byte {
	b := []byte("HEP3\x00\x00")
	chunk := func(typ uint16, v []byte) {
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint16(b, uint16(6+len(v)))
		b = append(b, v...)
	}
	u16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	chunk(1, []byte{2})
	chunk(2, []byte{17})
	chunk(3, []byte{10, 0, 0, 1})
	chunk(4, []byte{10, 0, 0, 2})
	chunk(7, u16(5060))
	chunk(8, u16(5060))
	chunk(9, u32(1700000000))
	chunk(10, u32(0))
	chunk(11, []byte{1})
	chunk(12, u32(2001))
	if key != nil {
		chunk(14, key)
	}
	chunk(15, append([]byte("OPTIONS sip:a@b SIP/2.0\r\n"), marker(id, 8)...))
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)))
	return b
}

// hepCollector gathers marker ids per worker, safely across goroutines.
type hepCollector struct {
	mu  sync.Mutex
	ids map[uint32][]int // id -> workers that got it
	n   int
}

func (c *hepCollector) handle(worker int, b *HEPBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil {
		c.ids = map[uint32][]int{}
	}
	for i := range b.Len() {
		id, ok := markerOf(b.Data(i))
		if !ok {
			id = 1<<32 - 1
		}
		if !b.Src(i).Addr().IsLoopback() || b.TS() == 0 {
			id = 1<<32 - 2
		}
		c.ids[id] = append(c.ids[id], worker)
		c.n++
	}
	return nil
}

func (c *hepCollector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *hepCollector) wait(n int, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c.mu.Lock()
		got := c.n
		c.mu.Unlock()
		if got >= n {
			break
		}
	}
	time.Sleep(20 * time.Millisecond) // duplicates would show up now
}

func runUDP(t *testing.T, cfg HEPConfig) (*HEPUDP, *hepCollector, func()) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	l, err := ListenHEPUDP(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	col := &hepCollector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, nil, col.handle) }()
	return l, col, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

func sendUDP(t *testing.T, to netip.AddrPort, clients int, msgs [][]byte) {
	t.Helper()
	var cs []*net.UDPConn
	for range clients {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	for i, m := range msgs {
		if _, err := cs[i%len(cs)].Write(m); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(time.Millisecond) // stay far below the receive buffer
		}
	}
}

func TestHEPUDPExactlyOnce(t *testing.T) {
	l, col, stop := runUDP(t, HEPConfig{Workers: 2})
	const n = 400
	var msgs [][]byte
	for i := range n {
		msgs = append(msgs, hep3(uint32(i), nil))
	}
	sendUDP(t, l.Addr(), 16, msgs)
	col.wait(n, 3*time.Second)
	stop()
	workers := map[int]bool{}
	for i := range n {
		ws := col.ids[uint32(i)]
		if len(ws) != 1 {
			t.Errorf("message %d delivered %d times", i, len(ws))
			continue
		}
		workers[ws[0]] = true
	}
	if len(col.ids) != n {
		t.Errorf("got %d distinct ids, want %d (bad source or marker: %v)", len(col.ids), n, col.ids[1<<32-2])
	}
	if len(workers) != 2 {
		t.Logf("SO_REUSEPORT spread 16 senders over %d of 2 sockets", len(workers))
	}
	if got := l.Stats.Messages.Load(); got != n {
		t.Errorf("stats: %d messages, want %d", got, n)
	}
	if l.Stats.KernelDrops.Load() != 0 {
		t.Errorf("kernel drops %d at a gentle rate", l.Stats.KernelDrops.Load())
	}
}

func TestHEPUDPAuthAndAllow(t *testing.T) {
	key := []byte("s3cret")
	f := func(name string, cfg HEPConfig, msgs [][]byte, want []uint32, wantAuth, wantDenied uint64) {
		t.Helper()
		l, col, stop := runUDP(t, cfg)
		sendUDP(t, l.Addr(), 1, msgs)
		col.wait(len(want), 2*time.Second)
		// Drops happen in the listener, so wait for the counters rather
		// than for deliveries, before the listener is stopped.
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) &&
			(l.Stats.AuthFailures.Load() != wantAuth || l.Stats.Denied.Load() != wantDenied); {
			time.Sleep(5 * time.Millisecond)
		}
		stop()
		if len(col.ids) != len(want) {
			t.Errorf("%s: delivered %d messages, want %d", name, len(col.ids), len(want))
		}
		for _, id := range want {
			if len(col.ids[id]) != 1 {
				t.Errorf("%s: message %d delivered %d times", name, id, len(col.ids[id]))
			}
		}
		if a, d := l.Stats.AuthFailures.Load(), l.Stats.Denied.Load(); a != wantAuth || d != wantDenied {
			t.Errorf("%s: auth failures %d (want %d), denied %d (want %d)", name, a, wantAuth, d, wantDenied)
		}
	}
	mixed := [][]byte{hep3(1, key), hep3(2, []byte("wrong")), hep3(3, nil), hep3(4, key), []byte("not hep"), hep3(5, []byte("s3cre"))}
	f("auth on", HEPConfig{AuthKey: key}, mixed, []uint32{1, 4}, 4, 0)
	// Every message of a datagram must carry the key, not only the first.
	two := func(a, b []byte) []byte { return append(append([]byte(nil), a...), b...) }
	f("auth on, two messages per datagram", HEPConfig{AuthKey: key},
		[][]byte{two(hep3(6, key), hep3(7, nil)), two(hep3(8, key), hep3(9, key)), two(hep3(10, key), hep3(11, []byte("wrong")))},
		[]uint32{8}, 2, 0)
	f("auth off", HEPConfig{}, mixed[:4], []uint32{1, 2, 3, 4}, 0, 0)
	f("allow loopback", HEPConfig{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, mixed[:2], []uint32{1, 2}, 0, 0)
	f("allow other", HEPConfig{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}, mixed[:2], nil, 0, 2)
}

func TestHEPUDPKernelDrops(t *testing.T) {
	// A tiny receive buffer and nobody reading: the kernel drops, and the
	// SO_RXQ_OVFL count arrives with the next datagram read.
	l, err := ListenHEPUDP(&HEPConfig{Addr: "127.0.0.1:0", RecvBuf: 4096})
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	for i := range 300 {
		msgs = append(msgs, hep3(uint32(i), nil))
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(l.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range msgs {
		c.Write(m)
	}
	col := &hepCollector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, nil, col.handle) }()
	col.wait(1, 2*time.Second)
	c.Write(hep3(9999, nil)) // carries the final drop count
	col.wait(col.count()+1, time.Second)
	cancel()
	<-done
	drops := l.Stats.KernelDrops.Load()
	got := l.Stats.Messages.Load()
	if drops == 0 || got+drops != 301 {
		t.Errorf("delivered %d + kernel drops %d, want some drops and a sum of 301", got, drops)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ring test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestHEPStreams(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	key := []byte("k3y")
	f := func(name string, useTLS bool, cfg HEPConfig, msgs [][]byte, want []uint32, wantAuth uint64) {
		t.Helper()
		var l *HEPStreamListener
		var err error
		if useTLS {
			cfg.TLSAddr, cfg.TLSCert, cfg.TLSKey = "127.0.0.1:0", certFile, keyFile
			l, err = ListenHEPTLS(&cfg)
		} else {
			cfg.TCPAddr = "127.0.0.1:0"
			l, err = ListenHEPTCP(&cfg)
		}
		if err != nil {
			t.Fatal(err)
		}
		col := &hepCollector{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Serve(ctx, func(b *HEPBatch) error { return col.handle(0, b) }) }()

		var c net.Conn
		if useTLS {
			c, err = tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		} else {
			c, err = net.Dial("tcp", l.Addr().String())
		}
		if err != nil {
			t.Fatal(err)
		}
		// Write the stream in awkward pieces: messages split across writes.
		var stream []byte
		for _, m := range msgs {
			stream = append(stream, m...)
		}
		for len(stream) > 0 {
			k := min(len(stream), 37)
			if _, err := c.Write(stream[:k]); err != nil {
				t.Fatal(err)
			}
			stream = stream[k:]
		}
		col.wait(len(want), 2*time.Second)
		c.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: serve: %v", name, err)
		}
		if len(col.ids) != len(want) {
			t.Errorf("%s: delivered %d distinct messages, want %d", name, len(col.ids), len(want))
		}
		for _, id := range want {
			if len(col.ids[id]) != 1 {
				t.Errorf("%s: message %d delivered %d times", name, id, len(col.ids[id]))
			}
		}
		if a := l.Stats.AuthFailures.Load(); a != wantAuth {
			t.Errorf("%s: auth failures %d, want %d", name, a, wantAuth)
		}
		if l.Stats.Conns.Load() != 1 {
			t.Errorf("%s: %d connections", name, l.Stats.Conns.Load())
		}
	}
	var plain [][]byte
	var want []uint32
	for i := range 50 {
		plain = append(plain, hep3(uint32(i), nil))
		want = append(want, uint32(i))
	}
	mixed := [][]byte{hep3(1, key), hep3(2, []byte("nope")), hep3(3, nil), hep3(4, key)}
	f("tcp", false, HEPConfig{}, plain, want, 0)
	f("tls", true, HEPConfig{}, plain, want, 0)
	f("tcp auth", false, HEPConfig{AuthKey: key}, mixed, []uint32{1, 4}, 2)
	f("tls auth", true, HEPConfig{AuthKey: key}, mixed, []uint32{1, 4}, 2)
}

func TestHEPConfigValidate(t *testing.T) {
	f := func(c *HEPConfig, ok bool) {
		t.Helper()
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("%+v: %v", c, err)
		}
	}
	f(nil, true)
	f(&HEPConfig{TLSAddr: ":9061"}, false)
	f(&HEPConfig{Batch: 5000}, false)
	f(&HEPConfig{MaxDatagram: 10}, false)
	f(&HEPConfig{Workers: -1}, false)
	if _, err := ListenHEPTLS(&HEPConfig{TLSAddr: "127.0.0.1:0", TLSCert: "/nonexistent", TLSKey: "/nonexistent"}); err == nil {
		t.Errorf("missing certificate accepted")
	}
}

func TestRxqOvflParse(t *testing.T) {
	f := func(ctrl []byte, want uint32, wantOK bool) {
		t.Helper()
		got, ok := rxqOvfl(ctrl)
		if got != want || ok != wantOK {
			t.Errorf("rxqOvfl(%x) = %d %v, want %d %v", ctrl, got, ok, want, wantOK)
		}
	}
	msg := make([]byte, 24)
	binary.NativeEndian.PutUint64(msg[0:], 20)
	binary.NativeEndian.PutUint32(msg[8:], 1)     // SOL_SOCKET
	binary.NativeEndian.PutUint32(msg[12:], 0x28) // SO_RXQ_OVFL
	binary.NativeEndian.PutUint32(msg[16:], 77)
	f(msg, 77, true)
	f(nil, 0, false)
	f(msg[:10], 0, false)
	bad := append([]byte(nil), msg...)
	binary.NativeEndian.PutUint64(bad[0:], 1000)
	f(bad, 0, false)
}

// TestHEPUDPIdle: with Idle set, a quiet socket's worker is called with
// empty batches, so that it can flush by age.
func TestHEPUDPIdle(t *testing.T) {
	l, err := ListenHEPUDP(&HEPConfig{Addr: "127.0.0.1:0", Idle: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var empty, full atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- l.Run(ctx, nil, func(_ int, b *HEPBatch) error {
			if b.Len() == 0 {
				empty.Add(1)
			} else {
				full.Add(int64(b.Len()))
			}
			return nil
		})
	}()
	sendUDP(t, l.Addr(), 1, [][]byte{hep3(1, nil)})
	deadline := time.Now().Add(3 * time.Second)
	for (empty.Load() < 3 || full.Load() < 1) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if empty.Load() < 3 || full.Load() != 1 {
		t.Errorf("idle calls %d (want >= 3), messages %d (want 1)", empty.Load(), full.Load())
	}
}
