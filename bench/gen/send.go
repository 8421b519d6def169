package gen

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds of every send.
const (
	// MaxCount is the most packets one send may be asked for.
	MaxCount = 100_000_000
	// MaxDuration is the longest one send may be asked to run.
	MaxDuration = 10 * time.Minute
	// DefaultBatch is the number of packets per sendmmsg call.
	DefaultBatch = 64
)

// SendConfig bounds and paces a send. Count and Duration are both required:
// the send stops at whichever comes first.
type SendConfig struct {
	// Rate is the offered rate in packets per second; 0 sends as fast as
	// the socket takes them.
	Rate int
	// Count is the number of packets to send, 1 to MaxCount.
	Count int
	// Duration bounds the send in time, up to MaxDuration.
	Duration time.Duration
	// Batch is the number of packets per sendmmsg call (default 64, at most
	// 1024); at a given Rate packets leave in bursts of at most Batch.
	Batch int
	// Pin locks the sending goroutine to its thread and the thread to CPU,
	// so that a benchmark can keep the sender off the capturer's core.
	Pin bool
	CPU int
}

// Validate checks c.
func (c *SendConfig) Validate() error {
	switch {
	case c.Rate < 0:
		return fmt.Errorf("rate %d must not be negative", c.Rate)
	case c.Count <= 0 || c.Count > MaxCount:
		return fmt.Errorf("count %d must be between 1 and %d", c.Count, MaxCount)
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return fmt.Errorf("duration %s must be between 0 and %s", c.Duration, MaxDuration)
	case c.Batch < 0 || c.Batch > 1024:
		return fmt.Errorf("batch %d must be between 0 and 1024", c.Batch)
	case c.Pin && (c.CPU < 0 || c.CPU >= 1024):
		return fmt.Errorf("cpu %d must be between 0 and 1023", c.CPU)
	}
	return nil
}

// Result is what a send did.
type Result struct {
	// Sent is the number of packets the kernel accepted; Failed the number
	// it refused (ENOBUFS, ECONNREFUSED from an earlier datagram, …).
	Sent, Failed int
	// Elapsed is the time from the first packet to the last.
	Elapsed time.Duration
}

// PPS is the achieved rate in packets per second.
func (r Result) PPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// pin locks the calling goroutine to its thread and the thread to cpu; the
// returned function undoes both.
func pin(cpu int) (func(), error) {
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("get affinity: %w", err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("pin to cpu %d: %w", cpu, err)
	}
	return func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	}, nil
}

// sendLoop sends packets pool[i % len(pool)] for i from 0 until cfg's count
// or duration or ctx ends, on the bound or connected sockets fds, one batch
// per socket in turn. prepare, if
// not nil, is called for packet i just before it is queued (it may change
// the packet's bytes in place); sent, if not nil, after packet i was taken
// by the kernel.
func sendLoop(ctx context.Context, fds []int, pool [][]byte, cfg SendConfig, prepare, sent func(i int)) (Result, error) {
	var res Result
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	if len(pool) == 0 || len(fds) == 0 {
		return res, errors.New("nothing to send")
	}
	batch := cfg.Batch
	if batch == 0 {
		batch = DefaultBatch
	}
	batch = min(batch, len(pool), cfg.Count)
	if cfg.Pin {
		undo, err := pin(cfg.CPU)
		if err != nil {
			return res, err
		}
		defer undo()
	}
	m := newMmsg(batch)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	next := 0 // index of the next packet to queue
	first := next
	turn := 0
	for done := 0; done < cfg.Count; {
		now := time.Now()
		if now.After(deadline) || ctx.Err() != nil {
			break
		}
		want := min(batch, cfg.Count-done) - m.n
		if cfg.Rate > 0 {
			due := int(float64(cfg.Rate)*now.Sub(start).Seconds()) + 1 - done - m.n
			if due <= 0 && m.n == 0 {
				wait := start.Add(time.Duration(float64(done) / float64(cfg.Rate) * float64(time.Second))).Sub(now)
				time.Sleep(max(wait, 20*time.Microsecond))
				continue
			}
			want = min(want, max(due, 0))
		}
		for range want {
			if prepare != nil {
				prepare(next)
			}
			m.add(pool[next%len(pool)])
			next++
		}
		fd := fds[turn%len(fds)]
		turn++
		n, err := m.send(fd)
		switch {
		case err == nil:
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			continue
		case errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.EMSGSIZE):
			n = 0
			m.drop(1) // this packet is lost: count it and go on
			res.Failed++
			done++
			first++
			continue
		default:
			res.Elapsed = time.Since(start)
			return res, fmt.Errorf("sendmmsg: %w", err)
		}
		if sent != nil {
			for i := range n {
				sent(first + i)
			}
		}
		m.drop(n)
		first += n
		res.Sent += n
		done += n
	}
	res.Elapsed = time.Since(start)
	return res, nil
}
