package sink

import (
	"net/netip"
	"testing"

	"github.com/ClickHouse/ch-go/compress"

	"github.com/sipcap/appliance/decode"
)

// FuzzEncode fills batches from arbitrary bytes and checks that the encoded
// body decodes (through ch-go's proto decoder) to exactly the values
// appended, in both dialects, and that a reused batch gives the same body.
func FuzzEncode(f *testing.F) {
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n"), uint8(3), int64(1_764_000_000_000_000), uint16(5060), true)
	f.Add([]byte{0xff, 0x00, 0xfe, '\t', '\n'}, uint8(1), int64(-5), uint16(0), false)
	f.Add([]byte{}, uint8(0), int64(0), uint16(65535), true)
	f.Fuzz(func(t *testing.T, data []byte, rows uint8, ts int64, port uint16, v6 bool) {
		n := int(rows % 40)
		mk := func(i int, m *decode.Meta, s *decode.SIP) {
			*m = decode.Meta{TS: ts + int64(i), Family: 2, Proto: 17, SrcPort: port, DstPort: port ^ uint16(i)}
			*s = decode.SIP{}
			m.Src = netip.AddrFrom4([4]byte{1, 2, 3, byte(i)})
			if v6 {
				var a [16]byte
				copy(a[:], data)
				a[15] = byte(i)
				m.Src = netip.AddrFrom16(a)
			}
			cut := func(k int) []byte {
				if len(data) == 0 {
					return nil
				}
				a := (i*7 + k*13) % len(data)
				b := a + (k*31+i)%(len(data)-a+1)
				return data[a:b]
			}
			if i%2 == 0 {
				s.Method = cut(1)
				if s.Method == nil {
					s.Method = []byte{}
				}
			} else {
				s.Status = uint16(i * 100)
				s.StatusCode = cut(2)
			}
			s.CallID, s.FromTag, s.ToTag, s.UserAgent = cut(3), cut(4), cut(5), cut(6)
			s.RURIDomain, s.ContentType, s.CSeqMethod = cut(7), cut(8), cut(9)
			s.Msg = data
			m.Node, m.CorrelationID = cut(10), cut(11)
			s.ContactPort = uint16(len(data))
		}
		var m decode.Meta
		var s decode.SIP
		b := NewSIPBatch("fz")
		b.NodeFromHEP = true
		for pass := 0; pass < 2; pass++ {
			b.Reset()
			for i := 0; i < n; i++ {
				mk(i, &m, &s)
				b.Append(&m, &s)
			}
			if b.Rows() != n {
				t.Fatalf("rows %d, want %d", b.Rows(), n)
			}
		}
		for _, d := range []Dialect{Legacy, Modern} {
			l := fullLayout(t, d)
			enc := NewEncoder(l, compress.LZ4)
			body, got, err := enc.AppendBody(nil, []*SIPBatch{b})
			if err != nil {
				t.Fatal(err)
			}
			if got != n {
				t.Fatalf("encoded %d rows, want %d", got, n)
			}
			if n == 0 {
				if len(body) != 0 {
					t.Fatalf("empty batch gave %d bytes", len(body))
				}
				continue
			}
			blocks := decodeBody(t, body)
			if len(blocks) != 1 || blocks[0].Rows() != n {
				t.Fatalf("decoded %d blocks", len(blocks))
			}
			for ci, tg := range l.targets {
				for i := 0; i < n; i++ {
					mk(i, &m, &s)
					node := "fz"
					if len(m.Node) > 0 {
						node = string(m.Node)
					}
					w := want(tg.col, tg.ct, &m, &s, node)
					switch {
					case tg.col.kind == kindDate:
						w = itoa(floorDiv(m.TS, 1e6))
						if d == Legacy || tg.ct.base == tDateTime {
							w = itoa(int64(uint32(floorDiv(m.TS, 1e6))))
						}
					case tg.col.kind == kindMicro && d == Legacy:
						w = utoa(uint64(m.TS))
					}
					if g := cell(blocks[0][ci].Data, i); g != w {
						t.Fatalf("%v row %d column %s = %q, want %q", d, i, tg.name, trunc(g), trunc(w))
					}
				}
			}
			// Deterministic: the same batch encodes to the same bytes.
			again, _, _ := enc.AppendBody(nil, []*SIPBatch{b})
			if string(again) != string(body) {
				t.Fatal("second encoding differs")
			}
		}
	})
}
