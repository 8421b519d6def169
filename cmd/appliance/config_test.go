package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, yamlText string, env []string, args ...string) (*Config, []string, error) {
	t.Helper()
	fs := flag.NewFlagSet("appliance", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	file := ""
	if yamlText != "" {
		file = filepath.Join(t.TempDir(), "appliance.yaml")
		if err := os.WriteFile(file, []byte(yamlText), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return LoadConfig(file, env, fs)
}

func TestConfigDefaults(t *testing.T) {
	c, _, err := load(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.TableName != "sip_capture" || !c.CaptureOn || c.MaxAsyncQueries != 5 || c.RawSockChildren != 1 ||
		c.CaptureNode != "homer01" || c.BatchRows != 50000 || c.BatchBytes != 16<<20 || c.BatchAge != time.Second ||
		c.RingBlockTimeout != 10*time.Millisecond || c.Admin != "127.0.0.1:9096" || !c.RawMoniBPFOn {
		t.Errorf("defaults: %+v", c)
	}
	if got := c.ALegHeaders(); len(got) != 1 || got[0] != "X-CID" {
		t.Errorf("a-leg headers %q", got)
	}
}

// TestConfigPrecedence: flags over environment over file over defaults.
func TestConfigPrecedence(t *testing.T) {
	file := "table_name: from_file\ncapture_node: filenode\nraw_sock_children: 3\nmax_async_queries: 7\n"
	env := []string{"APPLIANCE_CAPTURE_NODE=envnode", "APPLIANCE_RAW_SOCK_CHILDREN=4", "PATH=/bin"}
	c, _, err := load(t, file, env, "--fanout", "6")
	if err != nil {
		t.Fatal(err)
	}
	if c.TableName != "from_file" || c.CaptureNode != "envnode" || c.RawSockChildren != 6 || c.MaxAsyncQueries != 7 {
		t.Errorf("got table %q node %q children %d async %d", c.TableName, c.CaptureNode, c.RawSockChildren, c.MaxAsyncQueries)
	}
	// an unset flag does not override the file with its default
	c, _, err = load(t, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.RawSockChildren != 3 {
		t.Errorf("raw_sock_children %d, want 3 from the file", c.RawSockChildren)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		yaml string
		env  []string
		args []string
		want []string // all must appear in the error
	}{
		{args: []string{"--raw_sock_children", "0"}, want: []string{"raw_sock_children", `"0"`, "allowed: 1 to 1024"}},
		{args: []string{"--table_name", "x; DROP TABLE y"}, want: []string{"table_name", "allowed"}},
		{args: []string{"--db_url", "mysql://u:p@h/homer"}, want: []string{"db_url", "allowed: an http"}},
		{args: []string{"--capture_on", "maybe"}, want: []string{"capture_on", `"maybe"`, "allowed: 1 or 0"}},
		{args: []string{"--raw_socket_listen", "10.0.0.1:5090-5060"}, want: []string{"raw_socket_listen", "allowed"}},
		{args: []string{"--compression", "brotli"}, want: []string{"compression", "allowed: lz4, zstd, none"}},
		{args: []string{"--raw_ipip_capture_on", "1", "--raw_moni_capture_on", "1"}, want: []string{"raw_ipip_capture_on", "raw_moni_capture_on"}},
		{args: []string{"--hep_tls_listen", ":9061"}, want: []string{"tls_cert", "tls_key"}},
		{yaml: "tabel_name: x\n", want: []string{"line 1", `unknown key "tabel_name"`}},
		{yaml: "capture_node: [a, b]\n", want: []string{"capture_node", "single value"}},
		{yaml: "batch_age: soon\n", want: []string{"line 1", "batch_age", "allowed: a duration"}},
		{env: []string{"APPLIANCE_RING_BLOCK_COUNT=1"}, want: []string{"APPLIANCE_RING_BLOCK_COUNT", "ring_block_count", "allowed: 2 to 65536"}},
		{args: []string{"--hep_allow", "10.0.0.0/8,nonsense"}, want: []string{"hep_allow", "nonsense"}},
		{args: []string{"--filter", "method =="}, want: []string{"filter"}},
	}
	for _, tc := range cases {
		_, _, err := load(t, tc.yaml, tc.env, tc.args...)
		if err == nil {
			t.Errorf("%v %q %v: no error", tc.args, tc.yaml, tc.env)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %q %v: error %q lacks %q", tc.args, tc.yaml, tc.env, err, w)
			}
		}
	}
}

func TestParseListen(t *testing.T) {
	f := func(in string, addr string, lo, hi uint16) {
		t.Helper()
		ls, err := ParseListen(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got := ""
		if ls.Addr.IsValid() {
			got = ls.Addr.String()
		}
		if got != addr || ls.PortLo != lo || ls.PortHi != hi {
			t.Errorf("%s: got %s %d-%d", in, got, ls.PortLo, ls.PortHi)
		}
	}
	f(":5060-5090", "", 5060, 5090)
	f("10.0.0.1:5060", "10.0.0.1", 5060, 5060)
	f("[2001:db8::1]:5060-5061", "2001:db8::1", 5060, 5061)
	f("0.0.0.0:5060", "", 5060, 5060)
	for _, bad := range []string{"5060", "x:5060", ":0", ":70000", ":5062-5060", "10.0.0.1:"} {
		if _, err := ParseListen(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	got, err := ParseCPUList("1,3-5, 8")
	if err != nil || len(got) != 5 || got[0] != 1 || got[1] != 3 || got[3] != 5 || got[4] != 8 {
		t.Errorf("got %v %v", got, err)
	}
	if _, err := ParseCPUList("3-1"); err == nil {
		t.Error("3-1 accepted")
	}
}

const opensipsCfg = `
loadmodule "sipcapture.so"
modparam("sipcapture", "db_url", "mysql://homer:s3cret@localhost/homer_data")
modparam("sipcapture", "capture_on", 1)
modparam("sipcapture", "hep_capture_on", 1)
modparam("sipcapture", "max_async_queries", 8)
modparam("sipcapture", "raw_socket_listen", "10.1.2.3:5060-5062")
modparam("sipcapture", "raw_interface", "eth1")
modparam("sipcapture", "raw_sock_children", 4)
modparam("sipcapture", "raw_moni_capture_on", 1)
modparam("sipcapture", "promiscious_on", 1)
modparam("sipcapture", "capture_node", "homer03")
modparam("sipcapture", "callid_aleg_header", "X-CID0;X-CID1")
modparam("sipcapture", "insert_retries", 5)
modparam("sipcapture", "hep_route", "none")
# modparam("sipcapture", "table_name", "commented_out")
modparam("sipcapture", "something_new", "x")
`

func TestFromSipcaptureCfg(t *testing.T) {
	file := filepath.Join(t.TempDir(), "opensips.cfg")
	if err := os.WriteFile(file, []byte(opensipsCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, notes, err := load(t, "", nil, "--from-sipcapture-cfg", file, "--capture_node", "flagnode")
	if err != nil {
		t.Fatal(err)
	}
	if !c.HEPCaptureOn || c.MaxAsyncQueries != 8 || c.RawInterface != "eth1" || c.RawSockChildren != 4 ||
		!c.RawMoniCaptureOn || !c.PromiscuousOn || !c.HEPStoreNoScript || c.TableName != "sip_capture" {
		t.Errorf("mapped config wrong: %+v", c)
	}
	if c.CaptureNode != "flagnode" {
		t.Errorf("flags must win over the sipcapture config: node %q", c.CaptureNode)
	}
	if h := c.ALegHeaders(); len(h) != 2 || h[1] != "X-CID1" {
		t.Errorf("a-leg headers %q", h)
	}
	all := strings.Join(notes, "\n")
	for _, w := range []string{
		`db_url "mysql://homer:***@localhost/homer_data" not applied`,
		"insert_retries not applied",
		"something_new not applied: unknown",
		`promiscuous_on = "1" taken`,
		"hep_store_no_script = 1",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("notes lack %q:\n%s", w, all)
		}
	}
	if strings.Contains(all, "s3cret") || strings.Contains(all, "commented_out") {
		t.Errorf("notes leak a password or read a comment:\n%s", all)
	}
	// a bad value in the module config names the file and line
	bad := filepath.Join(t.TempDir(), "kamailio.cfg")
	os.WriteFile(bad, []byte("modparam(\"sipcapture\", \"raw_sock_children\", 0)\n"), 0o600)
	if _, _, err := load(t, "", nil, "--from-sipcapture-cfg", bad); err == nil || !strings.Contains(err.Error(), "kamailio.cfg line 1") {
		t.Errorf("error %v should name kamailio.cfg line 1", err)
	}
}

func TestDumpConfigRoundTrip(t *testing.T) {
	c, _, err := load(t, "", nil, "--capture_node", "n7", "--batch_rows", "1234")
	if err != nil {
		t.Fatal(err)
	}
	c2, _, err := load(t, string(dumpConfig(c)), nil)
	if err != nil {
		t.Fatalf("the dumped config does not load: %v", err)
	}
	if c2.CaptureNode != "n7" || c2.BatchRows != 1234 {
		t.Errorf("round trip lost values: %q %d", c2.CaptureNode, c2.BatchRows)
	}
}

// TestDeployExample: the example config shipped in deploy/ loads, and the
// unit grants exactly the capabilities capture needs.
func TestDeployExample(t *testing.T) {
	fs := flag.NewFlagSet("appliance", flag.ContinueOnError)
	bindFlags(fs)
	cfg, _, err := LoadConfig(filepath.Join("..", "..", "deploy", "appliance.yaml"), nil, fs)
	if err != nil {
		t.Fatalf("deploy/appliance.yaml: %v", err)
	}
	if !cfg.RawMoniCaptureOn || !cfg.HEPCaptureOn || cfg.RawSockChildren != 4 || cfg.RetentionDays != 30 {
		t.Errorf("example config read wrong: %+v", cfg)
	}
	unit, err := os.ReadFile(filepath.Join("..", "..", "deploy", "appliance.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN", "User=appliance", "NoNewPrivileges=yes",
		"ExecReload=/bin/kill -HUP $MAINPID", "Type=notify"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
}

func TestTune(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"tune", "--raw_sock_children", "64", "--raw_interface", "lo"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"cpus", "ring memory", "interface", "lo has"} {
		if !strings.Contains(s, want) {
			t.Errorf("tune output lacks %q:\n%s", want, s)
		}
	}
	if !strings.Contains(s, "warning  cpus") {
		t.Errorf("64 workers must be a warning here:\n%s", s)
	}
}

// TestConnWorker checks the choice of a HEP stream connection's worker: in
// range, the same for the same agent, and spread over every worker by the
// ports of one host's connections.
func TestConnWorker(t *testing.T) {
	for n := 1; n <= 16; n++ {
		seen := map[int]bool{}
		for port := uint16(40000); port < 40200; port++ {
			src := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.7"), port)
			w := connWorker(src, n)
			if w < 0 || w >= n || w != connWorker(src, n) {
				t.Fatalf("connWorker(%v, %d) = %d", src, n, w)
			}
			seen[w] = true
		}
		if len(seen) != n {
			t.Errorf("200 connections of one host use %d of %d workers", len(seen), n)
		}
	}
}
