//go:build !race

package ring

import "testing"

func TestBlockWalkAllocs(t *testing.T) {
	mem := fakeBlock([][]byte{[]byte("aaaa"), []byte("bbbbbbbb"), []byte("c")}, []uint16{1, 0, 2})
	var b Block
	b.reset(mem, blockHdr(mem))
	var sink int64
	n := testing.AllocsPerRun(100, func() {
		b.Rewind()
		for b.Next() {
			tci, _ := b.VLAN()
			sink += int64(len(b.Data())) + b.TS() + int64(tci) + int64(b.Ifindex())
		}
	})
	if n != 0 {
		t.Fatalf("block walk allocates %v times per run", n)
	}
	_ = sink
}
