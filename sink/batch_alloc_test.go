//go:build !race

package sink

import (
	"testing"

	"github.com/ClickHouse/ch-go/compress"

	"github.com/sipcap/appliance/decode"
)

// TestAppendAllocs checks that a batch reused at its working size takes
// rows without allocating, and that encoding into reused buffers does not
// allocate per row either.
func TestAppendAllocs(t *testing.T) {
	var ms [64]decode.Meta
	var ss [64]decode.SIP
	for i := range ms {
		testRow(i, &ms[i], &ss[i])
	}
	b := NewSIPBatch("node")
	b.NodeFromHEP = true
	fill := func() {
		b.Reset()
		for i := range ms {
			b.Append(&ms[i], &ss[i])
		}
	}
	fill() // grow once
	if n := testing.AllocsPerRun(100, fill); n != 0 {
		t.Fatalf("Append: %v allocations per 64 rows, want 0", n)
	}

	enc := NewEncoder(fullLayout(t, Legacy), compress.LZ4)
	var dst []byte
	encode := func() {
		var err error
		dst, _, err = enc.AppendBody(dst[:0], []*SIPBatch{b})
		if err != nil {
			t.Fatal(err)
		}
	}
	encode()
	if n := testing.AllocsPerRun(20, encode); n != 0 {
		t.Fatalf("AppendBody: %v allocations, want 0", n)
	}
}
