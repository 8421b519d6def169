package decode_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipcap/appliance/decode"
)

// ourRecorder collects what the frame path reports, as oracleMsgs.
type ourRecorder struct {
	frame int
	msgs  []oracleMsg
}

func (r *ourRecorder) SIP(m *decode.Meta, s *decode.SIP, err error) {
	o := oracleMsg{Frame: r.frame, Method: string(s.Method), CallID: string(s.CallID),
		FromUser: string(s.FromUser), FromTag: string(s.FromTag), ToUser: string(s.ToUser),
		ToTag: string(s.ToTag), CSeq: string(s.CSeq), Branch: string(s.Via1Branch),
		UserAgent: string(s.UserAgent), ContactUser: string(s.ContactUser)}
	if !s.IsRequest() {
		o.Status = strconv.Itoa(int(s.Status))
	}
	r.msgs = append(r.msgs, o)
}

// readCapture feeds every frame of a pcap or pcapng file to fn.
func readCapture(t testing.TB, file string, fn func(frame []byte, link decode.LinkType, ts int64, n int)) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var next func() ([]byte, int64, error)
	var link decode.LinkType
	if len(data) >= 4 && bytes.Equal(data[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		link = decode.LinkType(r.LinkType())
		next = func() ([]byte, int64, error) {
			d, ci, err := r.ReadPacketData()
			return d, ci.Timestamp.UnixMicro(), err
		}
	} else {
		r, err := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		link = decode.LinkType(r.LinkType())
		next = func() ([]byte, int64, error) {
			d, ci, err := r.ReadPacketData()
			return d, ci.Timestamp.UnixMicro(), err
		}
	}
	for n := 1; ; n++ {
		d, ts, err := next()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s frame %d: %v", filepath.Base(file), n, err)
		}
		fn(d, link, ts, n)
	}
}

func ourMessages(t testing.TB, file string, cfg *decode.PathConfig) []oracleMsg {
	t.Helper()
	p, err := decode.NewPath(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &ourRecorder{}
	readCapture(t, file, func(frame []byte, link decode.LinkType, ts int64, n int) {
		rec.frame = n
		p.Decode(frame, link, ts, 0, rec)
	})
	return rec.msgs
}

// tsharkArgs are per-capture decode-as options, so that tshark dissects SIP
// where a capture carries it on a port tshark does not know.
var tsharkArgs = map[string][]string{
	"sip-tcp-segmented-port6060-ipv4.pcap": {"-d", "tcp.port==6060,sip"},
}

// knownDiffs lists the disagreements that are tshark's (or the capture's),
// each with the reason. Everything else must agree.
var knownDiffs = []knownDiff{
	{file: "hep3-sip-rtcp-log-udp9060.pcap", field: "extra",
		reason: "tshark 4.0 has no HEP dissector; the inner SIP is checked against SOURCES.md by the HEP tests"},
	{file: "hep3-compressed-sip-sll.pcapng", field: "extra",
		reason: "tshark 4.0 has no HEP dissector; the inner SIP is checked against SOURCES.md by the HEP tests"},
	{file: "nonsip-http-on-tcp5060.pcap", field: "missing",
		match:  func(_, th *oracleMsg) bool { return th.Method == "" && th.Status == "" && th.CallID == "" },
		reason: "tshark labels HTTP on TCP 5060 as SIP with no fields; it is not SIP and is counted as non-SIP"},
	{file: "sip-udp-call-ipv6.pcap", field: "via_1_branch",
		match:  func(o, th *oracleMsg) bool { return th.Branch == "" && strings.HasPrefix(o.Branch, "z9hG4bK") },
		reason: "the Via sent-by is an IPv6 address without brackets (fe80:0:0:0:…:5060;branch=…), which tshark does not parse past"},
}

// tsharkText renders our bytes as tshark's JSON output shows them: each byte
// that is not part of valid UTF-8 becomes U+FFFD.
func tsharkText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			b.WriteRune(utf8.RuneError)
			i++
			continue
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	return b.String()
}

// TestOracleTshark compares, message by message, what tshark's SIP dissector
// reports with what the frame path and SIP decoder extract, over every
// capture in the shared folder.
func TestOracleTshark(t *testing.T) {
	dir := sharedDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s", dir)
	}
	sort.Strings(files)
	total, agreed := 0, 0
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			theirs := tsharkMessages(t, file, tsharkArgs[name]...)
			ours := ourMessages(t, file, nil)
			n, ok := compareOracle(t, name, ours, theirs)
			total += n
			agreed += ok
		})
	}
	t.Logf("%d tshark messages compared, %d agreed on every field or by a listed tshark difference", total, agreed)
}

// compareOracle matches messages by frame number and order within the frame.
func compareOracle(t *testing.T, name string, ours, theirs []oracleMsg) (n, agreed int) {
	t.Helper()
	byFrame := map[int][]*oracleMsg{}
	for i := range ours {
		byFrame[ours[i].Frame] = append(byFrame[ours[i].Frame], &ours[i])
	}
	used := map[*oracleMsg]bool{}
	for i := range theirs {
		th := &theirs[i]
		n++
		var match *oracleMsg
		for _, o := range byFrame[th.Frame] {
			if !used[o] && tsharkText(o.CallID) == th.CallID && tsharkText(o.CSeq) == th.CSeq {
				match = o
				break
			}
		}
		if match == nil {
			if reason := knownReason(name, "missing", th, nil); reason != "" {
				agreed++
				continue
			}
			t.Errorf("%s: tshark reports %s; we report nothing there", name, describe(th))
			continue
		}
		used[match] = true
		ok := true
		for _, f := range oracleFields {
			if tsharkText(match.field(f)) == th.field(f) {
				continue
			}
			if knownReason(name, f, th, match) != "" {
				continue
			}
			ok = false
			t.Errorf("%s frame %d: %s: tshark %q, ours %q", name, th.Frame, f, th.field(f), match.field(f))
		}
		if ok {
			agreed++
		}
	}
	for i := range ours {
		if !used[&ours[i]] && knownReason(name, "extra", nil, &ours[i]) == "" {
			t.Errorf("%s: we report %s; tshark does not", name, describe(&ours[i]))
		}
	}
	return n, agreed
}

func knownReason(file, field string, theirs, ours *oracleMsg) string {
	for _, k := range knownDiffs {
		if k.file != file && k.file != "*" {
			continue
		}
		if k.field != field && !(k.field == "*" && field != "missing" && field != "extra") {
			continue
		}
		if k.match == nil || k.match(ours, theirs) {
			return k.reason
		}
	}
	return ""
}
