package capture

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sipcap/appliance/decode"
)

func TestCollector(t *testing.T) {
	f, _ := CompileFilter(`method != "OPTIONS"`)
	w, _ := newTestWorker(t, WorkerConfig{StoreMalformed: true}, NewControl(true, f))
	w.BeginBlock()
	w.Frame(udpFrame(t, sipText("INVITE sip:b@example.com SIP/2.0", "m1", "1 INVITE"), 5060), decode.LinkEthernet, 1, 0)
	w.Frame(udpFrame(t, sipText("SIP/2.0 486 Busy Here", "m1", "1 INVITE"), 5060), decode.LinkEthernet, 2, 0)
	w.Frame(udpFrame(t, sipText("OPTIONS sip:b@example.com SIP/2.0", "m2", "1 OPTIONS"), 5060), decode.LinkEthernet, 3, 0)
	w.Frame([]byte{1, 2, 3}, decode.LinkEthernet, 4, 0) // truncated Ethernet
	w.Publish()

	c := NewCollector()
	c.Add("ring0", w)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	want := `
# HELP appliance_filtered_total SIP messages the store filter rejected (intentional).
# TYPE appliance_filtered_total counter
appliance_filtered_total{source="ring0"} 1
# HELP appliance_frames_total Frames handed to the frame path.
# TYPE appliance_frames_total counter
appliance_frames_total{source="ring0"} 4
# HELP appliance_stored_total SIP messages handed to the sink.
# TYPE appliance_stored_total counter
appliance_stored_total{source="ring0"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "appliance_filtered_total", "appliance_frames_total", "appliance_stored_total"); err != nil {
		t.Error(err)
	}
	n, err := testutil.GatherAndCount(reg, "appliance_decode_errors_total")
	if err != nil || n != 1 {
		t.Errorf("decode error series: %d %v", n, err)
	}
	want = `
# HELP appliance_sip_replies_total SIP replies stored, by status class.
# TYPE appliance_sip_replies_total counter
appliance_sip_replies_total{status_class="1xx"} 0
appliance_sip_replies_total{status_class="2xx"} 0
appliance_sip_replies_total{status_class="3xx"} 0
appliance_sip_replies_total{status_class="4xx"} 1
appliance_sip_replies_total{status_class="5xx"} 0
appliance_sip_replies_total{status_class="6xx"} 0
appliance_sip_replies_total{status_class="other"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "appliance_sip_replies_total"); err != nil {
		t.Error(err)
	}
	if v := testutil.ToFloat64(requestsOf(t, reg, "INVITE")); v != 1 {
		t.Errorf("INVITE requests %v, want 1", v)
	}
}

// requestsOf returns the appliance_sip_requests_total series of one method.
func requestsOf(t *testing.T, reg *prometheus.Registry, method string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "appliance_sip_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == method {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	t.Fatalf("no series for %s", method)
	return nil
}
