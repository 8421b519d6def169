package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeBlock lays out a TPACKET_V3 block the way the kernel does
// (struct tpacket_block_desc, then struct tpacket3_hdr + struct sockaddr_ll +
// frame, each 16-aligned and linked by tp_next_offset), for testing the walk
// without a kernel.
func fakeBlock(frames [][]byte, vlan []uint16) []byte {
	mem := make([]byte, 1<<14)
	ne := binary.NativeEndian
	const first = 64
	ne.PutUint32(mem[0:], 3) // version
	ne.PutUint32(mem[8:], unix.TP_STATUS_USER)
	ne.PutUint32(mem[12:], uint32(len(frames)))
	ne.PutUint32(mem[16:], first)
	ne.PutUint64(mem[24:], 42) // seq_num
	off := first
	for i, f := range frames {
		h := mem[off:]
		const mac = 80
		next := (mac + len(f) + 15) &^ 15
		if i == len(frames)-1 {
			next = 0
		}
		ne.PutUint32(h[0:], uint32(next))
		ne.PutUint32(h[4:], 1700000000+uint32(i)) // sec
		ne.PutUint32(h[8:], 123456789)            // nsec
		ne.PutUint32(h[12:], uint32(len(f)))      // snaplen
		ne.PutUint32(h[16:], uint32(len(f)+i))    // len
		status := uint32(unix.TP_STATUS_USER)
		if vlan != nil && vlan[i] != 0 {
			status |= unix.TP_STATUS_VLAN_VALID
			ne.PutUint32(h[32:], uint32(vlan[i])) // hv1.tp_vlan_tci
		}
		ne.PutUint32(h[20:], status)
		ne.PutUint16(h[24:], mac)
		ne.PutUint32(h[48+4:], uint32(7+i)) // sll_ifindex
		h[48+10] = unix.PACKET_HOST
		copy(h[mac:], f)
		off += next
	}
	return mem
}

func TestBlockWalk(t *testing.T) {
	frames := [][]byte{[]byte("first frame"), bytes.Repeat([]byte{0xab}, 999), []byte("x")}
	vlan := []uint16{0, 100, 4095}
	mem := fakeBlock(frames, vlan)
	var b Block
	b.reset(mem, blockHdr(mem))
	for pass := 0; pass < 2; pass++ { // Rewind and walk again
		if b.Len() != 3 || b.Seq() != 42 || b.LinkType() != LinkTypeEthernet {
			t.Fatalf("len %d seq %d link %d", b.Len(), b.Seq(), b.LinkType())
		}
		i := 0
		for b.Next() {
			if !bytes.Equal(b.Data(), frames[i]) {
				t.Errorf("frame %d: data %q", i, b.Data())
			}
			if b.WireLen() != len(frames[i])+i {
				t.Errorf("frame %d: wire len %d", i, b.WireLen())
			}
			if want := int64(1700000000+i)*1e6 + 123456; b.TS() != want {
				t.Errorf("frame %d: ts %d, want %d", i, b.TS(), want)
			}
			tci, ok := b.VLAN()
			if ok != (vlan[i] != 0) || tci != vlan[i] {
				t.Errorf("frame %d: vlan %d %v", i, tci, ok)
			}
			if b.Ifindex() != 7+i || b.PktType() != unix.PACKET_HOST {
				t.Errorf("frame %d: ifindex %d pkttype %d", i, b.Ifindex(), b.PktType())
			}
			if cap(b.Data()) != len(b.Data()) {
				t.Errorf("frame %d: data capacity reaches past the frame", i)
			}
			i++
		}
		if i != 3 || b.Corrupt() {
			t.Fatalf("walked %d frames, corrupt=%v", i, b.Corrupt())
		}
		b.Rewind()
	}
}

func TestBlockWalkCorrupt(t *testing.T) {
	f := func(name string, mutate func(mem []byte), want int) {
		t.Helper()
		mem := fakeBlock([][]byte{[]byte("aaaa"), []byte("bbbb")}, nil)
		mutate(mem)
		var b Block
		b.reset(mem, blockHdr(mem))
		n := 0
		for b.Next() {
			n++
		}
		if n != want || !b.Corrupt() {
			t.Errorf("%s: walked %d frames (want %d), corrupt=%v", name, n, want, b.Corrupt())
		}
	}
	ne := binary.NativeEndian
	f("next offset past block", func(m []byte) { ne.PutUint32(m[64:], 1<<20) }, 1)
	f("snaplen past block", func(m []byte) { ne.PutUint32(m[64+12:], 1<<20) }, 0)
	f("first offset past block", func(m []byte) { ne.PutUint32(m[16:], 1<<14-10) }, 0)
	f("zero next offset early", func(m []byte) { ne.PutUint32(m[64:], 0) }, 1)
}

func TestConfigValidate(t *testing.T) {
	f := func(c *Config, wantErr string) {
		t.Helper()
		err := c.Validate()
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%+v: %v", c, err)
		case wantErr != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(wantErr))):
			t.Errorf("%+v: error %v, want one containing %q", c, err, wantErr)
		}
	}
	f(nil, "")
	f(&Config{}, "")
	f(&Config{IPIP: true, Mirror: true}, "raw_ipip_capture_on and raw_moni_capture_on")
	f(&Config{BlockSize: 5000}, "page size")
	f(&Config{FrameSize: 1000}, "divisible by 16")
	f(&Config{BlockSize: 4096, FrameSize: 8192}, "divisible by frame size")
	f(&Config{RetireTimeout: -1}, "retire timeout")
	f(&Config{Workers: -1}, "negative")
	f(&Config{Fanout: 9}, "fanout mode")
	f(&Config{Listen: "nonsense"}, "parse listen")
	f(&Config{Listen: "nonsense", KernelFilterOff: true}, "")
	if err := (&Config{IPIP: true, Mirror: true}).Validate(); !errors.Is(err, ErrModeConflict) {
		t.Errorf("mode conflict is not ErrModeConflict: %v", err)
	}
	if m := (*Config)(nil).Memory(); m != DefaultBlockSize*DefaultBlockCount {
		t.Errorf("default memory %d", m)
	}
}

func TestFanoutMode(t *testing.T) {
	for m := FanoutHash; m <= FanoutRollover; m++ {
		got, err := ParseFanoutMode(m.String())
		if err != nil || got != m {
			t.Errorf("round trip %v: %v %v", m, got, err)
		}
	}
	if _, err := ParseFanoutMode("bogus"); err == nil {
		t.Errorf("bogus mode accepted")
	}
}
