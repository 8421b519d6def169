package chtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is one running clickhouse-server process owned by a test.
type Server struct {
	// Dir is the server's data folder (a t.TempDir).
	Dir string
	// HTTPPort and TCPPort are the loopback ports it listens on.
	HTTPPort, TCPPort int

	bin  string
	conf string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	installOnce sync.Once
	installErr  error
)

// findServer returns the clickhouse-server binary, installing the Debian
// package when it is missing and we are root.
func findServer() (string, error) {
	look := func() string {
		for _, p := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
			if path, err := exec.LookPath(p); err == nil {
				return path
			}
		}
		return ""
	}
	if p := look(); p != "" {
		return p, nil
	}
	installOnce.Do(func() {
		if os.Geteuid() != 0 {
			installErr = fmt.Errorf("clickhouse-server is not installed and the test is not root (run make deps)")
			return
		}
		cmd := exec.Command("sh", "-c", "apt-get update -qq && apt-get install -y -qq clickhouse-server clickhouse-client")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = fmt.Errorf("apt-get install clickhouse-server: %v: %s", err, lastLines(out))
		}
	})
	if installErr != nil {
		return "", installErr
	}
	if p := look(); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("clickhouse-server not found after installing it")
}

func lastLines(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 800 {
		s = s[len(s)-800:]
	}
	return s
}

// freePorts returns n distinct free TCP ports on loopback.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

const configTmpl = `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/log/server.log</log>
    <errorlog>%[1]s/log/server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>%[2]d</http_port>
  <tcp_port>%[3]d</tcp_port>
  <interserver_http_port>%[4]d</interserver_http_port>
  <max_connections>256</max_connections>
  <keep_alive_timeout>30</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <query_log>
    <database>system</database>
    <table>query_log</table>
    <partition_by>toYYYYMM(event_date)</partition_by>
    <flush_interval_milliseconds>500</flush_interval_milliseconds>
  </query_log>
</yandex>
`

// Start starts a new server for t and stops it in t.Cleanup. It skips t when
// no server can be found or installed.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartDir(t.TempDir())
	if err != nil {
		if strings.Contains(err.Error(), "not installed") || strings.Contains(err.Error(), "not found") {
			t.Skipf("chtest: %v", err)
		}
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// StartDir starts a server with its data in dir; the caller must Close it.
// It is for TestMain, where there is no testing.TB. An error whose text says
// "not installed" or "not found" means the tests should skip.
func StartDir(dir string) (*Server, error) {
	bin, err := findServer()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, fmt.Errorf("pick ports: %w", err)
	}
	s := &Server{Dir: dir, HTTPPort: ports[0], TCPPort: ports[1], bin: bin}
	for _, d := range []string{"log", "data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	users, err := os.ReadFile("/etc/clickhouse-server/users.xml")
	if err != nil {
		users = []byte(defaultUsers)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), users, 0o644); err != nil {
		return nil, err
	}
	s.conf = filepath.Join(dir, "config.xml")
	conf := fmt.Sprintf(configTmpl, dir, ports[0], ports[1], ports[2])
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

const defaultUsers = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`

func (s *Server) start() error {
	cmd := exec.Command(s.bin, "--config-file="+s.conf)
	cmd.Dir = s.Dir
	logf, err := os.OpenFile(filepath.Join(s.Dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group, and die with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "log", "server.err.log"))
			out, _ := os.ReadFile(filepath.Join(s.Dir, "log", "stdout.log"))
			return fmt.Errorf("clickhouse-server exited at start: %s %s", lastLines(log), lastLines(out))
		default:
		}
		if s.ping() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Kill()
	return fmt.Errorf("clickhouse-server on port %d not ready after 60s", s.HTTPPort)
}

func (s *Server) ping() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(s.URL() + "/ping")
	if err != nil {
		return false
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode == 200 && bytes.HasPrefix(b, []byte("Ok."))
}

// URL is the server's HTTP address, "http://127.0.0.1:PORT" (no trailing slash).
func (s *Server) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.HTTPPort) }

// Kill sends SIGKILL and waits for the process to exit.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGCONT)
	cmd.Process.Kill()
	<-done
}

// Stop pauses the server with SIGSTOP.
func (s *Server) Stop() { s.signal(syscall.SIGSTOP) }

// Cont resumes a paused server with SIGCONT.
func (s *Server) Cont() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Signal(sig)
	}
}

// Restart starts the server again on the same data folder and ports after a
// Kill (or kills it first).
func (s *Server) Restart() error {
	s.Kill()
	var err error
	for i := 0; i < 3; i++ { // the old listener may linger for a moment
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return err
}

// Close stops the server (SIGTERM, then SIGKILL after 10 s).
func (s *Server) Close() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGCONT)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Exec runs one SQL statement over HTTP and returns the response body.
// settings are name, value pairs sent as URL parameters (query_id,
// log_queries, …).
func (s *Server) Exec(ctx context.Context, sql string, settings ...string) (string, error) {
	v := url.Values{"query": {sql}}
	for i := 0; i+1 < len(settings); i += 2 {
		v.Set(settings[i], settings[i+1])
	}
	u := s.URL() + "/?" + v.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("clickhouse %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// Query runs sql and returns the body with the trailing newline removed;
// it fails t on error.
func (s *Server) Query(t testing.TB, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := s.Exec(ctx, sql)
	if err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return strings.TrimRight(out, "\n")
}

var (
	sharedMu  sync.Mutex
	sharedSrv *Server
	sharedErr error
	sharedDir string
)

// Shared returns a server shared by every test of the package that calls it,
// started on first use. The package's TestMain must call CloseShared after
// m.Run. Tests using it must not kill or pause it.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedSrv == nil && sharedErr == nil {
		sharedDir, sharedErr = os.MkdirTemp("", "chtest-")
		if sharedErr == nil {
			sharedSrv, sharedErr = StartDir(sharedDir)
		}
	}
	if sharedErr != nil {
		if strings.Contains(sharedErr.Error(), "not installed") || strings.Contains(sharedErr.Error(), "not found") {
			t.Skipf("chtest: %v", sharedErr)
		}
		t.Fatalf("chtest: %v", sharedErr)
	}
	return sharedSrv
}

// CloseShared stops the shared server, if one was started, and removes its folder.
func CloseShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedSrv != nil {
		sharedSrv.Close()
		sharedSrv = nil
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
		sharedDir = ""
	}
}
