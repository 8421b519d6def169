package gen

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendmmsg(2) for the senders: golang.org/x/sys/unix has no wrapper. This
// file holds the package's only unsafe use.
//
// Lifetime: the headers point (through ordinary Go pointers, which keep them
// alive) at the iovecs, and the iovecs at the caller's packet bytes; the
// kernel reads them only during the call. The packets must not change while
// send runs.

// mmsg is a reusable batch of outgoing datagrams for a connected or bound
// socket (no per-message address).
type mmsg struct {
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	n    int
}

func newMmsg(n int) *mmsg {
	m := &mmsg{hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n)}
	for i := range m.hdrs {
		m.hdrs[i].Hdr.Iov = &m.iovs[i]
		m.hdrs[i].Hdr.Iovlen = 1
	}
	return m
}

// add queues b (not empty); the caller keeps len(queued) <= cap.
func (m *mmsg) add(b []byte) {
	m.iovs[m.n].Base = &b[0]
	m.iovs[m.n].SetLen(len(b))
	m.n++
}

// send sends the queued datagrams from the first one on and returns how
// many the kernel took. It blocks as the socket does.
func (m *mmsg) send(fd int) (int, error) {
	if m.n == 0 {
		return 0, nil
	}
	r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(m.n), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// drop removes the first k queued datagrams.
func (m *mmsg) drop(k int) {
	copy(m.iovs, m.iovs[k:m.n])
	m.n -= k
}
