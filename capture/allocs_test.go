//go:build !race

package capture

import (
	"testing"
	"time"
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
