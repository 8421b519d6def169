package sink

import "sync/atomic"

// spsc is a bounded lock-free queue of batches with exactly one producer
// goroutine and one consumer goroutine. Each side writes only its own index;
// the atomic store of the index publishes the slot (Go atomics are
// sequentially consistent).
type spsc struct {
	buf  []*SIPBatch
	mask uint64
	_    [48]byte // keep head and tail on separate cache lines
	head atomic.Uint64
	_    [56]byte
	tail atomic.Uint64
	_    [56]byte
}

func newSPSC(n int) *spsc {
	size := 1
	for size < n {
		size <<= 1
	}
	return &spsc{buf: make([]*SIPBatch, size), mask: uint64(size - 1)}
}

// push adds b; it reports false when the queue is full. Producer only.
func (q *spsc) push(b *SIPBatch) bool {
	t := q.tail.Load()
	if t-q.head.Load() == uint64(len(q.buf)) {
		return false
	}
	q.buf[t&q.mask] = b
	q.tail.Store(t + 1)
	return true
}

// pop removes the oldest batch, or returns nil when empty. Consumer only.
func (q *spsc) pop() *SIPBatch {
	h := q.head.Load()
	if h == q.tail.Load() {
		return nil
	}
	b := q.buf[h&q.mask]
	q.buf[h&q.mask] = nil
	q.head.Store(h + 1)
	return b
}

// len is the number of queued batches (approximate while both sides run).
func (q *spsc) len() int { return int(q.tail.Load() - q.head.Load()) }
