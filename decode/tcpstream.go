package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// Defaults for TCPConfig.
const (
	DefaultTCPFlows       = 4096
	DefaultTCPFlowBytes   = 64 << 10
	DefaultTCPBytes       = 16 << 20
	DefaultTCPIdleTimeout = 2 * time.Minute
	DefaultTCPOutOfOrder  = 16 << 10
)

// TCPConfig bounds SIP-over-TCP reassembly. Zero fields mean defaults.
type TCPConfig struct {
	// MaxFlows is the number of TCP directions tracked at once; default 4096.
	// A segment of an untracked direction that holds only whole messages is
	// still decoded; one that would need a new flow when the table is full is
	// counted in TCPStats.FlowsRefused.
	MaxFlows int
	// MaxFlowBytes caps one direction's buffered partial message; default
	// 64 KiB. A longer message is dropped (TCPStats.TooLarge) and the stream
	// resynchronises at the next SIP start line.
	MaxFlowBytes int
	// MaxBytes caps the partial-message bytes held across all flows; default
	// 16 MiB.
	MaxBytes int
	// MaxOutOfOrder caps the bytes held ahead of a hole in one direction;
	// default 16 KiB.
	MaxOutOfOrder int
	// IdleTimeout forgets a direction with no segment for this long (capture
	// time); default 2 min.
	IdleTimeout time.Duration
}

// Validate checks c.
func (c *TCPConfig) Validate() error {
	switch {
	case c.MaxFlows < 0 || c.MaxFlows > 1<<22:
		return fmt.Errorf("tcp flows %d must be between 0 and %d", c.MaxFlows, 1<<22)
	case c.MaxFlowBytes < 0 || (c.MaxFlowBytes != 0 && c.MaxFlowBytes < 1024):
		return fmt.Errorf("tcp flow bytes %d must be 0 or at least 1024", c.MaxFlowBytes)
	case c.MaxBytes < 0:
		return fmt.Errorf("tcp bytes %d must not be negative", c.MaxBytes)
	case c.MaxOutOfOrder < 0:
		return fmt.Errorf("tcp out-of-order bytes %d must not be negative", c.MaxOutOfOrder)
	case c.IdleTimeout < 0:
		return fmt.Errorf("tcp idle timeout %s must not be negative", c.IdleTimeout)
	}
	return nil
}

// TCPStats counts SIP-over-TCP reassembly.
type TCPStats struct {
	Segments     uint64 // segments with payload
	Messages     uint64 // SIP messages framed out of streams
	Buffered     uint64 // segments whose data was copied into a flow buffer
	Retransmits  uint64 // segments (or parts) already seen, dropped
	OutOfOrder   uint64 // segments held ahead of a hole
	Gaps         uint64 // holes never filled: buffered data dropped
	Resyncs      uint64 // times the stream skipped to the next SIP start line
	SkippedBytes uint64 // bytes skipped while resynchronising
	TooLarge     uint64 // partial messages dropped at MaxFlowBytes or MaxBytes
	BadLength    uint64 // messages with an unusable Content-Length (skipped)
	NonSIP       uint64 // segments on SIP ports with no SIP start line
	WebSocket    uint64 // SIP-over-WebSocket streams recognised
	WSMessages   uint64 // SIP messages taken out of WebSocket frames
	WSErrors     uint64 // malformed WebSocket frames (the stream waits for the next frame start)
	FlowsOpened  uint64
	FlowsClosed  uint64 // FIN or RST
	FlowsExpired uint64 // idle timeout
	FlowsRefused uint64 // table full
	Flows        int    // tracked now
	HeldBytes    int    // partial-message bytes held now
}

// flowKey is one direction of a TCP connection (IPv4 in the first 4 bytes).
type flowKey struct {
	src, dst     [16]byte
	sport, dport uint16
	family       uint8
}

func (k *flowKey) hash() uint64 {
	h := binary.LittleEndian.Uint64(k.src[0:8])*0x9e3779b97f4a7c15 ^
		binary.LittleEndian.Uint64(k.src[8:16])*0xc2b2ae3d27d4eb4f ^
		binary.LittleEndian.Uint64(k.dst[0:8])*0x165667b19e3779f9 ^
		binary.LittleEndian.Uint64(k.dst[8:16])*0x27d4eb2f165667c5 ^
		(uint64(k.sport)<<16|uint64(k.dport)|uint64(k.family)<<32)*0x94d049bb133111eb
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

type tcpFlow struct {
	key     flowKey
	slot    int32
	used    bool
	nextSeq uint32
	base    uint32 // lowest sequence number seen
	last    int64
	buf     []byte // in-order bytes not yet framed; kept for reuse
	ooo     []byte // bytes held ahead of a hole, starting at oooSeq
	oooSeq  uint32
	// ws marks a SIP-over-WebSocket stream: buf holds raw frames and msg the
	// unmasked message being assembled from them.
	ws     bool
	wsLost bool // after a gap: wait for a segment that starts with a frame
	msg    []byte
	// Where the flow was last seen, to hand on messages that Expire or
	// Flush release from behind a hole.
	encap       Encap
	vlan, ivlan uint16
	// oooSince is when the first out-of-order bytes were held.
	oooSince int64
}

// sipSink receives the messages a stream frames: emitSIP a message framed
// already (WebSocket), streamSIP the bytes of a SIP stream from a message
// boundary on, to be framed and decoded in one pass (SIP.DecodeStream); it
// returns the length of the message it handed on, or why there was none.
type sipSink interface {
	emitSIP(msg []byte)
	streamSIP(b []byte) (int, error)
}

// TCPStreams reassembles SIP over TCP, one stream per direction: a message
// split across segments, several messages in one segment, retransmitted and
// out-of-order segments. Framing is by Content-Length, in the same pass
// as the decode (SIP.DecodeStream). A hole that is never filled is counted as a gap and the
// stream resynchronises at the next SIP start line. The flow table is
// preallocated (open addressing, no growth); buffers grow to their caps once
// and are reused. Not safe for concurrent use.
type TCPStreams struct {
	flows    []tcpFlow
	free     []int32
	index    []int32 // open addressing: slot+1, 0 = empty
	mask     uint64
	flowCap  int
	maxBytes int
	oooCap   int
	idle     int64
	held     int
	ws       WebSocket
	stats    TCPStats
}

func (t *TCPStreams) init(c *TCPConfig) {
	n := c.MaxFlows
	if n == 0 {
		n = DefaultTCPFlows
	}
	t.flows = make([]tcpFlow, n)
	for i := range t.flows {
		t.flows[i].slot = int32(i)
	}
	t.free = make([]int32, n)
	for i := range t.free {
		t.free[i] = int32(n - 1 - i)
	}
	sz := 1
	for sz < 2*n {
		sz <<= 1
	}
	t.index = make([]int32, sz)
	t.mask = uint64(sz - 1)
	t.flowCap = c.MaxFlowBytes
	if t.flowCap == 0 {
		t.flowCap = DefaultTCPFlowBytes
	}
	t.maxBytes = c.MaxBytes
	if t.maxBytes == 0 {
		t.maxBytes = DefaultTCPBytes
	}
	t.oooCap = c.MaxOutOfOrder
	if t.oooCap == 0 {
		t.oooCap = DefaultTCPOutOfOrder
	}
	t.idle = durationMicros(c.IdleTimeout, DefaultTCPIdleTimeout)
}

func (t *TCPStreams) lookup(k *flowKey) *tcpFlow {
	for i := k.hash() & t.mask; ; i = (i + 1) & t.mask {
		v := t.index[i]
		if v == 0 {
			return nil
		}
		if f := &t.flows[v-1]; f.key == *k {
			return f
		}
	}
}

func (t *TCPStreams) open(k *flowKey, now int64) *tcpFlow {
	if len(t.free) == 0 {
		t.stats.FlowsRefused++
		return nil
	}
	slot := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	i := k.hash() & t.mask
	for t.index[i] != 0 {
		i = (i + 1) & t.mask
	}
	t.index[i] = slot + 1
	f := &t.flows[slot]
	f.key, f.used, f.last = *k, true, now
	f.buf, f.ooo, f.msg = f.buf[:0], f.ooo[:0], f.msg[:0]
	f.ws, f.wsLost = false, false
	t.stats.FlowsOpened++
	t.stats.Flows++
	return f
}

// close forgets f, keeping its buffers for the next flow in its slot.
func (t *TCPStreams) close(f *tcpFlow) {
	t.held -= len(f.buf) + len(f.ooo) + len(f.msg)
	t.stats.HeldBytes = t.held
	f.buf, f.ooo, f.msg, f.used = f.buf[:0], f.ooo[:0], f.msg[:0], false
	slot := f.slot
	// Find the index entry, then delete it with backward shifting so that
	// probe sequences stay unbroken without tombstones.
	i := f.key.hash() & t.mask
	for t.index[i] != slot+1 {
		i = (i + 1) & t.mask
	}
	for j := (i + 1) & t.mask; t.index[j] != 0; j = (j + 1) & t.mask {
		home := t.flows[t.index[j]-1].key.hash() & t.mask
		// Move j into the hole at i when its home is not in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.index[i] = t.index[j]
			i = j
		}
	}
	t.index[i] = 0
	t.free = append(t.free, slot)
	t.stats.Flows--
}

// expire skips holes that have waited too long (handing on the messages
// held behind them) and forgets directions idle for longer than the idle
// timeout. Messages go to out with a Meta rebuilt from the flow.
func (t *TCPStreams) expire(now int64, out flowSink) {
	if t.stats.Flows == 0 {
		return
	}
	for i := range t.flows {
		f := &t.flows[i]
		if !f.used {
			continue
		}
		if len(f.ooo) > 0 && now-f.oooSince > tcpHoleWait {
			t.skipHole(f, false, out.flowSink(f))
		}
		if now-f.last > t.idle {
			t.close(f)
			t.stats.FlowsExpired++
		}
	}
	t.stats.HeldBytes = t.held
}

// flush hands on whatever is held behind holes in every direction, as at
// the end of a capture file. Partial messages stay buffered.
func (t *TCPStreams) flush(out flowSink) {
	for i := range t.flows {
		if f := &t.flows[i]; f.used && len(f.ooo) > 0 {
			t.skipHole(f, false, out.flowSink(f))
		}
	}
	t.stats.HeldBytes = t.held
}

// flowSink prepares the receiver for messages of flow f outside Decode.
type flowSink interface {
	flowSink(f *tcpFlow) sipSink
}

// segment handles one TCP segment of direction k.
func (t *TCPStreams) segment(k *flowKey, seg *TCP, meta *Meta, sipPort bool, out sipSink) {
	now := meta.TS
	data := seg.Payload
	f := t.lookup(k)
	if len(data) == 0 {
		if f != nil && (seg.FIN() || seg.RST()) {
			t.close(f)
			t.stats.FlowsClosed++
		}
		return
	}
	t.stats.Segments++
	seq := seg.Seq
	if seg.SYN() { // data on a SYN (TFO) starts after the SYN's sequence number
		seq++
	}
	if f == nil {
		t.untracked(k, data, seq, meta, sipPort, out)
		return
	}
	f.last = now
	f.encap, f.vlan, f.ivlan = meta.Encap, meta.VLAN, meta.InnerVLAN
	if len(f.ooo) > 0 && now-f.oooSince > tcpHoleWait {
		t.skipHole(f, sipPort, out)
	}
	rel := int32(seq - f.nextSeq)
	if rel > 0 && !t.holdOutOfOrder(f, seq, data, now) {
		// A hole we cannot wait for: skip to what is held, then to here.
		if len(f.ooo) > 0 {
			t.skipHole(f, sipPort, out)
			rel = int32(seq - f.nextSeq)
		}
		if rel > 0 {
			t.stats.Gaps++
			t.dropPending(f)
			f.nextSeq = seq
			t.feed(f, data, true, sipPort, out)
			t.finish(f, seg)
			return
		}
	}
	switch {
	case rel > 0: // held out of order
		t.finish(f, seg)
		return
	case rel < 0 && int32(seq+uint32(len(data))-f.base) <= 0:
		// Before anything seen on this flow (the capture started mid-stream
		// and this segment was late): frame its whole messages.
		f.base = seq
		t.stats.OutOfOrder++
		if s := sipStart(data); s >= 0 {
			t.frame(data[s:], out)
		}
		t.finish(f, seg)
		return
	case rel < 0:
		t.stats.Retransmits++
		if int(-rel) >= len(data) {
			t.finish(f, seg)
			return
		}
		data = data[-rel:]
	}
	t.feed(f, data, false, sipPort, out)
	t.drainHeld(f, sipPort, out)
	t.finish(f, seg)
}

// tcpHoleWait is how long (capture time, µs) data is held behind a hole
// before the hole is declared a gap.
const tcpHoleWait = 1_000_000

// drainHeld feeds the out-of-order bytes once the hole before them is filled.
func (t *TCPStreams) drainHeld(f *tcpFlow, sipPort bool, out sipSink) {
	if len(f.ooo) == 0 {
		return
	}
	d := int32(f.oooSeq - f.nextSeq)
	if d > 0 {
		return
	}
	held := f.ooo
	t.held -= len(held)
	f.ooo = f.ooo[:0]
	if int(-d) >= len(held) { // overtaken by retransmissions
		return
	}
	// stream copies what it keeps into f.buf, so reading held (f.ooo's
	// backing array) while f.ooo is empty is safe: nothing appends to f.ooo.
	t.feed(f, held[-d:], false, sipPort, out)
}

// skipHole declares the hole before the held bytes a gap: the partial
// message before it is dropped and the stream resumes at the first SIP start
// line of the held bytes.
func (t *TCPStreams) skipHole(f *tcpFlow, sipPort bool, out sipSink) {
	t.stats.Gaps++
	t.held -= len(f.buf)
	f.buf = f.buf[:0]
	held := f.ooo
	t.held -= len(held)
	f.ooo = f.ooo[:0]
	f.nextSeq = f.oooSeq
	t.feed(f, held, true, sipPort, out)
}

func (t *TCPStreams) finish(f *tcpFlow, seg *TCP) {
	if seg.FIN() || seg.RST() {
		if len(f.buf) > 0 || len(f.ooo) > 0 {
			t.stats.Gaps++
		}
		t.close(f)
		t.stats.FlowsClosed++
	}
	t.stats.HeldBytes = t.held
}

func (t *TCPStreams) holdOutOfOrder(f *tcpFlow, seq uint32, data []byte, now int64) bool {
	if len(f.ooo) == 0 {
		if len(data) > t.oooCap || t.held+len(data) > t.maxBytes {
			return false
		}
		f.oooSeq, f.oooSince = seq, now
		f.ooo = append(f.ooo, data...)
		t.held += len(data)
		t.stats.OutOfOrder++
		return true
	}
	end := f.oooSeq + uint32(len(f.ooo))
	switch {
	case seq == end && len(f.ooo)+len(data) <= t.oooCap && t.held+len(data) <= t.maxBytes:
		f.ooo = append(f.ooo, data...)
		t.held += len(data)
		t.stats.OutOfOrder++
		return true
	case int32(seq-f.oooSeq) >= 0 && int32(seq+uint32(len(data))-end) <= 0:
		t.stats.Retransmits++ // already held
		return true
	}
	return false
}

func (t *TCPStreams) dropPending(f *tcpFlow) {
	t.held -= len(f.buf) + len(f.ooo) + len(f.msg)
	f.buf, f.ooo, f.msg = f.buf[:0], f.ooo[:0], f.msg[:0]
}

// untracked handles data of a direction with no flow. A flow is opened at
// the first SIP start line so that retransmissions and split messages are
// recognised later; when the table is full, whole messages are still framed
// straight from the segment.
func (t *TCPStreams) untracked(k *flowKey, data []byte, seq uint32, meta *Meta, sipPort bool, out sipSink) {
	now := meta.TS
	if ws, hdr := wsOpening(data); ws {
		// SIP over WebSocket (RFC 7118): an HTTP upgrade, or a frame whose
		// text starts with a SIP start line.
		f := t.open(k, now)
		if f == nil {
			return
		}
		f.ws, f.base, f.nextSeq = true, seq, seq+uint32(hdr)
		f.encap, f.vlan, f.ivlan = meta.Encap, meta.VLAN, meta.InnerVLAN
		t.stats.WebSocket++
		t.feed(f, data[hdr:], false, sipPort, out)
		t.stats.HeldBytes = t.held
		return
	}
	// On SIP ports a stream may be picked up mid-message: look for a start
	// line anywhere. Elsewhere only a segment that starts with one opens a
	// flow, so other TCP traffic costs one start-line check.
	start := -1
	if sipPort {
		start = sipStart(data)
		if start < 0 && mayStartSIP(data) && knownMethodPrefix(data) {
			start = 0 // a first segment that ends inside the start line
		}
	} else if startsSIP(data) && len(data) > 0 && data[0] != '\r' && data[0] != '\n' {
		start = 0
	} else if bytes.IndexByte(data, ' ') > 0 && mayStartSIP(data) && knownMethodPrefix(data) {
		start = 0 // a known method and more, cut before the end of the start line
	}
	if start < 0 {
		if sipPort {
			t.stats.NonSIP++
		}
		return
	}
	if start > 0 {
		t.stats.Resyncs++
		t.stats.SkippedBytes += uint64(start)
	}
	if f := t.open(k, now); f != nil {
		f.nextSeq, f.base = seq+uint32(start), seq
		f.encap, f.vlan, f.ivlan = meta.Encap, meta.VLAN, meta.InnerVLAN
		t.stream(f, data[start:], false, sipPort, out)
		t.stats.HeldBytes = t.held
		return
	}
	t.frame(data[start:], out)
}

// feed passes in-order data to the SIP or the WebSocket framer.
func (t *TCPStreams) feed(f *tcpFlow, data []byte, resync bool, sipPort bool, out sipSink) {
	if f.ws {
		t.wsStream(f, data, resync, out)
		return
	}
	t.stream(f, data, resync, sipPort, out)
}

// stream appends in-order data to f and frames every complete message.
// resync says the data follows a gap and may start mid-message.
func (t *TCPStreams) stream(f *tcpFlow, data []byte, resync bool, sipPort bool, out sipSink) {
	f.nextSeq += uint32(len(data))
	if resync || (len(f.buf) == 0 && !startsSIP(data) && !mayStartSIP(data)) {
		s := sipStart(data)
		if s < 0 {
			if sipPort || resync {
				t.stats.NonSIP++
			}
			if resync {
				t.stats.SkippedBytes += uint64(len(data))
			}
			return
		}
		if s > 0 || resync {
			t.stats.Resyncs++
			t.stats.SkippedBytes += uint64(s)
		}
		data = data[s:]
	}
	if len(f.buf) == 0 {
		// Zero-copy: frame straight from the segment, keep only the tail.
		n := t.frame(data, out)
		data = data[n:]
		if len(data) == 0 {
			return
		}
		t.keep(f, data)
		return
	}
	t.keep(f, data)
	if len(f.buf) == 0 {
		return
	}
	n := t.frame(f.buf, out)
	if n > 0 {
		rem := copy(f.buf, f.buf[n:])
		f.buf = f.buf[:rem]
		t.held -= n
	}
}

// keep appends data to f.buf within the caps; over a cap the partial
// message is dropped and the stream will resynchronise.
func (t *TCPStreams) keep(f *tcpFlow, data []byte) {
	if len(f.buf)+len(data) > t.flowCap || t.held+len(data) > t.maxBytes {
		t.stats.TooLarge++
		t.held -= len(f.buf)
		f.buf = f.buf[:0]
		// The rest of this message will arrive without a start line and be
		// skipped by the resync in stream.
		return
	}
	t.stats.Buffered++
	f.buf = append(f.buf, data...)
	t.held += len(data)
}

// frame emits every complete message at the start of b and returns the bytes
// consumed. It stops at an incomplete message. Keepalive CRLFs between
// messages are skipped; a message with an unusable Content-Length is skipped
// up to the next SIP start line.
func (t *TCPStreams) frame(b []byte, out sipSink) int {
	n := 0
	for n < len(b) {
		r := b[n:]
		if r[0] == '\r' || r[0] == '\n' {
			n++
			continue
		}
		l, err := out.streamSIP(r)
		switch err {
		case nil:
			t.stats.Messages++
			n += l
			continue
		case ErrSIPIncomplete:
			return n
		case ErrSIPContentLength:
			t.stats.BadLength++
		}
		// Not SIP here (or bad length): skip to the next start line.
		s := sipStart(r[1:])
		if s < 0 {
			t.stats.Resyncs++
			t.stats.SkippedBytes += uint64(len(r))
			return len(b)
		}
		t.stats.Resyncs++
		t.stats.SkippedBytes += uint64(s + 1)
		n += s + 1
	}
	return n
}

// startsSIP reports whether b starts with a SIP start line, or may (it is a
// short prefix that could become one); CRLF keepalives count as SIP.
func startsSIP(b []byte) bool {
	if len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
		return true
	}
	return LooksLikeSIP(b)
}

// mayStartSIP reports whether b, which holds no line end yet, can still
// become a SIP start line: a segment of an in-sync stream may end inside the
// start line of the next message ("INV", "SIP/2.0 2"). Such a prefix is kept;
// if the line turns out not to be SIP, frame skips it when it completes.
func mayStartSIP(b []byte) bool {
	if len(b) == 0 || len(b) >= maxStartLine || bytes.IndexByte(b, '\n') >= 0 {
		return false
	}
	const ver = "SIP/2.0"
	if n := min(len(b), len(ver)); string(b[:n]) == ver[:n] {
		return len(b) <= len(ver) || b[len(ver)] == ' '
	}
	i := 0
	for i < len(b) && tokenTable[b[i]] { // the method
		i++
	}
	if i == 0 {
		return false
	}
	if i < len(b) && b[i] != ' ' {
		return false
	}
	for _, c := range b[i:] { // the Request-URI and version, up to a final CR
		if c < ' ' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// sipMethods are the methods a new flow may start with when its first
// segment ends inside the start line; a mid-stream prefix needs less proof.
var sipMethods = [...]string{"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "UPDATE",
	"INFO", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH", "SIP/2.0"}

// knownMethodPrefix reports whether b starts with a known method (or
// SIP/2.0) followed by a space, or is a prefix of one.
func knownMethodPrefix(b []byte) bool {
	for _, m := range sipMethods {
		n := min(len(b), len(m))
		if string(b[:n]) == m[:n] && (len(b) <= len(m) || b[len(m)] == ' ') {
			return true
		}
	}
	return false
}

// maxResyncScan bounds how far sipStart looks for a start line.
const maxResyncScan = 64 << 10

// sipStart returns the offset of the first line of b that is a SIP start
// line, or -1.
func sipStart(b []byte) int {
	if startsSIP(b) {
		return 0
	}
	lim := len(b)
	if lim > maxResyncScan {
		lim = maxResyncScan
	}
	for i := 0; i < lim; i++ {
		if b[i] == '\n' && i+1 < len(b) && LooksLikeSIP(b[i+1:]) {
			return i + 1
		}
	}
	return -1
}

// wsOpening reports whether data opens a SIP-over-WebSocket stream: an HTTP
// request or 101 response carrying "Upgrade: websocket" (hdr is then the
// length of the HTTP header block), or a text/binary frame whose payload
// starts with a SIP start line (hdr 0).
func wsOpening(data []byte) (ws bool, hdr int) {
	if PeekWSText(data) {
		return true, 0
	}
	if !bytes.HasPrefix(data, []byte("GET ")) && !bytes.HasPrefix(data, []byte("HTTP/1.1 101")) {
		return false, 0
	}
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		return false, 0
	}
	h := data[:end]
	for i := 0; i+9 <= len(h); i++ {
		if (h[i]|0x20) == 'w' && equalFoldLower(h[i:i+9], "websocket") {
			return true, end + 4
		}
	}
	return false, 0
}

// wsStream takes WebSocket frames out of in-order data, unmasks text and
// binary payloads into f.msg and hands each complete message on as one SIP
// message (RFC 7118: one SIP message per WebSocket message).
func (t *TCPStreams) wsStream(f *tcpFlow, data []byte, resync bool, out sipSink) {
	f.nextSeq += uint32(len(data))
	if resync {
		t.held -= len(f.buf) + len(f.msg)
		f.buf, f.msg = f.buf[:0], f.msg[:0]
		f.wsLost = true
	}
	if f.wsLost {
		if !PeekWSText(data) {
			t.stats.SkippedBytes += uint64(len(data))
			return
		}
		f.wsLost = false
		t.stats.Resyncs++
	}
	work, fromBuf := data, false
	if len(f.buf) > 0 {
		t.keep(f, data)
		work, fromBuf = f.buf, true
		if len(f.buf) == 0 { // dropped at a cap
			f.wsLost = true
			return
		}
	}
	n := 0
	for n < len(work) {
		err := t.ws.DecodeFrom(work[n:])
		if err == ErrWSTruncated {
			break
		}
		if err != nil {
			t.stats.WSErrors++
			t.held -= len(f.msg)
			f.msg = f.msg[:0]
			f.wsLost = true
			n = len(work)
			break
		}
		n += t.ws.Len
		switch t.ws.Opcode {
		case WSText, WSBinary, WSContinuation:
			if len(f.msg)+len(t.ws.Payload) > t.flowCap || t.held+len(t.ws.Payload) > t.maxBytes {
				t.stats.TooLarge++
				t.held -= len(f.msg)
				f.msg = f.msg[:0]
				continue
			}
			f.msg = t.ws.AppendPayload(f.msg)
			t.held += len(t.ws.Payload)
			if t.ws.Fin {
				m := f.msg
				t.held -= len(m)
				f.msg = f.msg[:0]
				if LooksLikeSIP(m) {
					t.stats.Messages++
					t.stats.WSMessages++
					out.emitSIP(m)
				} else {
					t.stats.NonSIP++
				}
			}
		}
	}
	if fromBuf {
		rem := copy(f.buf, f.buf[n:])
		t.held -= n
		f.buf = f.buf[:rem]
		return
	}
	if n < len(work) {
		t.keep(f, work[n:])
	}
}
