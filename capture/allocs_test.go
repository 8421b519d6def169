//go:build !race

package capture

import (
	"testing"
	"time"

	"github.com/sipcap/appliance/decode"
)

func TestFilterAllocs(t *testing.T) {
	msgs := testMessages()
	for _, src := range filterCases {
		f, err := CompileFilter(src)
		if err != nil {
			t.Fatal(err)
		}
		n := testing.AllocsPerRun(100, func() {
			for i := range msgs {
				f.Match(&msgs[i].m, &msgs[i].s, nil)
			}
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", src, n)
		}
	}
}

func TestDedupAllocs(t *testing.T) {
	msgs := testMessages()
	d := NewDedup(DedupConfig{Window: time.Second, ByCaptureID: true})
	n := testing.AllocsPerRun(100, func() {
		for i := range msgs {
			d.Seen(&msgs[i].m, &msgs[i].s)
		}
	})
	if n != 0 {
		t.Errorf("Dedup.Seen: %v allocations per run, want 0", n)
	}
}

type discard struct{ n int }

func (d *discard) Append(m *decode.Meta, s *decode.SIP) { d.n += len(s.Msg) }

// TestWorkerAllocs: a frame through the frame path, the store filter, dedup
// and the output allocates nothing.
func TestWorkerAllocs(t *testing.T) {
	f, err := CompileFilter(`method != "OPTIONS" && !(status >= 100 && status < 200)`)
	if err != nil {
		t.Fatal(err)
	}
	out := &discard{}
	w, err := NewWorker(WorkerConfig{Dedup: DedupConfig{Window: time.Second}, StoreMalformed: true}, NewControl(true, f), out)
	if err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{
		udpFrame(t, sipText("INVITE sip:bob@example.com SIP/2.0", "a1", "1 INVITE"), 5060),
		udpFrame(t, sipText("SIP/2.0 180 Ringing", "a1", "1 INVITE"), 5060),
		udpFrame(t, hep3(sipText("BYE sip:bob@example.com SIP/2.0", "a1", "2 BYE"), "agent", 1), 9060),
	}
	hep := hep3(sipText("ACK sip:bob@example.com SIP/2.0", "a1", "1 ACK"), "agent", 1)
	ts := int64(1)
	n := testing.AllocsPerRun(200, func() {
		w.BeginBlock()
		for _, fr := range frames {
			ts += 10
			w.Frame(fr, decode.LinkEthernet, ts, 0)
		}
		w.HEP(hep, ts)
	})
	if n != 0 {
		t.Errorf("worker: %v allocations per block, want 0", n)
	}
	if out.n == 0 {
		t.Error("nothing reached the output")
	}
}
