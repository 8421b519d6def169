package ring

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/sipcap/appliance/decode"
)

// HEPStreamListener accepts HEP over TCP or TLS and frames each connection's
// bytes into HEP v3 messages with decode.HEPStream.
type HEPStreamListener struct {
	ln  net.Listener
	cfg HEPConfig
	tls bool
	// Stats are the counters of all connections together.
	Stats HEPStats
}

// ListenHEPTCP listens for HEP over TCP on cfg.TCPAddr.
func ListenHEPTCP(cfg *HEPConfig) (*HEPStreamListener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := cfg.withDefaults()
	if d.TCPAddr == "" {
		return nil, errors.New("listen hep tcp: no address")
	}
	ln, err := net.Listen("tcp", d.TCPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen hep tcp %s: %w", d.TCPAddr, err)
	}
	return &HEPStreamListener{ln: ln, cfg: d}, nil
}

// ListenHEPTLS listens for HEP over TLS on cfg.TLSAddr with the certificate
// and key in cfg.TLSCert and cfg.TLSKey (PEM). TLS 1.2 is the minimum; client
// certificates are not asked for.
func ListenHEPTLS(cfg *HEPConfig) (*HEPStreamListener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := cfg.withDefaults()
	if d.TLSAddr == "" {
		return nil, errors.New("listen hep tls: no address")
	}
	cert, err := tls.LoadX509KeyPair(d.TLSCert, d.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("listen hep tls: load certificate: %w", err)
	}
	ln, err := tls.Listen("tcp", d.TLSAddr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, fmt.Errorf("listen hep tls %s: %w", d.TLSAddr, err)
	}
	return &HEPStreamListener{ln: ln, cfg: d, tls: true}, nil
}

// Addr is the bound address.
func (l *HEPStreamListener) Addr() netip.AddrPort {
	return l.ln.Addr().(*net.TCPAddr).AddrPort()
}

// Close stops accepting; Serve closes the open connections and returns.
func (l *HEPStreamListener) Close() error { return l.ln.Close() }

// streamReadSize is the read buffer per connection.
const streamReadSize = 64 << 10

// Serve accepts connections until ctx is done or the listener is closed,
// and serves each in its own goroutine: the bytes of each read are framed
// into HEP messages, filtered by the allowlist (checked once per connection)
// and auth key, and handed to handle as one batch. handle is called
// concurrently from different connections (each batch is owned by its
// connection until handle returns); a handler error closes that connection.
// Serve returns nil after ctx is done.
func (l *HEPStreamListener) Serve(ctx context.Context, handle func(b *HEPBatch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	stop := context.AfterFunc(ctx, func() {
		l.ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, l.cfg.MaxConns)
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				cancel()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept hep: %w", err)
		}
		select {
		case sem <- struct{}{}:
		default:
			c.Close() // over MaxConns
			continue
		}
		l.Stats.Conns.Add(1)
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.serveConn(c, handle)
			c.Close()
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			<-sem
		}()
	}
}

func (l *HEPStreamListener) serveConn(c net.Conn, handle func(*HEPBatch) error) {
	gate := newHEPGate(&l.cfg)
	src := netip.AddrPort{}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src = a.AddrPort()
	}
	if !gate.allowed(src.Addr()) {
		l.Stats.Denied.Add(1)
		return
	}
	var (
		split   decode.HEPStream
		buf     = make([]byte, streamReadSize)
		arena   []byte // the messages of one read, copied out of the splitter
		offs    []int
		b       HEPBatch
		auth    uint64
		garbage uint64
	)
	emit := func(msg []byte) {
		if !gate.authorized(msg) {
			auth++
			return
		}
		arena = append(arena, msg...)
		offs = append(offs, len(arena))
	}
	for {
		n, err := c.Read(buf)
		if n > 0 {
			arena, offs, auth = arena[:0], offs[:0], 0
			split.Feed(buf[:n], emit)
			if auth != 0 {
				l.Stats.AuthFailures.Add(auth)
			}
			if g := split.Stats.GarbageBytes; g != garbage {
				l.Stats.Garbage.Add(g - garbage)
				garbage = g
			}
			if len(offs) > 0 {
				b.msgs, b.ts = b.msgs[:0], time.Now().UnixMicro()
				start := 0
				for _, end := range offs {
					b.msgs = append(b.msgs, hepMsg{data: arena[start:end:end], src: src})
					start = end
				}
				l.Stats.Messages.Add(uint64(len(offs)))
				l.Stats.Bytes.Add(uint64(len(arena)))
				if handle(&b) != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
