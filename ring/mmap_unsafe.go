package ring

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file holds every use of package unsafe in ring/ (style G9): casting
// TPACKET_V3 block and frame headers inside the mmap'ed ring.
//
// Lifetime: the ring memory is mapped once in Open and unmapped only in
// Ring.Close, which the owning goroutine calls after its last Next/Lease. A
// header pointer returned here is valid while the ring is mapped; the bytes it
// describes belong to user space only while the block's status has
// TP_STATUS_USER set, i.e. between Lease and Release. Nothing derived from
// these pointers may be kept past Release (style G5).

// blockHdr returns the block descriptor (struct tpacket_block_desc, whose
// first member of the union is struct tpacket_hdr_v1) at the start of block
// mem. len(mem) must be at least the size of the descriptor.
func blockHdr(mem []byte) *unix.TpacketHdrV1 {
	_ = mem[blockHdrOff+unsafe.Sizeof(unix.TpacketHdrV1{})-1]
	return (*unix.TpacketHdrV1)(unsafe.Pointer(&mem[blockHdrOff]))
}

// blockHdrOff skips the version and offset_to_priv members of
// struct tpacket_block_desc (linux/if_packet.h) that precede the
// struct tpacket_hdr_v1 in its union.
const blockHdrOff = 8

// loadBlockStatus reads block_status with acquire ordering: the kernel
// publishes a block with smp_wmb before it sets TP_STATUS_USER.
func loadBlockStatus(h *unix.TpacketHdrV1) uint32 { return atomic.LoadUint32(&h.Block_status) }

// storeBlockStatus hands the block back to the kernel (TP_STATUS_KERNEL)
// after every read of its frames.
func storeBlockStatus(h *unix.TpacketHdrV1, v uint32) { atomic.StoreUint32(&h.Block_status, v) }

// frameHdr returns the struct tpacket3_hdr at offset off of block, or nil when
// the header would not fit inside the block (a corrupt offset).
func frameHdr(block []byte, off uint32) *unix.Tpacket3Hdr {
	if uint64(off)+uint64(unix.SizeofTpacket3Hdr)+sizeofSockaddrLL > uint64(len(block)) {
		return nil
	}
	return (*unix.Tpacket3Hdr)(unsafe.Pointer(&block[off]))
}

// sizeofSockaddrLL is sizeof(struct sockaddr_ll); the kernel places it at
// TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) after each frame header.
const sizeofSockaddrLL = 20

// mmapRing maps the RX ring of fd. MAP_LOCKED is deliberately not used: it
// fails under a small RLIMIT_MEMLOCK and ring pages are kernel memory anyway.
func mmapRing(fd, size int) ([]byte, error) {
	return unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
}
