package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sipcap/appliance/capture"
)

// admin serves the control API: the sip_capture MI command as
// GET/POST /api/v1/capture, plus /metrics, /healthz and /readyz.
type admin struct {
	ctl   *capture.Control
	token string
	reg   *prometheus.Registry
	ready func() bool
	log   *slog.Logger
	srv   *http.Server
	ln    net.Listener
}

// captureState is the body of /api/v1/capture in both directions.
type captureState struct {
	CaptureOn bool `json:"capture_on"`
}

func (a *admin) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/capture", a.capture)
	mux.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if a.ready != nil && !a.ready() {
			http.Error(w, "not ready: ClickHouse has not answered yet or the capture sources are not open", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}

func (a *admin) capture(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost, http.MethodPut:
		if a.token != "" {
			got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
				http.Error(w, "a bearer token is required to change capture", http.StatusUnauthorized)
				return
			}
		}
		var st captureState
		body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
		if err != nil || json.Unmarshal(body, &st) != nil {
			http.Error(w, `body must be {"capture_on": true|false}`, http.StatusBadRequest)
			return
		}
		prev := a.ctl.CaptureOn()
		a.ctl.SetCapture(st.CaptureOn)
		if prev != st.CaptureOn && a.log != nil {
			a.log.Info("capture switched", "capture_on", st.CaptureOn, "by", r.RemoteAddr)
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(captureState{CaptureOn: a.ctl.CaptureOn()})
}

// start listens on addr and serves until Close.
func (a *admin) start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen admin %s: %w", addr, err)
	}
	a.ln = ln
	a.srv = &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second}
	go a.srv.Serve(ln)
	return nil
}

// Addr is the address the admin API listens on.
func (a *admin) Addr() string { return a.ln.Addr().String() }

func (a *admin) close(ctx context.Context) error {
	if a.srv == nil {
		return nil
	}
	return a.srv.Shutdown(ctx)
}

// runCtl is `appliance ctl capture on|off|status`: the sipcapture module's
// MI command, over the admin API.
func runCtl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("admin", "127.0.0.1:9096", "Address of the appliance's admin API.")
	token := fs.String("token", "", "Bearer token, when the appliance requires one (admin_token).")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: appliance ctl capture on|off|status [--admin ADDR] [--token T]")
		fs.PrintDefaults()
	}
	// flags may come before or after the words
	var words []string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return errUsage
		}
		rest = fs.Args()
		if len(rest) > 0 {
			words = append(words, rest[0])
			rest = rest[1:]
		}
	}
	if len(words) == 0 || words[0] != "capture" || len(words) > 2 {
		fs.Usage()
		return errUsage
	}
	action := "status"
	if len(words) == 2 {
		action = words[1]
	}
	url := "http://" + *addr + "/api/v1/capture"
	var req *http.Request
	var err error
	switch action {
	case "status":
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	case "on", "off":
		body := fmt.Sprintf(`{"capture_on": %v}`, action == "on")
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			if *token != "" {
				req.Header.Set("Authorization", "Bearer "+*token)
			}
		}
	default:
		fs.Usage()
		return errUsage
	}
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reach the appliance at %s: %w", *addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("capture %s: %s: %s", action, resp.Status, strings.TrimSpace(string(body)))
	}
	var st captureState
	if err := json.Unmarshal(body, &st); err != nil {
		return errors.New("capture: the admin API answered something that is not a capture state")
	}
	state := "off"
	if st.CaptureOn {
		state = "on"
	}
	fmt.Fprintf(stdout, "capture %s\n", state)
	return nil
}
