package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipcap/appliance/capture"
)

func startAdmin(t *testing.T, token string, ready func() bool) (*admin, *capture.Control) {
	t.Helper()
	ctl := capture.NewControl(true, nil)
	a := &admin{ctl: ctl, token: token, reg: prometheus.NewRegistry(), ready: ready}
	a.reg.MustRegister(capture.NewCollector())
	if err := a.start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.close(context.Background()) })
	return a, ctl
}

func ctl(t *testing.T, a *admin, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"ctl"}, append(args, "--admin", a.Addr())...), &out, &errOut)
	return strings.TrimSpace(out.String()), err
}

func TestCtlCapture(t *testing.T) {
	a, c := startAdmin(t, "", nil)
	if out, err := ctl(t, a, "capture"); err != nil || out != "capture on" {
		t.Fatalf("status: %q %v", out, err)
	}
	if out, err := ctl(t, a, "capture", "off"); err != nil || out != "capture off" || c.CaptureOn() {
		t.Fatalf("off: %q %v, control says %v", out, err, c.CaptureOn())
	}
	if out, err := ctl(t, a, "capture", "status"); err != nil || out != "capture off" {
		t.Fatalf("status after off: %q %v", out, err)
	}
	if out, err := ctl(t, a, "capture", "on"); err != nil || out != "capture on" || !c.CaptureOn() {
		t.Fatalf("on: %q %v", out, err)
	}
	if _, err := ctl(t, a, "capture", "maybe"); err == nil {
		t.Error("capture maybe: want a usage error")
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"ctl", "capture", "--admin", "127.0.0.1:1"}, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "reach the appliance at 127.0.0.1:1") {
		t.Errorf("unreachable: %v", err)
	}
}

func TestAdminToken(t *testing.T) {
	a, c := startAdmin(t, "s3cret", nil)
	if _, err := ctl(t, a, "capture", "off"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without the token: %v", err)
	}
	if !c.CaptureOn() {
		t.Fatal("capture changed without the token")
	}
	if out, err := ctl(t, a, "capture", "off", "--token", "s3cret"); err != nil || out != "capture off" {
		t.Fatalf("with the token: %q %v", out, err)
	}
	if out, err := ctl(t, a, "capture"); err != nil || out != "capture off" {
		t.Fatalf("status needs no token: %q %v", out, err)
	}
}

func TestAdminEndpoints(t *testing.T) {
	ready := false
	a, _ := startAdmin(t, "", func() bool { return ready })
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + a.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "ClickHouse") {
		t.Errorf("/readyz before ClickHouse answered: %d %q", code, body)
	}
	ready = true
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "appliance_sip_replies_total") {
		t.Errorf("/metrics: %d", code)
	}
	resp, err := http.Post("http://"+a.Addr()+"/api/v1/capture", "application/json", strings.NewReader("nonsense"))
	if err != nil || resp.StatusCode != 400 {
		t.Errorf("bad body: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodDelete, "http://"+a.Addr()+"/api/v1/capture", nil)
	resp, _ = http.DefaultClient.Do(req)
	if resp.StatusCode != 405 {
		t.Errorf("DELETE: %d", resp.StatusCode)
	}
	resp.Body.Close()
}
