package ring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvmmsg(2) for the HEP UDP listener: golang.org/x/sys/unix has no wrapper,
// and golang.org/x/net/ipv4.PacketConn.ReadBatch allocates a net.Addr per
// datagram. This file (style G9) holds the only unsafe use outside the ring
// mmap.
//
// Lifetime: mmsgs holds pointers to the Go buffers of one mmsgBuf (names,
// iovecs, control space, datagram slots). They are ordinary Go pointers, so
// the collector keeps the buffers alive; the kernel writes into them only
// during the recvmmsg call. The datagram bytes belong to the caller until
// the next recv on the same mmsgBuf.

// mmsgBuf is the reusable receive state of one UDP socket.
type mmsgBuf struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	ctrl  []byte // ctrlSpace bytes per message
	slots []byte // slot bytes per message
	slot  int
}

// ctrlSpace fits one SO_RXQ_OVFL control message (a uint32) with room to spare.
var ctrlSpace = unix.CmsgSpace(4) * 2

func newMmsgBuf(n, slot int) *mmsgBuf {
	m := &mmsgBuf{
		hdrs:  make([]unix.Mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n),
		ctrl:  make([]byte, n*ctrlSpace),
		slots: make([]byte, n*slot),
		slot:  slot,
	}
	for i := range m.hdrs {
		m.iovs[i].Base = &m.slots[i*slot]
		m.iovs[i].SetLen(slot)
		h := &m.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&m.names[i]))
		h.Iov = &m.iovs[i]
		h.Iovlen = 1
		h.Control = &m.ctrl[i*ctrlSpace]
	}
	return m
}

// recv reads up to len(hdrs) datagrams without blocking. It returns the
// number read; unix.EAGAIN when none is waiting.
func (m *mmsgBuf) recv(fd uintptr) (int, error) {
	for i := range m.hdrs {
		h := &m.hdrs[i]
		h.Hdr.Namelen = unix.SizeofSockaddrInet6
		h.Hdr.SetControllen(ctrlSpace)
		h.Hdr.Flags = 0
		h.Len = 0
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(len(m.hdrs)),
		unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// name returns the raw sockaddr bytes of message i.
func (m *mmsgBuf) name(i int) []byte {
	b := (*[unix.SizeofSockaddrInet6]byte)(unsafe.Pointer(&m.names[i]))
	return b[:min(int(m.hdrs[i].Hdr.Namelen), unix.SizeofSockaddrInet6)]
}
