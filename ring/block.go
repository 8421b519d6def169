package ring

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// LinkTypeEthernet is the pcap link type of frames from an AF_PACKET ring.
const LinkTypeEthernet = 1

// Block is one leased batch of frames: a TPACKET_V3 ring block, or a batch
// read from a file. Iterate with Next and read the current frame with the
// accessors:
//
//	for b.Next() {
//		frame, ts := b.Data(), b.TS()
//		...
//	}
//
// A Block and every slice it returns are valid only until the block is
// released (Ring.Release, or the return of the Next callback). Nothing may
// keep them longer: copy what must outlive the lease. A Block belongs to the
// goroutine that leased it. Iterating takes no lock, allocation or syscall.
type Block struct {
	r   *Ring
	mem []byte
	hdr *unix.TpacketHdrV1
	n   int // frames in the block
	i   int // frames returned so far

	// ring mode
	first   uint32
	off     uint32
	fh      *unix.Tpacket3Hdr
	data    []byte
	corrupt bool

	// file mode
	file     bool
	frames   []fileFrame
	linkType uint16
}

type fileFrame struct {
	start, end uint32
	wire       uint32
	ts         int64
}

func (b *Block) reset(mem []byte, h *unix.TpacketHdrV1) {
	b.mem, b.hdr = mem, h
	b.n = int(h.Num_pkts)
	b.first = h.Offset_to_first_pkt
	b.i, b.off, b.fh, b.data, b.corrupt = 0, 0, nil, nil, false
	b.linkType = LinkTypeEthernet
}

func (b *Block) clear() {
	b.mem, b.hdr, b.fh, b.data = nil, nil, nil, nil
	b.n, b.i = 0, 0
}

// Len is the number of frames in the block.
func (b *Block) Len() int { return b.n }

// Seq is the kernel's block sequence number (0 for file blocks).
func (b *Block) Seq() uint64 {
	if b.hdr == nil {
		return 0
	}
	return b.hdr.Seq_num
}

// Corrupt reports whether iteration stopped early at a frame header lying
// outside the block (never expected from a sane kernel).
func (b *Block) Corrupt() bool { return b.corrupt }

// Rewind restarts iteration at the first frame.
func (b *Block) Rewind() { b.i, b.off, b.fh, b.data = 0, 0, nil, nil }

// Next advances to the next frame and reports whether there is one.
func (b *Block) Next() bool {
	if b.i >= b.n {
		return false
	}
	if b.file {
		f := &b.frames[b.i]
		b.data = b.mem[f.start:f.end:f.end]
		b.i++
		return true
	}
	off := b.first
	if b.i > 0 {
		if b.fh.Next_offset == 0 {
			return b.stop()
		}
		off = b.off + b.fh.Next_offset
	}
	fh := frameHdr(b.mem, off)
	if fh == nil {
		return b.stop()
	}
	start := uint64(off) + uint64(fh.Mac)
	end := start + uint64(fh.Snaplen)
	if end > uint64(len(b.mem)) {
		return b.stop()
	}
	b.off, b.fh = off, fh
	b.data = b.mem[start:end:end]
	b.i++
	return true
}

func (b *Block) stop() bool {
	b.corrupt = true
	b.n = b.i
	return false
}

// Data is the current frame from its link-layer header, as captured (see
// WireLen). Valid until the block is released.
func (b *Block) Data() []byte { return b.data }

// WireLen is the current frame's length on the wire; longer than Data when
// the frame was truncated.
func (b *Block) WireLen() int {
	if b.file {
		return int(b.frames[b.i-1].wire)
	}
	return int(b.fh.Len)
}

// TS is the current frame's capture time in microseconds since the Unix epoch.
func (b *Block) TS() int64 {
	if b.file {
		return b.frames[b.i-1].ts
	}
	return int64(b.fh.Sec)*1e6 + int64(b.fh.Nsec)/1e3
}

// VLAN returns the VLAN TCI the kernel (or NIC) removed from the frame, and
// whether there was one (TP_STATUS_VLAN_VALID). A tag still in Data is not
// reported here.
func (b *Block) VLAN() (tci uint16, ok bool) {
	if b.file || b.fh.Status&unix.TP_STATUS_VLAN_VALID == 0 {
		return 0, false
	}
	return uint16(b.fh.Hv1.Vlan_tci), true
}

// VLANTPID is the EtherType of the removed tag (0x8100 or 0x88a8) when the
// kernel reports it (TP_STATUS_VLAN_TPID_VALID), else 0.
func (b *Block) VLANTPID() uint16 {
	if b.file || b.fh.Status&unix.TP_STATUS_VLAN_TPID_VALID == 0 {
		return 0
	}
	return b.fh.Hv1.Vlan_tpid
}

// RxHash is the kernel's flow hash of the current frame (0 for files).
func (b *Block) RxHash() uint32 {
	if b.file {
		return 0
	}
	return b.fh.Hv1.Rxhash
}

// sockaddr_ll follows the frame header at TPACKET_ALIGN(sizeof(tpacket3_hdr)).
func (b *Block) sll() []byte {
	o := b.off + unix.SizeofTpacket3Hdr
	return b.mem[o : o+sizeofSockaddrLL]
}

// Ifindex is the interface the current frame was captured on (0 for files).
func (b *Block) Ifindex() int {
	if b.file {
		return 0
	}
	return int(int32(binary.NativeEndian.Uint32(b.sll()[4:8])))
}

// PktType is sll_pkttype of the current frame: unix.PACKET_HOST,
// PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST or PACKET_OUTGOING
// (0 for files).
func (b *Block) PktType() uint8 {
	if b.file {
		return 0
	}
	return b.sll()[10]
}

// LinkType is the pcap link type of the frames (LinkTypeEthernet for rings).
func (b *Block) LinkType() uint16 { return b.linkType }
