package capture

import (
	"fmt"
	"testing"
	"time"

	"github.com/sipcap/appliance/decode"
)

func TestDedup(t *testing.T) {
	t.Parallel()
	if NewDedup(DedupConfig{}) != nil {
		t.Fatal("a zero window must turn dedup off")
	}
	var none *Dedup
	if none.Seen(&decode.Meta{}, &decode.SIP{}) {
		t.Fatal("a nil Dedup must see nothing")
	}
	d := NewDedup(DedupConfig{Window: 2 * time.Second})
	msg := func(body string, ts int64, cid uint32) (*decode.Meta, *decode.SIP) {
		return &decode.Meta{TS: ts, CaptureID: cid}, &decode.SIP{Msg: []byte(body)}
	}
	steps := []struct {
		body string
		ts   int64
		cid  uint32
		seen bool
	}{
		{"INVITE 1", 1_000_000, 1, false},
		{"INVITE 1", 1_500_000, 2, true},  // same message, another agent: key ignores capture id
		{"INVITE 2", 1_600_000, 1, false}, // another message
		{"INVITE 1", 3_000_001, 1, false}, // window passed since the first sighting
		{"INVITE 1", 3_100_000, 1, true},
	}
	for i, s := range steps {
		m, x := msg(s.body, s.ts, s.cid)
		if got := d.Seen(m, x); got != s.seen {
			t.Errorf("step %d: Seen = %v, want %v", i, got, s.seen)
		}
	}
	if d.Dropped != 2 {
		t.Errorf("Dropped = %d, want 2", d.Dropped)
	}

	byCID := NewDedup(DedupConfig{Window: time.Second, ByCaptureID: true})
	m1, x1 := msg("OPTIONS", 10, 1)
	m2, x2 := msg("OPTIONS", 11, 2)
	m3, x3 := msg("OPTIONS", 12, 2)
	if byCID.Seen(m1, x1) || byCID.Seen(m2, x2) || !byCID.Seen(m3, x3) {
		t.Error("with ByCaptureID the same message from two agents is kept once per agent")
	}
}

// TestDedupBounded fills a small table far beyond its size: memory stays fixed,
// evictions are counted, and no fresh message is ever reported as seen.
func TestDedupBounded(t *testing.T) {
	t.Parallel()
	d := NewDedup(DedupConfig{Window: time.Hour, Slots: 64})
	for i := range 10_000 {
		m := &decode.Meta{TS: int64(i)}
		s := &decode.SIP{Msg: fmt.Appendf(nil, "MESSAGE %d", i)}
		if d.Seen(m, s) {
			t.Fatalf("message %d reported as a duplicate", i)
		}
	}
	if len(d.hash) != 64 || d.Evicted == 0 {
		t.Errorf("table size %d, evicted %d: want 64 slots and counted evictions", len(d.hash), d.Evicted)
	}
}
