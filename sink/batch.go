package sink

import (
	"net/netip"
	"strconv"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/sipcap/appliance/decode"
)

// rowOverhead approximates the fixed bytes a row costs in a batch besides
// its string bytes (positions, integers, addresses, time), used for the byte
// limit.
const rowOverhead = numStr*16 + numNum*4 + numIP*24 + 8

// SIPBatch accumulates rows of the capture table, one row per SIP message,
// in columns. Append copies the message bytes into the columns (the one
// copy of the pipeline); nothing in a batch aliases the frame afterwards.
//
// Columns keep their capacity across Reset, so a batch that is reused
// allocates nothing per row once it has grown to its working size.
// A SIPBatch is not safe for concurrent use: it belongs to one capture worker
// until it is handed to the sink, and to the sink until it comes back.
type SIPBatch struct {
	// Node is the capture_node stored in the node column.
	Node string
	// NodeFromHEP stores the HEP agent name (Meta.Node) instead of Node for
	// messages that carry one.
	NodeFromHEP bool

	ts  []int64 // micro_ts
	str [numStr]proto.ColStr
	num [numNum][]uint32
	ip  [numIP][]netip.Addr

	rows  int
	size  int
	start int64 // flush-interval slot of the first row, set by Worker
	first int64 // wall clock (Unix ns) of the first row, set by Worker
	owner *Worker
}

// NewSIPBatch returns an empty batch storing node in the node column.
func NewSIPBatch(node string) *SIPBatch { return &SIPBatch{Node: node} }

// Rows is the number of rows appended since the last Reset.
func (b *SIPBatch) Rows() int { return b.rows }

// Bytes approximates the memory the rows take (string bytes plus a fixed
// cost per row); it is what the byte flush limit compares against.
func (b *SIPBatch) Bytes() int { return b.size }

// Reset empties the batch, keeping the capacity of every column.
func (b *SIPBatch) Reset() {
	b.ts = b.ts[:0]
	for i := range b.str {
		b.str[i].Reset()
	}
	for i := range b.num {
		b.num[i] = b.num[i][:0]
	}
	for i := range b.ip {
		b.ip[i] = b.ip[i][:0]
	}
	b.rows, b.size = 0, 0
}

func (b *SIPBatch) put(i int, v []byte) {
	c := &b.str[i]
	start := len(c.Buf)
	c.Buf = append(c.Buf, v...)
	c.Pos = append(c.Pos, proto.Position{Start: start, End: len(c.Buf)})
	b.size += len(v)
}

// Append adds one row: the message s as seen per m. It copies every byte it
// keeps, so m and s may be reused (and the frame released) as soon as it
// returns. It does not allocate once the columns have grown.
func (b *SIPBatch) Append(m *decode.Meta, s *decode.SIP) {
	b.ts = append(b.ts, m.TS)
	var typ uint32 = 1
	if s.IsRequest() {
		b.put(sMethod, s.Method)
	} else {
		typ = 2
		b.put(sMethod, s.StatusCode)
	}
	b.put(sReplyReason, s.ReplyReason)
	b.put(sRURI, s.RURI)
	b.put(sRURIUser, s.RURIUser)
	b.put(sRURIDomain, s.RURIDomain)
	b.put(sFromUser, s.FromUser)
	b.put(sFromDomain, s.FromDomain)
	b.put(sFromTag, s.FromTag)
	b.put(sToUser, s.ToUser)
	b.put(sToDomain, s.ToDomain)
	b.put(sToTag, s.ToTag)
	b.put(sPIDUser, s.PIDUser)
	b.put(sContactUser, s.ContactUser)
	b.put(sAuthUser, s.AuthUser)
	b.put(sCallID, s.CallID)
	b.put(sCallIDAleg, s.CallIDAleg)
	b.put(sVia1, s.Via1)
	b.put(sVia1Branch, s.Via1Branch)
	b.put(sCSeq, s.CSeq)
	b.put(sDiversion, s.Diversion)
	b.put(sReason, s.Reason)
	b.put(sContentType, s.ContentType)
	b.put(sAuth, s.Auth)
	b.put(sUserAgent, s.UserAgent)
	b.put(sContactIP, s.ContactIP)
	b.put(sOriginatorIP, s.OriginatorIP)
	b.put(sCorrelationID, m.CorrelationID)
	b.put(sCustom1, s.Custom[0])
	b.put(sCustom2, s.Custom[1])
	b.put(sCustom3, s.Custom[2])
	b.put(sRTPStat, s.RTPStat)

	// node: the HEP agent name when configured and present, else capture_node.
	nc := &b.str[sNode]
	start := len(nc.Buf)
	if b.NodeFromHEP && len(m.Node) > 0 {
		nc.Buf = append(nc.Buf, m.Node...)
	} else {
		nc.Buf = append(nc.Buf, b.Node...)
	}
	nc.Pos = append(nc.Pos, proto.Position{Start: start, End: len(nc.Buf)})
	b.size += len(nc.Buf) - start

	b.put(sMsg, s.Msg)

	ec := &b.str[sEncap]
	start = len(ec.Buf)
	ec.Buf = m.Encap.AppendText(ec.Buf)
	ec.Pos = append(ec.Pos, proto.Position{Start: start, End: len(ec.Buf)})

	b.put(sCSeqMethod, s.CSeqMethod)

	b.num[nSourcePort] = append(b.num[nSourcePort], uint32(m.SrcPort))
	b.num[nDestinationPort] = append(b.num[nDestinationPort], uint32(m.DstPort))
	b.num[nContactPort] = append(b.num[nContactPort], uint32(s.ContactPort))
	b.num[nOriginatorPort] = append(b.num[nOriginatorPort], uint32(s.OriginatorPort))
	b.num[nProto] = append(b.num[nProto], uint32(m.Proto))
	b.num[nFamily] = append(b.num[nFamily], uint32(m.Family))
	b.num[nType] = append(b.num[nType], typ)
	b.num[nCaptureID] = append(b.num[nCaptureID], m.CaptureID)
	b.num[nVLAN] = append(b.num[nVLAN], uint32(m.VLAN))
	b.num[nStatus] = append(b.num[nStatus], uint32(s.Status))

	b.ip[ipSource] = append(b.ip[ipSource], m.Src)
	b.ip[ipDestination] = append(b.ip[ipDestination], m.Dst)

	b.rows++
	b.size += len(ec.Buf) - start + rowOverhead
}

// appendIPText appends the text form of a ("" for the zero Addr).
func appendIPText(dst []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return dst
	}
	return a.AppendTo(dst)
}

// appendUint appends v in decimal.
func appendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }
