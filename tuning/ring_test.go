package tuning

import (
	"slices"
	"testing"
	"time"
)

func TestCPUPlan(t *testing.T) {
	f := func(workers int, allowed, want []int) {
		t.Helper()
		if got := CPUPlan(workers, allowed); !slices.Equal(got, want) {
			t.Errorf("CPUPlan(%d, %v) = %v, want %v", workers, allowed, got, want)
		}
	}
	f(0, []int{0, 1}, nil)
	f(2, nil, nil)
	f(1, []int{0}, []int{0})
	f(1, []int{0, 1}, []int{1})             // CPU 0 left free
	f(2, []int{0, 1}, []int{0, 1})          // not enough CPUs to spare one
	f(3, []int{0, 1}, []int{0, 1, 0})       // wrap around
	f(3, []int{0, 1, 2, 3}, []int{1, 2, 3}) // one per worker, 0 free
	f(2, []int{4, 6, 8}, []int{6, 8})       // uses the allowed list, not 0..n
	f(4, []int{2, 3, 4, 5}, []int{2, 3, 4, 5})
}

func TestRingGeometry(t *testing.T) {
	f := func(pps, frame int, stall time.Duration, wantSize, wantCount int) {
		t.Helper()
		size, count := RingGeometry(pps, frame, stall, 10*time.Millisecond)
		if size != wantSize || count != wantCount {
			t.Errorf("RingGeometry(%d, %d, %v) = %d x %d, want %d x %d", pps, frame, stall, size, count, wantSize, wantCount)
		}
		if size%4096 != 0 || size&(size-1) != 0 {
			t.Errorf("block size %d not a power-of-two multiple of the page", size)
		}
	}
	// 190 kpps of 850-byte frames: 928 B per packed frame, 1.76 MB per 10 ms
	// -> 2 MiB blocks; 1 s of stall = 176 MB -> 85 blocks.
	f(190_000, 850, time.Second, 2<<20, 85)
	// Idle link: smallest blocks, at least 8 of them.
	f(10, 850, time.Second, 128<<10, 8)
	// Huge rate: block size capped at 4 MiB, count capped at 4096.
	f(100_000_000, 1500, 10*time.Second, 4<<20, 4096)
	// Zero or negative inputs fall back to sane values.
	f(0, 0, 0, 128<<10, 8)
}
