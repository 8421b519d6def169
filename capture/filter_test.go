package capture

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/expr-lang/expr"

	"github.com/sipcap/appliance/decode"
)

// testMessages builds decoded messages by hand (the decoder has its own tests).
type testMsg struct {
	m decode.Meta
	s decode.SIP
}

func testMessages() []*testMsg {
	var out []*testMsg
	add := func(method string, status uint16, ua, from string, src string, port uint16, hep uint8) {
		x := &testMsg{}
		if method != "" {
			x.s.Method = []byte(method)
			x.s.CSeqMethod = []byte(method)
		} else {
			x.s.Status = status
			x.s.StatusCode = []byte{byte('0' + status/100), byte('0' + status/10%10), byte('0' + status%10)}
			x.s.CSeqMethod = []byte("INVITE")
		}
		x.s.UserAgent = []byte(ua)
		x.s.FromUser = []byte(from)
		x.s.CallID = []byte("call-" + from)
		x.s.Msg = []byte(strings.Repeat("x", int(status)+len(method)))
		x.m.Src = netip.MustParseAddr(src)
		x.m.Dst = netip.MustParseAddr("10.0.0.1")
		x.m.SrcPort, x.m.DstPort = port, 5060
		x.m.Proto, x.m.Family = 17, 2
		x.m.HEPVersion = hep
		x.m.VLAN = port % 7
		out = append(out, x)
	}
	add("INVITE", 0, "friendly-scanner", "100", "192.0.2.1", 5060, 0)
	add("OPTIONS", 0, "Asterisk PBX", "200", "192.0.2.2", 5080, 3)
	add("", 100, "Kamailio", "300", "2001:db8::1", 5060, 0)
	add("", 180, "", "", "192.0.2.3", 5062, 0)
	add("", 200, "Asterisk PBX", "400", "192.0.2.4", 5060, 2)
	add("", 486, "FreeSWITCH", "500", "192.0.2.5", 6060, 0)
	add("REGISTER", 0, "Linphone", "600", "2001:db8::2", 5060, 3)
	add("BYE", 0, "", "700", "192.0.2.6", 5060, 0)
	return out
}

var filterCases = []string{
	`method != "OPTIONS" && !(status >= 100 && status < 200)`,
	`method == "INVITE"`,
	`method in ["INVITE", "BYE"]`,
	`method not in ["OPTIONS", "REGISTER"]`,
	`status in 100..199`,
	`status in [200, 486]`,
	`user_agent contains "Asterisk"`,
	`user_agent startsWith "Kam" || user_agent endsWith "SWITCH"`,
	`user_agent matches "^friendly"`,
	`not (user_agent matches "scanner")`,
	`source_ip == "192.0.2.1"`,
	`source_ip startsWith "2001:db8:"`,
	`source_port != 5060 and proto == 17`,
	`hep`,
	`!hep && family == 2`,
	`type == 2 ? status >= 200 : method != "OPTIONS"`,
	`len(from_user) > 2 && msg_len % 2 == 0`,
	`cseq_method == "INVITE" && vlan + 1 > 3`,
	`from_user < "400"`,
	`hep == false`,
	`true`,
	`false || destination_port - 60 == 5000`,
}

func TestFilterMatchesExprVM(t *testing.T) {
	t.Parallel()
	msgs := testMessages()
	for _, src := range filterCases {
		f, err := CompileFilter(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if !f.ZeroAlloc() {
			t.Errorf("%s: fell back to the VM; the evaluator should cover it", src)
		}
		prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool())
		if err != nil {
			t.Fatal(err)
		}
		matched := 0
		for i := range msgs {
			var env Env
			fillEnv(&env, &msgs[i].m, &msgs[i].s, []byte("node1"))
			want, err := expr.Run(prog, &env)
			if err != nil {
				t.Fatal(err)
			}
			// twice, to show the evaluator keeps no state between messages
			for range 2 {
				if got := f.Match(&msgs[i].m, &msgs[i].s, []byte("node1")); got != want.(bool) {
					t.Errorf("%s on message %d: got %v, expr's VM says %v", src, i, got, want)
				}
			}
			if want.(bool) {
				matched++
			}
		}
		t.Logf("%-60s matches %d of %d", src, matched, len(msgs))
	}
}

func TestFilterFallbackToVM(t *testing.T) {
	t.Parallel()
	// upper() is outside the evaluator's subset: the VM runs it.
	f, err := CompileFilter(`upper(method) == "INVITE" || status == 200`)
	if err != nil {
		t.Fatal(err)
	}
	if f.ZeroAlloc() {
		t.Fatal("expected the VM fallback")
	}
	msgs := testMessages()
	got := []bool{}
	for i := range msgs {
		got = append(got, f.Match(&msgs[i].m, &msgs[i].s, nil))
	}
	want := []bool{true, false, false, false, true, false, false, false}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d: got %v want %v", i, got[i], want[i])
		}
	}
}

func TestFilterErrors(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		`method ==`,              // syntax
		`methd == "INVITE"`,      // unknown name
		`status == "200"`,        // type mismatch
		`method`,                 // not a bool
		`user_agent matches "("`, // bad regexp
	} {
		if _, err := CompileFilter(src); err == nil {
			t.Errorf("%s: compiled, want an error", src)
		} else if !strings.Contains(err.Error(), "compile filter") {
			t.Errorf("%s: error %q does not say what failed", src, err)
		}
	}
	f, err := CompileFilter("")
	if err != nil {
		t.Fatal(err)
	}
	var m decode.Meta
	var s decode.SIP
	if !f.Match(&m, &s, nil) {
		t.Error("empty filter must store everything")
	}
}
