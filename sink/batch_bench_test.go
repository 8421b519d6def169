package sink

import (
	"testing"

	"github.com/ClickHouse/ch-go/compress"

	"github.com/sipcap/appliance/decode"
)

// benchRows returns n rows of typical SIP (no 64 KiB outliers).
func benchRows(n int) ([]decode.Meta, []decode.SIP, int) {
	ms := make([]decode.Meta, n)
	ss := make([]decode.SIP, n)
	size := 0
	for i := range ms {
		j := i
		if j%97 == 1 {
			j++ // skip the 64 KiB rows
		}
		testRow(j, &ms[i], &ss[i])
		size += len(ss[i].Msg)
	}
	return ms, ss, size
}

// BenchmarkAppend measures the one copy of a message into a batch.
func BenchmarkAppend(b *testing.B) {
	ms, ss, size := benchRows(1024)
	batch := NewSIPBatch("node")
	b.SetBytes(int64(size / len(ms)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(ms) {
			i = 0
			batch.Reset()
		}
		batch.Append(&ms[i], &ss[i])
		i++
	}
}

// BenchmarkEncode measures Native encoding plus compression of a
// 50 000-row batch; ns/op divided by 50 000 is the client CPU per row.
func BenchmarkEncode(b *testing.B) {
	ms, ss, _ := benchRows(1024)
	batch := NewSIPBatch("node")
	for i := 0; i < 50_000; i++ {
		batch.Append(&ms[i%len(ms)], &ss[i%len(ss)])
	}
	for _, m := range []compress.Method{compress.None, compress.LZ4, compress.ZSTD} {
		b.Run(m.String(), func(b *testing.B) {
			enc := NewEncoder(fullLayout(b, Legacy), m)
			var dst []byte
			b.SetBytes(int64(batch.Bytes()))
			b.ReportAllocs()
			for b.Loop() {
				dst, _, _ = enc.AppendBody(dst[:0], []*SIPBatch{batch})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/50_000, "ns/row")
			b.ReportMetric(float64(len(dst))/50_000, "wire-B/row")
		})
	}
}
