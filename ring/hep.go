package ring

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/sipcap/appliance/decode"
)

// Defaults for HEPConfig.
const (
	DefaultHEPAddr     = ":9060"
	DefaultHEPRecvBuf  = 32 << 20
	DefaultHEPBatch    = 64
	DefaultHEPDatagram = 65535
)

// HEPConfig configures the HEP listeners. A nil *HEPConfig means the
// defaults; the zero value of every field means its default.
type HEPConfig struct {
	// Addr is the UDP listen address (--hep, hep_capture_on). Default ":9060".
	Addr string
	// Workers is the number of UDP sockets sharing Addr with SO_REUSEPORT,
	// one per worker goroutine. Default 1.
	Workers int
	// RecvBuf is the UDP receive buffer per socket in bytes. It is set with
	// SO_RCVBUFFORCE (CAP_NET_ADMIN), else SO_RCVBUF, which the kernel clamps
	// to net.core.rmem_max (a warning is recorded). Default 32 MiB.
	RecvBuf int
	// Batch is the number of datagrams one recvmmsg call reads at most.
	// Default 64.
	Batch int
	// MaxDatagram is the receive buffer per datagram in bytes; longer
	// datagrams are truncated and counted. Default 65535.
	MaxDatagram int

	// TCPAddr is the HEP-over-TCP listen address; empty means none.
	TCPAddr string
	// TLSAddr is the HEP-over-TLS listen address; empty means none. Needs
	// TLSCert and TLSKey (PEM files).
	TLSAddr         string
	TLSCert, TLSKey string
	// MaxConns bounds the concurrent TCP+TLS connections. Default 1024.
	MaxConns int

	// AuthKey, when not empty, is required: every HEP message must carry it
	// (chunk 0x000e, compared in constant time) or it is dropped and counted.
	// HEP v1/v2 carry no key and are dropped when a key is required.
	AuthKey []byte
	// Allow, when not empty, is the list of source prefixes accepted; other
	// senders are dropped and counted.
	Allow []netip.Prefix
	// Idle, when positive, makes each UDP worker call its handler with an
	// empty batch after that long without a datagram, so that it can flush
	// aged batches on a quiet socket. 0 means never.
	Idle time.Duration
}

func (c *HEPConfig) withDefaults() HEPConfig {
	var d HEPConfig
	if c != nil {
		d = *c
	}
	if d.Addr == "" {
		d.Addr = DefaultHEPAddr
	}
	if d.Workers == 0 {
		d.Workers = 1
	}
	if d.RecvBuf == 0 {
		d.RecvBuf = DefaultHEPRecvBuf
	}
	if d.Batch == 0 {
		d.Batch = DefaultHEPBatch
	}
	if d.MaxDatagram == 0 {
		d.MaxDatagram = DefaultHEPDatagram
	}
	if d.MaxConns == 0 {
		d.MaxConns = 1024
	}
	return d
}

// Validate checks the configuration. A nil *HEPConfig is valid.
func (c *HEPConfig) Validate() error {
	d := c.withDefaults()
	switch {
	case d.Workers < 0 || d.Workers > 1024:
		return fmt.Errorf("hep workers %d must be between 1 and 1024", d.Workers)
	case d.RecvBuf < 0 || d.RecvBuf > 1<<30:
		return fmt.Errorf("hep receive buffer %d must be between 0 and 1 GiB", d.RecvBuf)
	case d.Batch < 1 || d.Batch > 1024:
		return fmt.Errorf("hep batch %d must be between 1 and 1024", d.Batch)
	case d.MaxDatagram < 64 || d.MaxDatagram > 65535:
		return fmt.Errorf("hep max datagram %d must be between 64 and 65535", d.MaxDatagram)
	case d.MaxConns < 1:
		return fmt.Errorf("hep max connections %d must be positive", d.MaxConns)
	case d.TLSAddr != "" && (d.TLSCert == "" || d.TLSKey == ""):
		return errors.New("hep TLS listener needs a certificate and a key file")
	}
	return nil
}

// HEPBatch is a batch of HEP messages: the datagrams of one recvmmsg call, or
// the messages framed from one read of a TCP/TLS connection. It and every
// slice it returns are valid only until the callback it was passed to
// returns.
type HEPBatch struct {
	msgs []hepMsg
	ts   int64
}

type hepMsg struct {
	data []byte
	src  netip.AddrPort
}

// Len is the number of messages.
func (b *HEPBatch) Len() int { return len(b.msgs) }

// Data is message i. Valid until the callback returns.
func (b *HEPBatch) Data(i int) []byte { return b.msgs[i].data }

// Src is the sender of message i.
func (b *HEPBatch) Src(i int) netip.AddrPort { return b.msgs[i].src }

// TS is the receive time of the batch in microseconds since the Unix epoch.
func (b *HEPBatch) TS() int64 { return b.ts }

// HEPStats counts what a HEP listener received and dropped. Safe to read
// from any goroutine.
type HEPStats struct {
	// Messages and Bytes count the messages delivered.
	Messages, Bytes atomic.Uint64
	// AuthFailures counts messages dropped for a missing or wrong auth key
	// (or not decodable as HEP while a key is required).
	AuthFailures atomic.Uint64
	// Denied counts messages dropped because the sender is not allowed.
	Denied atomic.Uint64
	// Truncated counts datagrams longer than MaxDatagram (cut, delivered).
	Truncated atomic.Uint64
	// KernelDrops is the UDP sockets' drop counter (SO_RXQ_OVFL): datagrams
	// the kernel dropped because the receive buffer was full.
	KernelDrops atomic.Uint64
	// Conns is the number of TCP/TLS connections accepted; Garbage counts
	// stream bytes that did not frame as HEP.
	Conns, Garbage atomic.Uint64
}

// hepGate applies the optional allowlist and auth key.
type hepGate struct {
	allow []netip.Prefix
	key   []byte
}

func newHEPGate(d *HEPConfig) *hepGate {
	return &hepGate{allow: d.Allow, key: d.AuthKey}
}

// allowed reports whether src may send.
func (g *hepGate) allowed(src netip.Addr) bool {
	if len(g.allow) == 0 {
		return true
	}
	src = src.Unmap()
	for _, p := range g.allow {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// authorized reports whether every HEP message in msg carries the required
// key (decode.HEPAuthorized: a walk over the chunk headers, not a decode).
// With no key configured it does not look at msg.
func (g *hepGate) authorized(msg []byte) bool {
	return len(g.key) == 0 || decode.HEPAuthorized(msg, g.key)
}
