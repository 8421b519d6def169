package sink

import (
	"strconv"
	"testing"

	"github.com/ClickHouse/ch-go/compress"

	"github.com/sipcap/appliance/decode"
)

// benchRows returns n distinct rows of typical SIP (unique Call-IDs, no
// 64 KiB outliers) and their total message bytes.
func benchRows(n int) ([]decode.Meta, []decode.SIP, int) {
	ms := make([]decode.Meta, n)
	ss := make([]decode.SIP, n)
	size := 0
	for i := range ms {
		j := i
		if j%97 == 1 {
			j += 2 // skip the 64 KiB rows
		}
		testRow(j, &ms[i], &ss[i])
		ss[i].CallID = []byte(strconv.Itoa(i*7919+13) + "-" + strconv.Itoa(i) + "@10.0.0.1")
		size += len(ss[i].Msg)
	}
	return ms, ss, size
}

// BenchmarkAppend measures the one copy of a message into a batch.
func BenchmarkAppend(b *testing.B) {
	ms, ss, size := benchRows(4096)
	batch := NewSIPBatch("node")
	for i := range ms {
		batch.Append(&ms[i], &ss[i])
	}
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

// BenchmarkEncode measures Native encoding plus compression of one
// 50 000-row batch of distinct rows: ns/row is the client CPU per row.
func BenchmarkEncode(b *testing.B) {
	const rows = 50_000
	ms, ss, _ := benchRows(rows)
	batch := NewSIPBatch("node")
	for i := range ms {
		batch.Append(&ms[i], &ss[i])
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
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
			b.ReportMetric(float64(len(dst))/rows, "wire-B/row")
		})
	}
}
