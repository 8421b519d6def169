package bench

// HEP ingest figure (issue 6): the highest HEP v3 rate over UDP at which
// every message reaches ClickHouse, as offered-rate steps. For each step a
// fresh appliance (the real binary, built here) listens for HEP on loopback
// and inserts into a private ClickHouse (sink/chtest); bench/gen sends
// rate × seconds messages, each step with its own capture id; the appliance
// is stopped with SIGTERM (it drains), and the rows are counted.
//
//	go test ./bench -run TestHEPIngest -hep-ingest -v -timeout 30m
//	go test ./bench -run TestHEPIngest -hep-ingest -hep-ingest-rates 90000 -hep-ingest-repeat 3 -v
//
// Off unless -hep-ingest is given, so `make test` does not run it. Needs
// clickhouse-server (installed by chtest when root) and the go tool.

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sipcap/appliance/bench/gen"
	"github.com/sipcap/appliance/sink/chtest"
)

var (
	hepIngest        = flag.Bool("hep-ingest", false, "Run TestHEPIngest (builds the appliance, starts ClickHouse, sends HEP at each rate step).")
	hepIngestRates   = flag.String("hep-ingest-rates", "10000,30000,60000,90000,120000,200000", "HEP offered-rate steps in messages per second, comma-separated.")
	hepIngestSeconds = flag.Float64("hep-ingest-seconds", 5, "Seconds each step sends for.")
	hepIngestRepeat  = flag.Int("hep-ingest-repeat", 1, "Times each step is run.")
	hepIngestSockets = flag.Int("hep-ingest-sockets", 4, "Sending sockets (source ports), like that many agents.")
	hepIngestBin     = flag.String("hep-ingest-bin", "", "Appliance binary to run; empty builds ./cmd/appliance.")
	hepIngestArgs    = flag.String("hep-ingest-args", "", "Extra appliance flags, space-separated (e.g. \"--batch_rows 100000\").")
)

// appliance is one running appliance process.
type appliance struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	admin string
	ready chan struct{}
	done  chan struct{}
}

func startAppliance(t *testing.T, bin string, args []string) *appliance {
	t.Helper()
	a := &appliance{cmd: exec.Command(bin, args...), ready: make(chan struct{}), done: make(chan struct{})}
	pr, pw := io.Pipe()
	a.cmd.Stdout, a.cmd.Stderr = pw, pw
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("start appliance: %v", err)
	}
	go func() {
		a.cmd.Wait()
		pw.Close()
	}()
	go func() {
		defer close(a.done)
		var listening, chReady bool
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var rec map[string]any
			json.Unmarshal([]byte(line), &rec)
			a.mu.Lock()
			a.lines = append(a.lines, line)
			switch rec["msg"] {
			case "admin API listening":
				a.admin, _ = rec["addr"].(string)
			case "HEP listening":
				listening = true
			case "ClickHouse ready":
				chReady = true
			}
			if listening && chReady && a.ready != nil {
				close(a.ready)
				a.ready = nil
			}
			a.mu.Unlock()
		}
		io.Copy(io.Discard, pr)
	}()
	a.mu.Lock()
	ready := a.ready
	a.mu.Unlock()
	select {
	case <-ready:
	case <-a.done:
		t.Fatalf("appliance exited at start:\n%s", a.log())
	case <-time.After(60 * time.Second):
		a.cmd.Process.Kill()
		t.Fatalf("appliance not ready after 60s:\n%s", a.log())
	}
	return a
}

func (a *appliance) log() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.lines, "\n")
}

// metrics returns the sums of the appliance_* counters, by name without
// labels.
func (a *appliance) metrics() map[string]float64 {
	out := map[string]float64{}
	if a.admin == "" {
		return out
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + a.admin + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "appliance_") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		if f := strings.Fields(rest); len(f) > 0 {
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			out[name] += v
		}
	}
	return out
}

// stop sends SIGTERM and waits for the appliance to drain and exit.
func (a *appliance) stop(t *testing.T) time.Duration {
	t0 := time.Now()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(3 * time.Minute):
		a.cmd.Process.Kill()
		<-a.done
		t.Errorf("appliance did not stop within 3 min of SIGTERM")
	}
	return time.Since(t0)
}

// udpDrops reads the kernel's drop counter of the UDP sockets bound to
// 127.0.0.1:port (/proc/net/udp, last column).
func udpDrops(port int) int64 {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return -1
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	var sum int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 12 && f[1] == want {
			v, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			sum += v
		}
	}
	return sum
}

func freeUDPPort(t *testing.T) int {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// freeTCPPort picks a free loopback TCP port (the appliance refuses
// --admin 127.0.0.1:0).
func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// procCPU is the user+system CPU time of process pid (/proc/PID/stat).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100 // USER_HZ
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clickhousePID finds the clickhouse-server whose config lives in dir.
func clickhousePID(dir string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmd), filepath.Join(dir, "config.xml")) {
			return pid
		}
	}
	return 0
}

type ingestStep struct {
	cpuApp, cpuCH, cpuSend     time.Duration
	rate                       int
	sent, calls                int
	sendRate                   float64
	rows, distinct             int64
	kernelDrops, procDrops     int64
	received, stored, inserted float64
	lost, insertErrs, spooled  float64
	drain                      time.Duration
}

func TestHEPIngest(t *testing.T) {
	if !*hepIngest {
		t.Skip("skipping: HEP ingest benchmark runs only with -hep-ingest")
	}
	var rates []int
	for _, f := range regexp.MustCompile(`\d+`).FindAllString(*hepIngestRates, -1) {
		v, _ := strconv.Atoi(f)
		if v <= 0 || v > 2_000_000 {
			t.Fatalf("rate %d: allowed 1 to 2000000", v)
		}
		rates = append(rates, v)
	}
	secs := *hepIngestSeconds
	if secs <= 0 || secs > 60 {
		t.Fatalf("-hep-ingest-seconds %g: allowed 0 to 60", secs)
	}
	bin := *hepIngestBin
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "appliance")
		build := exec.Command("go", "build", "-o", bin, "./cmd/appliance")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/appliance: %v\n%s", err, out)
		}
	}
	srv := chtest.Start(t)
	srv.Query(t, "CREATE DATABASE IF NOT EXISTS bench")
	dbURL := fmt.Sprintf("http://127.0.0.1:%d/bench", srv.HTTPPort)

	var steps []ingestStep
	capID := uint32(1000)
	for _, rate := range rates {
		for rep := 0; rep < *hepIngestRepeat; rep++ {
			capID++
			port := freeUDPPort(t)
			args := []string{"--hep_capture_on", "1", "--hep_listen", "127.0.0.1:" + strconv.Itoa(port),
				"--db_url", dbURL, "--admin", "127.0.0.1:" + strconv.Itoa(freeTCPPort(t)), "--raw_sock_children", "1",
				"--spool_dir", t.TempDir(), "--log_format", "json"}
			if *hepIngestArgs != "" {
				args = append(args, strings.Fields(*hepIngestArgs)...)
			}
			a := startAppliance(t, bin, args)
			chPID := clickhousePID(srv.Dir)
			ch0, self0 := procCPU(chPID), selfCPU()
			count := int(float64(rate) * secs)
			res, err := gen.SendHEP(context.Background(), &gen.HEPConfig{
				Addr:       "127.0.0.1:" + strconv.Itoa(port),
				HEPOptions: gen.HEPOptions{CaptureID: capID, Node: "ingest"},
				SendConfig: gen.SendConfig{Rate: rate, Count: count, Duration: time.Duration(secs * 1.5 * float64(time.Second))},
				Seed:       uint64(capID),
				Sockets:    *hepIngestSockets,
			})
			if err != nil {
				a.stop(t)
				t.Fatalf("send: %v", err)
			}
			// Let the listener empty its socket before reading the drop
			// counters (the socket closes on SIGTERM).
			m := a.metrics()
			for i := 0; i < 50 && m["appliance_hep_received_total"]+float64(udpDrops(port)) < float64(res.Sent); i++ {
				time.Sleep(100 * time.Millisecond)
				m = a.metrics()
			}
			st := ingestStep{rate: rate, sent: res.Sent, calls: res.Calls, sendRate: res.PPS(), procDrops: udpDrops(port),
				received: m["appliance_hep_received_total"], kernelDrops: int64(m["appliance_hep_kernel_drops_total"])}
			st.cpuSend = selfCPU() - self0
			st.drain = a.stop(t)
			st.cpuApp = a.cmd.ProcessState.UserTime() + a.cmd.ProcessState.SystemTime()
			st.cpuCH = procCPU(chPID) - ch0
			logText := a.log()
			var stopped map[string]any
			for _, line := range strings.Split(logText, "\n") {
				if strings.Contains(line, `"msg":"stopped"`) {
					json.Unmarshal([]byte(line), &stopped)
				}
			}
			num := func(k string) float64 { v, _ := stopped[k].(float64); return v }
			st.stored, st.inserted, st.lost, st.spooled = num("stored"), num("rows_inserted"), num("rows_lost"), num("spooled")
			st.insertErrs = m["appliance_insert_errors_total"]
			out := srv.Query(t, fmt.Sprintf("SELECT count(), uniqExact(callid) FROM bench.sip_capture WHERE capture_id = %d FORMAT TSV", capID))
			fmt.Sscanf(out, "%d\t%d", &st.rows, &st.distinct)
			// Each step starts on an empty table: merges of earlier steps'
			// parts would otherwise run during the next one.
			srv.Query(t, "TRUNCATE TABLE bench.sip_capture")
			if st.lost > 0 || int64(st.sent) != st.rows || res.Failed > 0 {
				var warn []string
				for _, line := range strings.Split(logText, "\n") {
					if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
						warn = append(warn, line)
					}
				}
				t.Logf("rate %d: %d sends refused; appliance warnings and errors:\n%s", rate, res.Failed, strings.Join(warn, "\n"))
			}
			if stopped == nil {
				t.Errorf("rate %d: no 'stopped' line in the appliance log:\n%s", rate, logText)
			}
			t.Logf("rate %d: sent %d (%.0f/s), received %.0f, socket drops %d (metrics %d), stored %.0f, inserted %.0f, rows %d, distinct Call-IDs %d of %d, lost %.0f, insert errors %.0f, spooled %.0f, drain %s; CPU s: appliance %.2f, clickhouse %.2f, sender %.2f",
				rate, st.sent, st.sendRate, st.received, st.procDrops, st.kernelDrops, st.stored, st.inserted,
				st.rows, st.distinct, st.calls, st.lost, st.insertErrs, st.spooled, st.drain.Round(time.Millisecond),
				st.cpuApp.Seconds(), st.cpuCH.Seconds(), st.cpuSend.Seconds())
			steps = append(steps, st)
		}
	}
	var b strings.Builder
	b.WriteString("| offered msg/s | sent | sent/s | rows in ClickHouse | missing | distinct Call-IDs (sent) | socket drops | insert errors | rows lost | drain after SIGTERM | CPU s appliance / clickhouse / sender |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range steps {
		fmt.Fprintf(&b, "| %d | %d | %.0f | %d | %d | %d (%d) | %d | %.0f | %.0f | %s | %.2f / %.2f / %.2f |\n", s.rate, s.sent, s.sendRate,
			s.rows, int64(s.sent)-s.rows, s.distinct, s.calls, s.procDrops, s.insertErrs, s.lost, s.drain.Round(time.Millisecond),
			s.cpuApp.Seconds(), s.cpuCH.Seconds(), s.cpuSend.Seconds())
	}
	t.Logf("\n%s", b.String())
}
