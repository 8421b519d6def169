//go:build !race

package capture

import "testing"

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
