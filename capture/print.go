package capture

import (
	"bufio"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sipcap/appliance/decode"
)

// Printer is an Output that writes one line per message: a short text line,
// or with JSON a JSON object whose keys are the column names of the capture
// table. It is what `appliance inspect` prints. Not safe for concurrent use.
type Printer struct {
	w           *bufio.Writer
	json        bool
	node        string
	nodeFromHEP bool
	buf         []byte
	// Frame, when set by the caller before each frame, is printed as "frame".
	Frame int
	Count int
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer, json bool, node string, nodeFromHEP bool) *Printer {
	return &Printer{w: bufio.NewWriterSize(w, 64<<10), json: json, node: node, nodeFromHEP: nodeFromHEP}
}

// Flush writes what is buffered.
func (p *Printer) Flush() error { return p.w.Flush() }

// Append prints one message.
func (p *Printer) Append(m *decode.Meta, s *decode.SIP) {
	p.Count++
	if p.json {
		p.buf = AppendJSON(p.buf[:0], m, s, p.nodeOf(m), p.Frame)
	} else {
		p.buf = p.appendText(p.buf[:0], m, s)
	}
	p.buf = append(p.buf, '\n')
	p.w.Write(p.buf)
}

func (p *Printer) nodeOf(m *decode.Meta) string {
	if p.nodeFromHEP && len(m.Node) > 0 {
		return string(m.Node)
	}
	return p.node
}

func (p *Printer) appendText(b []byte, m *decode.Meta, s *decode.SIP) []byte {
	b = time.UnixMicro(m.TS).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ' ')
	b = appendAddrPort(b, m.Family, m.Src, m.SrcPort)
	b = append(b, " -> "...)
	b = appendAddrPort(b, m.Family, m.Dst, m.DstPort)
	b = append(b, ' ')
	b = m.Encap.AppendText(b)
	b = append(b, ' ')
	if s.IsRequest() {
		b = append(b, s.Method...)
		b = append(b, ' ')
		b = appendPrintable(b, s.RURI)
	} else {
		b = append(b, s.StatusCode...)
		b = append(b, ' ')
		b = appendPrintable(b, s.ReplyReason)
	}
	b = append(b, " cseq="...)
	b = appendPrintable(b, s.CSeq)
	b = append(b, " callid="...)
	b = appendPrintable(b, s.CallID)
	return b
}

func appendAddrPort(b []byte, family uint8, a interface{ AppendTo([]byte) []byte }, port uint16) []byte {
	if family == 10 {
		b = append(b, '[')
		b = a.AppendTo(b)
		b = append(b, ']')
	} else {
		b = a.AppendTo(b)
	}
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(port), 10)
}

// appendPrintable appends v with control and non-UTF-8 bytes as \xNN.
func appendPrintable(b, v []byte) []byte {
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && n <= 1 || r < 0x20 || r == 0x7f {
			b = append(b, '\\', 'x', hexDigits[v[i]>>4], hexDigits[v[i]&15])
			i++
			continue
		}
		b = append(b, v[i:i+n]...)
		i += n
	}
	return b
}

const hexDigits = "0123456789abcdef"

// AppendJSON appends one message as a JSON object keyed by the capture
// table's column names (date as RFC 3339 with microseconds, plus micro_ts).
// Bytes that are not UTF-8 are written as U+FFFD. frame > 0 adds "frame".
func AppendJSON(b []byte, m *decode.Meta, s *decode.SIP, node string, frame int) []byte {
	b = append(b, `{"date":"`...)
	b = time.UnixMicro(m.TS).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, `","micro_ts":`...)
	b = strconv.AppendInt(b, m.TS, 10)
	str := func(key string, v []byte) {
		b = append(b, `,"`...)
		b = append(b, key...)
		b = append(b, `":`...)
		b = appendJSONString(b, v)
	}
	num := func(key string, v uint64) {
		b = append(b, `,"`...)
		b = append(b, key...)
		b = append(b, `":`...)
		b = strconv.AppendUint(b, v, 10)
	}
	typ := uint64(2)
	if s.IsRequest() {
		typ = 1
		str("method", s.Method)
	} else {
		str("method", s.StatusCode)
	}
	str("reply_reason", s.ReplyReason)
	str("ruri", s.RURI)
	str("ruri_user", s.RURIUser)
	str("ruri_domain", s.RURIDomain)
	str("from_user", s.FromUser)
	str("from_domain", s.FromDomain)
	str("from_tag", s.FromTag)
	str("to_user", s.ToUser)
	str("to_domain", s.ToDomain)
	str("to_tag", s.ToTag)
	str("pid_user", s.PIDUser)
	str("contact_user", s.ContactUser)
	str("auth_user", s.AuthUser)
	str("callid", s.CallID)
	str("callid_aleg", s.CallIDAleg)
	str("via_1", s.Via1)
	str("via_1_branch", s.Via1Branch)
	str("cseq", s.CSeq)
	str("diversion", s.Diversion)
	str("reason", s.Reason)
	str("content_type", s.ContentType)
	str("auth", s.Auth)
	str("user_agent", s.UserAgent)
	var ip [48]byte
	str("source_ip", m.Src.AppendTo(ip[:0]))
	num("source_port", uint64(m.SrcPort))
	str("destination_ip", m.Dst.AppendTo(ip[:0]))
	num("destination_port", uint64(m.DstPort))
	str("contact_ip", s.ContactIP)
	num("contact_port", uint64(s.ContactPort))
	str("originator_ip", s.OriginatorIP)
	num("originator_port", uint64(s.OriginatorPort))
	str("correlation_id", m.CorrelationID)
	str("custom_field1", s.Custom[0])
	str("custom_field2", s.Custom[1])
	str("custom_field3", s.Custom[2])
	num("proto", uint64(m.Proto))
	num("family", uint64(m.Family))
	str("rtp_stat", s.RTPStat)
	num("type", typ)
	b = append(b, `,"node":`...)
	b = appendJSONString(b, []byte(node))
	num("capture_id", uint64(m.CaptureID))
	num("vlan", uint64(m.VLAN))
	b = append(b, `,"encap":"`...)
	b = m.Encap.AppendText(b)
	b = append(b, '"')
	num("status", uint64(s.Status))
	str("cseq_method", s.CSeqMethod)
	if frame > 0 {
		num("frame", uint64(frame))
	}
	str("msg", s.Msg)
	return append(b, '}')
}

// appendJSONString appends v as a JSON string.
func appendJSONString(b, v []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, v[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
