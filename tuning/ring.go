package tuning

import "time"

// CPUPlan assigns one CPU to each of workers capture workers from allowed
// (the CPUs the process may use, in order). When there are more allowed CPUs
// than workers, the first allowed CPU is left free for the kernel's softirq
// work, the sink and the runtime; otherwise workers wrap around the allowed
// CPUs. It returns nil when workers <= 0 or allowed is empty.
func CPUPlan(workers int, allowed []int) []int {
	if workers <= 0 || len(allowed) == 0 {
		return nil
	}
	start := 0
	if len(allowed) > workers {
		start = 1
	}
	plan := make([]int, workers)
	for i := range plan {
		plan[i] = allowed[(start+i)%len(allowed)]
	}
	return plan
}

// RingGeometry returns a TPACKET_V3 block size and block count for one worker
// that absorb a consumer stall of stall at pps frames/s of frameBytes each.
// Blocks are blockSize bytes (a power of two from 128 KiB to 4 MiB, sized to
// hold about retire worth of frames so the block fills before the retire
// timeout at that rate); the count is at least 8 and at most 4096.
func RingGeometry(pps, frameBytes int, stall, retire time.Duration) (blockSize, blockCount int) {
	const minBlock, maxBlock = 128 << 10, 4 << 20
	if pps <= 0 {
		pps = 1
	}
	if frameBytes <= 0 {
		frameBytes = 1518
	}
	// frames are packed with a 48-byte tpacket3_hdr + sockaddr_ll, 16-aligned
	per := (frameBytes + 48 + 20 + 15) &^ 15
	want := float64(pps) * retire.Seconds() * float64(per)
	blockSize = minBlock
	for blockSize < maxBlock && float64(blockSize) < want {
		blockSize <<= 1
	}
	total := float64(pps) * stall.Seconds() * float64(per)
	blockCount = int(total/float64(blockSize)) + 1
	blockCount = max(8, min(blockCount, 4096))
	return blockSize, blockCount
}
