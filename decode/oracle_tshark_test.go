package decode_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// oracleMsg is the part of one SIP message that both tshark's SIP dissector and
// our decoder report, as text, so that the two can be compared field by field.
type oracleMsg struct {
	Frame       int
	Method      string
	Status      string
	CallID      string
	FromUser    string
	FromTag     string
	ToUser      string
	ToTag       string
	CSeq        string
	Branch      string
	UserAgent   string
	ContactUser string
}

// oracleFields lists the compared fields by name, in a fixed order.
var oracleFields = []string{"method", "status", "callid", "from_user", "from_tag", "to_user",
	"to_tag", "cseq", "via_1_branch", "user_agent", "contact_user"}

func (m *oracleMsg) field(name string) string {
	switch name {
	case "method":
		return m.Method
	case "status":
		return m.Status
	case "callid":
		return m.CallID
	case "from_user":
		return m.FromUser
	case "from_tag":
		return m.FromTag
	case "to_user":
		return m.ToUser
	case "to_tag":
		return m.ToTag
	case "cseq":
		return m.CSeq
	case "via_1_branch":
		return m.Branch
	case "user_agent":
		return m.UserAgent
	case "contact_user":
		return m.ContactUser
	}
	panic("unknown oracle field " + name)
}

// tsharkKeys maps tshark's JSON keys to our field names. The first occurrence
// in document order wins, which for Via and Contact is the first header value.
var tsharkKeys = map[string]string{
	"sip.Method":       "method",
	"sip.Status-Code":  "status",
	"sip.Call-ID":      "callid",
	"sip.from.user":    "from_user",
	"sip.from.tag":     "from_tag",
	"sip.to.user":      "to_user",
	"sip.to.tag":       "to_tag",
	"sip.CSeq":         "cseq",
	"sip.Via.branch":   "via_1_branch",
	"sip.User-Agent":   "user_agent",
	"sip.Server":       "server",
	"sip.contact.user": "contact_user",
}

// sharedDir returns the shared folder with real captures, or skips the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("APPLIANCE_SHARED")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "shared")
	}
	pcaps := filepath.Join(dir, "testdata", "pcap")
	if _, err := os.Stat(pcaps); err != nil {
		t.Skipf("shared captures not found at %s (set APPLIANCE_SHARED): %v", pcaps, err)
	}
	return pcaps
}

// tsharkMessages runs tshark's SIP dissector over file and returns one
// oracleMsg per SIP message, in frame order.
func tsharkMessages(t testing.TB, file string, extra ...string) []oracleMsg {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (make deps installs it)")
	}
	args := append([]string{"-n", "-r", file}, extra...)
	args = append(args, "-Y", "sip", "-T", "json", "-J", "frame sip", "--no-duplicate-keys")
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v: %s", filepath.Base(file), err, stderr.String())
	}
	msgs, err := parseTsharkJSON(out)
	if err != nil {
		t.Fatalf("parse tshark output for %s: %v", filepath.Base(file), err)
	}
	return msgs
}

// parseTsharkJSON walks tshark's -T json output with a streaming decoder so
// that the order of keys (first Via, first Contact) is preserved.
func parseTsharkJSON(data []byte) ([]oracleMsg, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := &tsharkWalker{}
	if err := w.value(dec, ""); err != nil {
		return nil, err
	}
	return w.msgs, nil
}

type tsharkWalker struct {
	msgs  []oracleMsg
	frame int
	cur   map[string]string // fields of the "sip" object being read, nil outside one
}

// value reads one JSON value that sits under key. Array elements inherit the
// key of the array, so a frame holding several SIP messages ("sip": [{…},{…}])
// yields one message per element.
func (w *tsharkWalker) value(dec *json.Decoder, key string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			if key == "sip" {
				w.cur = map[string]string{}
			}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				if err := w.value(dec, k.(string)); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			if key == "sip" {
				w.flush()
			}
		case '[':
			for dec.More() {
				if err := w.value(dec, key); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
		}
	default:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		default:
			s = fmt.Sprint(x)
		}
		if key == "frame.number" {
			w.frame, _ = strconv.Atoi(s)
		}
		if w.cur != nil {
			if name, ok := tsharkKeys[key]; ok {
				if _, seen := w.cur[name]; !seen {
					w.cur[name] = s
				}
			}
		}
	}
	return nil
}

func (w *tsharkWalker) flush() {
	c := w.cur
	w.cur = nil
	m := oracleMsg{Frame: w.frame, Method: c["method"], Status: c["status"],
		CallID: c["callid"], FromUser: c["from_user"], FromTag: c["from_tag"],
		ToUser: c["to_user"], ToTag: c["to_tag"], CSeq: c["cseq"],
		Branch: c["via_1_branch"], UserAgent: c["user_agent"],
		ContactUser: c["contact_user"]}
	if m.UserAgent == "" && m.Status != "" {
		m.UserAgent = c["server"]
	}
	w.msgs = append(w.msgs, m)
}

// knownDiff is a disagreement with tshark that is tshark's, with the reason.
type knownDiff struct {
	file, field, reason string
	// match selects the messages concerned; nil means all of the file.
	match func(ours, theirs *oracleMsg) bool
}

func describe(m *oracleMsg) string {
	var b strings.Builder
	fmt.Fprintf(&b, "frame %d", m.Frame)
	for _, f := range oracleFields {
		if v := m.field(f); v != "" {
			fmt.Fprintf(&b, " %s=%q", f, v)
		}
	}
	return b.String()
}

func TestParseTsharkJSON(t *testing.T) {
	// Two messages in one frame, the first with two Vias and two branches, as
	// tshark prints them with --no-duplicate-keys.
	in := `[{"_source":{"layers":{"frame":{"frame.number":"7"},"sip":[
	 {"sip.Request-Line_tree":{"sip.Method":"INVITE"},"sip.msg_hdr_tree":{"sip.Call-ID":"a@b",
	  "sip.Via_tree":{"sip.Via.branch":["z9hG4bK1","z9hG4bK2"]},"sip.CSeq":"1 INVITE"}},
	 {"sip.Status-Line_tree":{"sip.Status-Code":200},"sip.msg_hdr_tree":{"sip.Call-ID":"c@d","sip.Server":"srv"}}
	]}}}]`
	got, err := parseTsharkJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []oracleMsg{
		{Frame: 7, Method: "INVITE", CallID: "a@b", Branch: "z9hG4bK1", CSeq: "1 INVITE"},
		{Frame: 7, Status: "200", CallID: "c@d", UserAgent: "srv"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
