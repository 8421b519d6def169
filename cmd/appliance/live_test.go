package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sipcap/appliance/ring"
	"github.com/sipcap/appliance/sink/chtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// applianceBinary builds the appliance once per test run.
func applianceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "appliance-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "appliance")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_RAW and CAP_NET_ADMIN) to create a network namespace and capture on a veth")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip (make deps installs it)")
	}
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// testVeth is a veth pair: Host in this namespace (no address: it only
// captures), Peer inside a namespace of the test's own, from which frames
// are injected. Frames reach the host side only; whatever their addresses,
// the kernel does not route frames addressed to another MAC.
type testVeth struct{ NS, Host, Peer string }

func newVeth(t *testing.T) testVeth {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])[:7]
	v := testVeth{NS: "apl" + id, Host: "apl" + id + "h", Peer: "apl" + id + "p"}
	sh(t, "ip", "netns", "add", v.NS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", v.NS).Run() })
	sh(t, "ip", "link", "add", v.Host, "type", "veth", "peer", "name", v.Peer, "netns", v.NS)
	t.Cleanup(func() { exec.Command("ip", "link", "del", v.Host).Run() })
	// large frames of captures (offloaded TCP segments) must pass whole
	sh(t, "ip", "link", "set", v.Host, "mtu", "65000")
	sh(t, "ip", "netns", "exec", v.NS, "ip", "link", "set", v.Peer, "mtu", "65000")
	os.WriteFile("/proc/sys/net/ipv6/conf/"+v.Host+"/disable_ipv6", []byte("1"), 0o644)
	sh(t, "ip", "link", "set", v.Host, "up")
	sh(t, "ip", "netns", "exec", v.NS, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
	sh(t, "ip", "netns", "exec", v.NS, "ip", "link", "set", v.Peer, "up")
	return v
}

// replayInto sends the frames of files from the namespace onto the peer.
func (v testVeth) replay(t *testing.T, extra []string, files ...string) {
	t.Helper()
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		t.Skip("needs tcpreplay (make deps installs it)")
	}
	for _, f := range files {
		args := append([]string{"netns", "exec", v.NS, "tcpreplay", "-q", "-i", v.Peer}, extra...)
		args = append(args, f)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("tcpreplay %s: %v\n%s", filepath.Base(f), err, out)
		}
	}
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a process's output safely.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a running appliance.
type proc struct {
	cmd   *exec.Cmd
	log   *lockedBuffer
	admin string
	hep   string
	done  chan error
}

// startAppliance runs the binary with args plus an admin address and waits
// until /readyz answers.
func startAppliance(t *testing.T, args ...string) *proc {
	t.Helper()
	return startApplianceUntil(t, "/readyz", args...)
}

// startApplianceUntil starts the appliance and waits until the admin path
// answers 200 (/readyz: storing; /healthz: running).
func startApplianceUntil(t *testing.T, path string, args ...string) *proc {
	t.Helper()
	p := &proc{log: &lockedBuffer{}, admin: fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")), done: make(chan error, 1)}
	args = append(args, "--admin", p.admin, "--log_level", "debug")
	p.cmd = exec.Command(applianceBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			t.Fatalf("appliance exited at start: %v\n%s", err, p.log.String())
		default:
		}
		if resp, err := http.Get("http://" + p.admin + path); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("appliance: no 200 from %s after 60 s\n%s", path, p.log.String())
	return nil
}

// stop sends sig and waits for the exit; it returns the log.
func (p *proc) stop(t *testing.T, sig syscall.Signal) string {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("appliance exited with %v\n%s", err, p.log.String())
		}
	case <-time.After(90 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("appliance did not stop within 90 s\n%s", p.log.String())
	}
	return p.log.String()
}

// metric sums the samples of a metric (all label sets) from /metrics.
func (p *proc) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

// waitMetric waits until a metric reaches want.
func (p *proc) waitMetric(t *testing.T, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if p.metric(t, name) >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s = %v after 30 s, want %v\n%s", name, p.metric(t, name), want, p.log.String())
}

// hepDatagram is a HEP v3 packet carrying a SIP request with Call-ID callID.
func hepDatagram(callID string, captureID uint32) []byte {
	msg := fmt.Sprintf("OPTIONS sip:probe@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK%s\r\n"+
		"From: <sip:mon@example.com>;tag=t%s\r\nTo: <sip:probe@example.com>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n"+
		"User-Agent: hep-test\r\nContent-Length: 0\r\n\r\n", callID, callID, callID)
	var b []byte
	chunk := func(typ uint16, v []byte) {
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint16(b, uint16(6+len(v)))
		b = append(b, v...)
	}
	now := time.Now()
	chunk(1, []byte{2})
	chunk(2, []byte{17})
	chunk(3, []byte{192, 0, 2, 9})
	chunk(4, []byte{192, 0, 2, 10})
	chunk(7, binary.BigEndian.AppendUint16(nil, 5060))
	chunk(8, binary.BigEndian.AppendUint16(nil, 5060))
	chunk(9, binary.BigEndian.AppendUint32(nil, uint32(now.Unix())))
	chunk(10, binary.BigEndian.AppendUint32(nil, uint32(now.Nanosecond()/1000)))
	chunk(11, []byte{1})
	chunk(12, binary.BigEndian.AppendUint32(nil, captureID))
	chunk(15, []byte(msg))
	return append(append([]byte("HEP3"), binary.BigEndian.AppendUint16(nil, uint16(6+len(b)))...), b...)
}

// sendHEP sends one datagram per Call-ID to addr over loopback, gently.
func sendHEP(t *testing.T, addr string, callIDs []string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, id := range callIDs {
		if _, err := c.Write(hepDatagram(id, 7)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// sendHEPTCP sends one HEP message per Call-ID to addr over TCP, spread
// over conns connections that write at the same time.
func sendHEPTCP(t *testing.T, addr string, callIDs []string, conns int) {
	t.Helper()
	errs := make(chan error, conns)
	for c := 0; c < conns; c++ {
		go func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			for i := c; i < len(callIDs); i += conns {
				if _, err := conn.Write(hepDatagram(callIDs[i], 7)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for c := 0; c < conns; c++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

func ethernetCaptures(t *testing.T, files []string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		pf, err := ring.OpenFile(f, false)
		if err != nil {
			t.Fatal(err)
		}
		if pf.LinkType() == 1 {
			out = append(out, f)
		}
		pf.Close()
	}
	return out
}

// TestLiveDemoPath is `make demo` as a test: the appliance captures with two
// workers on a veth while captures are replayed onto it with tcpreplay and
// HEP arrives on loopback; after SIGTERM every SIP message sent is in
// ClickHouse exactly once, with the fields inspect reports.
func TestLiveDemoPath(t *testing.T) {
	requireRoot(t)
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	srv := chtest.Start(t)
	v := newVeth(t)
	files := []string{writeTestCapture(t, 400)}
	files = append(files, ethernetCaptures(t, sharedCapturesOrNil())...)
	hepPort, hepTCPPort := freePort(t, "udp"), freePort(t, "tcp")
	p := startAppliance(t, "--raw_moni_capture_on", "1", "--raw_interface", v.Host, "--fanout", "2",
		"--raw_moni_bpf_on", "0", "--hep_capture_on", "1", "--hep_listen", fmt.Sprintf("127.0.0.1:%d", hepPort),
		"--hep_tcp_listen", fmt.Sprintf("127.0.0.1:%d", hepTCPPort),
		"--db_url", srv.URL()+"/live", "--spool_dir", t.TempDir(), "--batch_age", "200ms", "--capture_node", "live1")

	v.replay(t, []string{"--topspeed"}, files...)
	hepIDs := ids("hep-demo", 300)
	sendHEP(t, fmt.Sprintf("127.0.0.1:%d", hepPort), hepIDs)
	// HEP over TCP from four agents at once, spread over the two workers.
	hepTCPIDs := ids("hep-tcp", 400)
	sendHEPTCP(t, fmt.Sprintf("127.0.0.1:%d", hepTCPPort), hepTCPIDs, 4)
	hepIDs = append(hepIDs, hepTCPIDs...)

	// inspect over the same files is the expectation (without timestamps:
	// the live capture has its own)
	want := map[string]int{}
	for _, k := range inspectRows(t, files...) {
		parts := strings.Split(k, "|")
		want[strings.Join(parts[:3], "|")]++
	}
	for _, id := range hepIDs {
		want[id+"|1 OPTIONS|OPTIONS"]++
	}
	total := 0
	for _, n := range want {
		total += n
	}
	p.waitMetric(t, "appliance_stored_total", float64(total))
	log := p.stop(t, syscall.SIGTERM)

	got := map[string]int{}
	rows := query(t, srv, `SELECT concat(callid, '|', cseq, '|', method) FROM live.sip_capture FORMAT TSV`)
	for _, k := range strings.Split(rows, "\n") {
		got[k]++
	}
	var diffs []string
	for k, n := range want {
		if got[k] != n {
			diffs = append(diffs, fmt.Sprintf("%s: sent %d, stored %d", k, n, got[k]))
		}
	}
	for k, n := range got {
		if want[k] == 0 {
			diffs = append(diffs, fmt.Sprintf("%s: not sent, stored %d", k, n))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("%d differences, e.g.:\n%s\n%s", len(diffs), strings.Join(diffs[:min(len(diffs), 20)], "\n"), tail(log, 30))
	}
	if v := query(t, srv, `SELECT count() FROM live.sip_capture WHERE callid LIKE 'hep-demo-%' AND capture_id = 7 AND node = 'live1'`); v != "300" {
		t.Errorf("HEP rows with capture id 7 and node live1: %s", v)
	}
	if v := query(t, srv, `SELECT callid_aleg, source_ip, destination_port FROM live.sip_capture WHERE callid = 'call-5' FORMAT TSV`); v != "aleg-5\t192.0.2.1\t5060" {
		t.Errorf("call-5 fields: %q", v)
	}
	if !regexp.MustCompile(`rows_lost=0 `).MatchString(log) {
		t.Errorf("the appliance lost rows:\n%s", tail(log, 10))
	}
	t.Logf("%d messages over %d captures and HEP stored exactly once", total, len(files))
}

// TestLiveClickHouseLate starts the appliance while ClickHouse is down, as at
// boot when it comes up first: it captures at once (HEP on loopback), is not
// ready until ClickHouse answers, and then stores every message sent before.
func TestLiveClickHouseLate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	srv := chtest.Start(t)
	srv.Kill()
	hepPort := freePort(t, "udp")
	p := startApplianceUntil(t, "/healthz", "--hep_capture_on", "1", "--hep_listen", fmt.Sprintf("127.0.0.1:%d", hepPort),
		"--db_url", srv.URL()+"/late", "--spool_dir", t.TempDir(), "--batch_age", "200ms")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.log.String(), "HEP listening") {
		if time.Now().After(deadline) {
			t.Fatalf("not capturing 30 s after start\n%s", p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	sent := ids("late", 500)
	sendHEP(t, fmt.Sprintf("127.0.0.1:%d", hepPort), sent)
	time.Sleep(500 * time.Millisecond)
	if resp, err := http.Get("http://" + p.admin + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while ClickHouse is down: %v %v, want 503", resp, err)
	}
	if v := p.metric(t, "appliance_clickhouse_ready"); v != 0 {
		t.Errorf("appliance_clickhouse_ready = %v while ClickHouse is down", v)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	p.waitMetric(t, "appliance_clickhouse_ready", 1)
	p.waitMetric(t, "appliance_stored_total", float64(len(sent)))
	log := p.stop(t, syscall.SIGTERM)
	if v := query(t, srv, `SELECT count(), uniqExact(callid) FROM late.sip_capture FORMAT TSV`); v != "500\t500" {
		t.Errorf("rows, distinct Call-IDs: %q, want 500 of each\n%s", v, tail(log, 20))
	}
	if !regexp.MustCompile(`rows_lost=0 `).MatchString(log) {
		t.Errorf("the appliance lost rows:\n%s", tail(log, 10))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestLiveCaptureOnOff switches capture off and on through the admin API
// while HEP arrives: what arrives while off is drained and counted, not
// stored; everything else is stored.
func TestLiveCaptureOnOff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	srv := chtest.Start(t)
	hepPort := freePort(t, "udp")
	hep := fmt.Sprintf("127.0.0.1:%d", hepPort)
	p := startAppliance(t, "--hep_capture_on", "1", "--hep_listen", hep, "--db_url", srv.URL()+"/onoff",
		"--spool_dir", t.TempDir(), "--batch_age", "200ms")
	ctlRun := func(args ...string) string {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"ctl", "capture", "--admin", p.admin}, args...), &out, &errOut); err != nil {
			t.Fatalf("ctl %v: %v %s", args, err, errOut.String())
		}
		return strings.TrimSpace(out.String())
	}
	sendHEP(t, hep, ids("before", 200))
	p.waitMetric(t, "appliance_stored_total", 200)
	if got := ctlRun("off"); got != "capture off" {
		t.Fatalf("ctl off: %q", got)
	}
	sendHEP(t, hep, ids("during", 200))
	p.waitMetric(t, "appliance_capture_off_total", 200)
	if got := ctlRun("status"); got != "capture off" {
		t.Fatalf("status: %q", got)
	}
	ctlRun("on")
	sendHEP(t, hep, ids("after", 200))
	p.waitMetric(t, "appliance_stored_total", 400)
	p.stop(t, syscall.SIGTERM)
	got := query(t, srv, `SELECT splitByChar('-', callid)[1] AS phase, count(), uniqExact(callid) FROM onoff.sip_capture GROUP BY phase ORDER BY phase FORMAT TSV`)
	if got != "after\t200\t200\nbefore\t200\t200" {
		t.Errorf("stored by phase:\n%s", got)
	}
}

// TestLiveSIGTERMMidStream stops the appliance while frames are still
// arriving: every message it had stored is in ClickHouse, nothing is lost.
func TestLiveSIGTERMMidStream(t *testing.T) {
	requireRoot(t)
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	srv := chtest.Start(t)
	v := newVeth(t)
	file := writeTestCapture(t, 6000) // 12 000 frames
	p := startAppliance(t, "--raw_moni_capture_on", "1", "--raw_interface", v.Host, "--fanout", "2",
		"--db_url", srv.URL()+"/term", "--spool_dir", t.TempDir(), "--batch_rows", "500")
	replayDone := make(chan struct{})
	go func() {
		defer close(replayDone)
		// about 4 s of traffic at 3 000 frames/s
		exec.Command("ip", "netns", "exec", v.NS, "tcpreplay", "-q", "--pps", "3000", "-i", v.Peer, file).Run()
	}()
	p.waitMetric(t, "appliance_stored_total", 1000)
	log := p.stop(t, syscall.SIGTERM)
	<-replayDone
	m := regexp.MustCompile(`msg=stopped stored=(\d+) rows_inserted=(\d+) .*rows_lost=(\d+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no final line in the log:\n%s", tail(log, 20))
	}
	stored, _ := strconv.Atoi(m[1])
	inserted, _ := strconv.Atoi(m[2])
	rows, _ := strconv.Atoi(query(t, srv, `SELECT count() FROM term.sip_capture`))
	distinct, _ := strconv.Atoi(query(t, srv, `SELECT uniqExact(callid) FROM term.sip_capture`))
	if m[3] != "0" || stored != inserted || rows != stored || distinct != rows {
		t.Errorf("stored %d, inserted %d, rows %d (distinct %d), lost %s\n%s", stored, inserted, rows, distinct, m[3], tail(log, 10))
	}
	if stored >= 6000 {
		t.Logf("the replay finished before SIGTERM (stored %d): the stop was not mid-stream", stored)
	}
	t.Logf("SIGTERM after %d of 6000 messages: all %d in ClickHouse", stored, rows)
}

// TestConfigErrorsExit: a bad configuration stops the binary at once with a
// message naming the parameter, the value and what is allowed.
func TestConfigErrorsExit(t *testing.T) {
	bin := applianceBinary(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--raw_ipip_capture_on", "1", "--raw_moni_capture_on", "1"}, "raw_ipip_capture_on and raw_moni_capture_on"},
		{[]string{"--raw_sock_children", "-1", "--hep_capture_on", "1"}, `raw_sock_children = "-1": allowed: 1 to 1024`},
		{[]string{"--hep_capture_on", "1", "--filter", `method = "x"`}, "filter"},
		{nil, "nothing to capture"},
	} {
		cmd := exec.Command(bin, tc.args...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: err %v, output %q, want %q", tc.args, err, out, tc.want)
		}
	}
}

// TestLiveSIGHUPReload: SIGHUP re-reads the config file. A new filter and
// capture_on take effect; an invalid file keeps the running configuration
// and says so; a change that needs a restart is named.
func TestLiveSIGHUPReload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	srv := chtest.Start(t)
	hep := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	cfgFile := filepath.Join(t.TempDir(), "appliance.yaml")
	write := func(s string) {
		if err := os.WriteFile(cfgFile, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := fmt.Sprintf("hep_capture_on: 1\nhep_listen: %q\ndb_url: %q\nspool_dir: %q\nbatch_age: 200ms\n",
		hep, srv.URL()+"/hup", t.TempDir())
	write(base + "filter: 'callid startsWith \"keep\"'\n")
	p := startAppliance(t, "--config", cfgFile)
	sendHEP(t, hep, append(ids("keep-a", 50), ids("drop-a", 50)...))
	p.waitMetric(t, "appliance_filtered_total", 50)

	// a new filter and node: now the other half is kept, under the new name
	write(base + "filter: 'callid startsWith \"drop\"'\ncapture_node: hup2\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "config reloaded")
	sendHEP(t, hep, append(ids("keep-b", 50), ids("drop-b", 50)...))
	p.waitMetric(t, "appliance_filtered_total", 100)
	p.waitMetric(t, "appliance_stored_total", 100)

	// an invalid file: the running configuration stays
	write(base + "filter: 'callid ==='\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "config reload failed: keeping the running configuration")
	if v := p.metric(t, "appliance_config_last_reload_successful"); v != 0 {
		t.Errorf("last reload successful = %v after a bad file", v)
	}
	sendHEP(t, hep, ids("drop-c", 20))
	p.waitMetric(t, "appliance_stored_total", 120)

	// capture_on and a restart-only key
	write(base + "filter: 'callid startsWith \"drop\"'\ncapture_node: hup2\ncapture_on: 0\nmax_async_queries: 3\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "take effect after a restart")
	sendHEP(t, hep, ids("drop-d", 30))
	p.waitMetric(t, "appliance_capture_off_total", 30)
	p.waitMetric(t, "appliance_rows_inserted_total", 120)
	for _, m := range []string{"appliance_batch_rows_count", "appliance_insert_duration_seconds_count"} {
		if v := p.metric(t, m); v == 0 {
			t.Errorf("%s = 0 after inserts (%v)\n%s", m, p.metric(t, "appliance_rows_inserted_total"), tail(p.log.String(), 15))
		}
	}
	if v := p.metric(t, "appliance_oldest_unflushed_age_seconds"); v > 5 {
		t.Errorf("oldest unflushed message %v s old with nothing arriving", v)
	}
	log := p.stop(t, syscall.SIGTERM)
	if !strings.Contains(log, "max_async_queries") {
		t.Errorf("the restart-only change is not named:\n%s", tail(log, 10))
	}
	got := query(t, srv, `SELECT splitByChar('-', callid)[1] || '-' || splitByChar('-', callid)[2] AS g, node, count() FROM hup.sip_capture GROUP BY g, node ORDER BY g FORMAT TSV`)
	if got != "drop-b\thup2\t50\ndrop-c\thup2\t20\nkeep-a\thomer01\t50" {
		t.Errorf("stored groups:\n%s", got)
	}
}

// waitLog waits until the appliance's log holds s.
func waitLog(t *testing.T, p *proc, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.log.String(), s) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("log lacks %q after 20 s:\n%s", s, tail(p.log.String(), 20))
}

// TestLiveDropPrivileges: started as root with --user, the appliance opens
// its sockets, then runs as that user and still captures.
func TestLiveDropPrivileges(t *testing.T) {
	requireRoot(t)
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	srv := chtest.Start(t)
	v := newVeth(t)
	spool := t.TempDir()
	p := startAppliance(t, "--raw_moni_capture_on", "1", "--raw_interface", v.Host, "--user", "nobody",
		"--db_url", srv.URL()+"/priv", "--spool_dir", spool, "--batch_age", "200ms")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	uid := regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s+(\d+)`).FindSubmatch(status)
	if uid == nil || string(uid[1]) == "0" || string(uid[2]) == "0" {
		t.Fatalf("still root after --user nobody: %s", uid)
	}
	v.replay(t, []string{"--topspeed"}, writeTestCapture(t, 50))
	p.waitMetric(t, "appliance_stored_total", 50)
	p.stop(t, syscall.SIGTERM)
	if n := query(t, srv, `SELECT count() FROM priv.sip_capture`); n != "50" {
		t.Errorf("%s rows, want 50", n)
	}
}
