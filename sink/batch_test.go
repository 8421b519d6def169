package sink

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"testing"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/ClickHouse/ch-go/proto"

	"github.com/sipcap/appliance/decode"
)

// testRow fills m and s with row i of a deterministic data set: requests and
// replies, IPv4 and IPv6, HEP and raw, non-UTF-8 bytes, and a 64 KiB message
// every 97th row.
func testRow(i int, m *decode.Meta, s *decode.SIP) {
	*m = decode.Meta{}
	*s = decode.SIP{}
	m.TS = 1_764_000_000_000_000 + int64(i)*1_234_567
	m.Family, m.Proto = 2, 17
	m.Src = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	m.Dst = netip.AddrFrom4([4]byte{192, 168, 1, byte(i % 7)})
	if i%5 == 0 {
		m.Family = 10
		m.Src = netip.MustParseAddr("2001:db8::" + strconv.FormatInt(int64(i%65536), 16))
		m.Dst = netip.MustParseAddr("2001:db8::ffff")
	}
	m.SrcPort, m.DstPort = uint16(5060+i%3), 5060
	m.VLAN = uint16(i % 4095)
	m.Encap.Push(decode.LayerEthernet)
	if i%2 == 0 {
		m.Encap.Push(decode.LayerVLAN)
	}
	m.Encap.Push(decode.LayerIPv4)
	m.Encap.Push(decode.LayerUDP)
	if i%3 == 0 {
		m.CaptureID = uint32(2000 + i)
		m.Node = []byte("hep-agent-" + strconv.Itoa(i%3))
		m.CorrelationID = []byte("corr-" + strconv.Itoa(i))
		m.HEPVersion = 3
	}
	callid := fmt.Sprintf("call-%d@example.org", i/2)
	s.CallID = []byte(callid)
	if i%2 == 0 {
		s.Method = []byte("INVITE")
		s.RURI = []byte("sip:+4930" + strconv.Itoa(i) + "@example.org;user=phone")
		s.RURIUser = []byte("+4930" + strconv.Itoa(i))
		s.RURIDomain = []byte("example.org")
		s.UserAgent = []byte("Phone/1.0")
	} else {
		s.Status = 200 + uint16(i%3)*100
		s.StatusCode = []byte(strconv.Itoa(int(s.Status)))
		s.ReplyReason = []byte("OK \xff\xfe not utf-8")
		s.UserAgent = []byte("Server/2.0")
	}
	s.FromUser, s.FromDomain, s.FromTag = []byte("alice"), []byte("a.example"), []byte("ft"+strconv.Itoa(i))
	s.ToUser, s.ToDomain, s.ToTag = []byte("bob"), []byte("b.example"), []byte("tt"+strconv.Itoa(i))
	s.PIDUser = []byte("pid" + strconv.Itoa(i%10))
	s.ContactUser, s.ContactIP, s.ContactPort = []byte("c"), []byte("10.1.1.1"), 5062
	s.Auth, s.AuthUser = []byte(`Digest username="alice"`), []byte("alice")
	s.CallIDAleg = []byte("aleg-" + strconv.Itoa(i/4))
	s.Via1 = []byte("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK" + strconv.Itoa(i))
	s.Via1Branch = []byte("z9hG4bK" + strconv.Itoa(i))
	s.CSeq, s.CSeqNum, s.CSeqMethod = []byte("1 INVITE"), 1, []byte("INVITE")
	s.Diversion, s.Reason = []byte("<sip:d@x>"), []byte("Q.850;cause=16")
	s.ContentType = []byte("application/sdp")
	s.OriginatorIP, s.OriginatorPort = []byte("172.16.0.1"), 7000
	s.Custom = [3][]byte{[]byte("c1"), nil, []byte("c3\x00\x01")}
	s.RTPStat = []byte("CS=0;PS=100")
	msg := []byte("INVITE sip:x SIP/2.0\r\nCall-ID: " + callid + "\r\n\r\nbody \x80\x81\xff")
	if i%97 == 1 {
		pat := []byte("v=0\r\no=- \xc3\x28 binary\r\n")
		big := bytes.Repeat(pat, 64<<10/len(pat)+1)
		msg = append(msg, big[:64<<10]...)
	}
	s.Msg = msg
	s.Body = msg[len(msg)-3:]
	s.ContentLength = 3
}

// fullLayout is the layout of a table created by DDL in dialect d.
func fullLayout(t testing.TB, d Dialect) *Layout {
	t.Helper()
	var have []TableColumn
	for _, c := range columns {
		typ := c.legacy
		if d == Modern {
			typ = c.modern
			if i := bytes.Index([]byte(typ), []byte(" CODEC")); i >= 0 {
				typ = typ[:i]
			}
		}
		have = append(have, TableColumn{Name: c.name, Type: typ})
	}
	l, err := NewLayout("default", "sip_capture", have)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// decodeBody decompresses and decodes every Native block of a body.
func decodeBody(t testing.TB, data []byte) []proto.Results {
	t.Helper()
	r := proto.NewReader(bytes.NewReader(data))
	r.EnableCompression()
	var out []proto.Results
	for {
		var res proto.Results
		var blk proto.Block
		if err := blk.DecodeRawBlock(r, 0, res.Auto()); err != nil {
			if len(out) > 0 && bytes.Contains([]byte(err.Error()), []byte("EOF")) {
				return out
			}
			t.Fatalf("decode block %d: %v", len(out), err)
		}
		out = append(out, res)
	}
}

// cell renders row i of a decoded column as text for comparison.
func cell(c proto.ColResult, i int) string {
	if a, ok := c.(*proto.ColAuto); ok {
		c = a.Data
	}
	switch v := c.(type) {
	case *proto.ColStr:
		return v.Row(i)
	case *proto.ColLowCardinality[string]:
		return v.Row(i)
	case *proto.ColUInt8:
		return strconv.FormatUint(uint64(v.Row(i)), 10)
	case *proto.ColUInt16:
		return strconv.FormatUint(uint64(v.Row(i)), 10)
	case *proto.ColUInt32:
		return strconv.FormatUint(uint64(v.Row(i)), 10)
	case *proto.ColUInt64:
		return strconv.FormatUint(v.Row(i), 10)
	case *proto.ColDateTime:
		return strconv.FormatInt(v.Row(i).Unix(), 10)
	case *proto.ColDateTime64:
		return strconv.FormatInt(int64(v.Data[i]), 10)
	}
	return fmt.Sprintf("unsupported %T", c)
}

// want renders the value the batch should hold for column c of row i.
func want(c *column, ct colType, m *decode.Meta, s *decode.SIP, node string) string {
	switch c.kind {
	case kindDate:
		return strconv.FormatInt(m.TS/1e6, 10)
	case kindMicro:
		return strconv.FormatInt(m.TS, 10)
	case kindIP:
		a := m.Src
		if c.idx == ipDestination {
			a = m.Dst
		}
		if !a.IsValid() {
			return ""
		}
		return a.String()
	case kindNum:
		var v uint64
		switch c.idx {
		case nSourcePort:
			v = uint64(m.SrcPort)
		case nDestinationPort:
			v = uint64(m.DstPort)
		case nContactPort:
			v = uint64(s.ContactPort)
		case nOriginatorPort:
			v = uint64(s.OriginatorPort)
		case nProto:
			v = uint64(m.Proto)
		case nFamily:
			v = uint64(m.Family)
		case nType:
			v = 1
			if !s.IsRequest() {
				v = 2
			}
		case nCaptureID:
			v = uint64(m.CaptureID)
		case nVLAN:
			v = uint64(m.VLAN)
		case nStatus:
			v = uint64(s.Status)
		}
		return strconv.FormatUint(v, 10)
	}
	var v []byte
	switch c.idx {
	case sMethod:
		v = s.Method
		if !s.IsRequest() {
			v = s.StatusCode
		}
	case sReplyReason:
		v = s.ReplyReason
	case sRURI:
		v = s.RURI
	case sRURIUser:
		v = s.RURIUser
	case sRURIDomain:
		v = s.RURIDomain
	case sFromUser:
		v = s.FromUser
	case sFromDomain:
		v = s.FromDomain
	case sFromTag:
		v = s.FromTag
	case sToUser:
		v = s.ToUser
	case sToDomain:
		v = s.ToDomain
	case sToTag:
		v = s.ToTag
	case sPIDUser:
		v = s.PIDUser
	case sContactUser:
		v = s.ContactUser
	case sAuthUser:
		v = s.AuthUser
	case sCallID:
		v = s.CallID
	case sCallIDAleg:
		v = s.CallIDAleg
	case sVia1:
		v = s.Via1
	case sVia1Branch:
		v = s.Via1Branch
	case sCSeq:
		v = s.CSeq
	case sDiversion:
		v = s.Diversion
	case sReason:
		v = s.Reason
	case sContentType:
		v = s.ContentType
	case sAuth:
		v = s.Auth
	case sUserAgent:
		v = s.UserAgent
	case sContactIP:
		v = s.ContactIP
	case sOriginatorIP:
		v = s.OriginatorIP
	case sCorrelationID:
		v = m.CorrelationID
	case sCustom1, sCustom2, sCustom3:
		v = s.Custom[c.idx-sCustom1]
	case sRTPStat:
		v = s.RTPStat
	case sNode:
		v = []byte(node)
	case sMsg:
		v = s.Msg
	case sEncap:
		v = m.Encap.AppendText(nil)
	case sCSeqMethod:
		v = s.CSeqMethod
	}
	return string(v)
}

func TestColumnsMatchDDL(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range columns {
		if seen[c.name] {
			t.Fatalf("column %s twice", c.name)
		}
		seen[c.name] = true
		for _, typ := range []string{c.legacy, c.modern} {
			base, _, _ := bytes.Cut([]byte(typ), []byte(" CODEC"))
			ct, ok := parseType(string(base))
			if !ok || !fits(c.kind, ct) {
				t.Errorf("column %s: DDL type %q is not writable by its encoder", c.name, typ)
			}
		}
	}
	for _, d := range []Dialect{Legacy, Modern} {
		stmts, err := DDL(d, "homer", "sip_capture", 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range columns {
			if !bytes.Contains([]byte(stmts[1]), []byte("`"+c.name+"` ")) {
				t.Errorf("%v DDL lacks column %s", d, c.name)
			}
		}
	}
	// The sipcapture names the brief fixes.
	for _, n := range []string{"date", "micro_ts", "method", "reply_reason", "ruri", "ruri_user", "ruri_domain", "from_user", "from_domain", "from_tag", "to_user", "to_domain", "to_tag", "pid_user", "contact_user", "auth_user", "callid", "callid_aleg", "via_1", "via_1_branch", "cseq", "diversion", "reason", "content_type", "auth", "user_agent", "source_ip", "source_port", "destination_ip", "destination_port", "contact_ip", "contact_port", "originator_ip", "originator_port", "correlation_id", "custom_field1", "custom_field2", "custom_field3", "proto", "family", "rtp_stat", "type", "node", "msg", "capture_id", "vlan", "encap", "status", "cseq_method"} {
		if !seen[n] {
			t.Errorf("column %s missing", n)
		}
	}
}

func TestDDLRejectsBadNames(t *testing.T) {
	for _, n := range []string{"", "a b", "x;DROP TABLE y", "t`", "1abc", "é", string(make([]byte, 129))} {
		if _, err := DDL(Legacy, n, "t", 0); err == nil {
			t.Errorf("database %q accepted", n)
		}
		if _, err := DDL(Legacy, "db", n, 0); err == nil {
			t.Errorf("table %q accepted", n)
		}
		if _, err := NewLayout("db", n, nil); err == nil {
			t.Errorf("layout table %q accepted", n)
		}
	}
}

func TestLayoutMissingAndTypes(t *testing.T) {
	have := []TableColumn{{"date", "DateTime", ""}, {"micro_ts", "UInt64", ""}, {"method", "String", ""},
		{"source_ip", "String", ""}, {"destination_ip", "String", ""}, {"msg", "String", ""}}
	if _, err := NewLayout("db", "t", have); err == nil || !bytes.Contains([]byte(err.Error()), []byte("callid")) {
		t.Fatalf("missing callid: err = %v, want one naming callid", err)
	}
	have = append(have, TableColumn{"callid", "Array(String)", ""})
	if _, err := NewLayout("db", "t", have); err == nil || !bytes.Contains([]byte(err.Error()), []byte("callid")) {
		t.Fatalf("bad callid type: err = %v", err)
	}
	have[len(have)-1].Type = "LowCardinality(String)"
	have = append(have, TableColumn{"vlan", "UInt16", "MATERIALIZED"}, TableColumn{"mine", "String", ""})
	l, err := NewLayout("db", "t", have)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(l.Columns()); got != 7 {
		t.Fatalf("layout writes %d columns %v, want 7", got, l.Columns())
	}
	if len(l.Skipped) != len(columns)-7 {
		t.Fatalf("skipped %d, want %d", len(l.Skipped), len(columns)-7)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, d := range []Dialect{Legacy, Modern} {
		for _, method := range []compress.Method{compress.LZ4, compress.ZSTD, compress.None} {
			t.Run(d.String()+"/"+method.String(), func(t *testing.T) {
				l := fullLayout(t, d)
				enc := NewEncoder(l, method)
				b1, b2 := NewSIPBatch("node-1"), NewSIPBatch("node-2")
				b2.NodeFromHEP = true
				var m decode.Meta
				var s decode.SIP
				const n1, n2 = 300, 7
				// Fill twice into the same batches: Reset must leave nothing behind.
				for pass := 0; pass < 2; pass++ {
					b1.Reset()
					b2.Reset()
					for i := 0; i < n1; i++ {
						testRow(i+pass*1000, &m, &s)
						b1.Append(&m, &s)
					}
					for i := 0; i < n2; i++ {
						testRow(i+pass*1000, &m, &s)
						b2.Append(&m, &s)
					}
				}
				data, rows, err := enc.AppendBody(nil, []*SIPBatch{b1, NewSIPBatch("empty"), b2})
				if err != nil {
					t.Fatal(err)
				}
				if rows != n1+n2 {
					t.Fatalf("rows %d, want %d", rows, n1+n2)
				}
				blocks := decodeBody(t, data)
				if len(blocks) != 2 {
					t.Fatalf("%d blocks, want 2", len(blocks))
				}
				for bi, blk := range blocks {
					n, hep := n1, false
					node := "node-1"
					if bi == 1 {
						n, hep, node = n2, true, "node-2"
					}
					if blk.Rows() != n {
						t.Fatalf("block %d: %d rows, want %d", bi, blk.Rows(), n)
					}
					for ci, tg := range l.targets {
						if blk[ci].Name != tg.name {
							t.Fatalf("column %d is %q, want %q", ci, blk[ci].Name, tg.name)
						}
						for i := 0; i < n; i++ {
							testRow(i+1000, &m, &s)
							nd := node
							if hep && len(m.Node) > 0 {
								nd = string(m.Node)
							}
							w := want(tg.col, tg.ct, &m, &s, nd)
							if d == Modern && tg.col.kind == kindMicro {
								w = strconv.FormatInt(m.TS, 10) // DateTime64(6) ticks
							}
							if got := cell(blk[ci].Data, i); got != w {
								t.Fatalf("block %d row %d column %s = %q, want %q", bi, i, tg.name, trunc(got), trunc(w))
							}
						}
					}
				}
			})
		}
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func TestParseType(t *testing.T) {
	ok := []string{"String", "LowCardinality(String)", "Nullable(String)", "FixedString(16)", "UInt8", "Int64",
		"DateTime", "DateTime('UTC')", "DateTime64(6)", "DateTime64(3, 'Europe/Berlin')", "Date", "IPv6", "IPv4",
		"LowCardinality(FixedString(4))"}
	for _, s := range ok {
		if _, good := parseType(s); !good {
			t.Errorf("parseType(%q) failed", s)
		}
	}
	bad := []string{"", "Array(String)", "LowCardinality(Nullable(String))", "LowCardinality(UInt8)", "FixedString(x)", "DateTime64(12)", "Decimal(9,2)"}
	for _, s := range bad {
		if _, good := parseType(s); good {
			t.Errorf("parseType(%q) accepted", s)
		}
	}
}

func TestTimeValue(t *testing.T) {
	const us = 1_764_000_123_456_789
	cases := []struct {
		k    kind
		ct   colType
		want int64
	}{
		{kindDate, colType{base: tDateTime}, 1_764_000_123},
		{kindDate, colType{base: tDate}, 1_764_000_123 / 86400},
		{kindMicro, colType{base: tU64}, us},
		{kindMicro, colType{base: tDateTime64, n: 3}, us / 1000},
		{kindMicro, colType{base: tDateTime64, n: 9}, us * 1000},
		{kindDate, colType{base: tU32}, 1_764_000_123},
		{kindMicro, colType{base: tDateTime64, n: 3}, -2}, // checked below with a negative input
	}
	for i, c := range cases[:6] {
		if got := timeValue(us, c.k, c.ct); got != c.want {
			t.Errorf("case %d: %d, want %d", i, got, c.want)
		}
	}
	if got := timeValue(-1500, kindMicro, cases[6].ct); got != -2 {
		t.Errorf("floor of negative: %d, want -2", got)
	}
}

func itoa(v int64) string  { return strconv.FormatInt(v, 10) }
func utoa(v uint64) string { return strconv.FormatUint(v, 10) }
