package ring

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Group is the set of rings of one fanout group, one per worker. Each ring is
// handed to exactly one goroutine (Run does that); the Group itself is used by
// the goroutine that opened it, except Stats and Shutdown, which are safe from
// any goroutine.
type Group struct {
	// Rings holds one ring per worker. Do not modify.
	Rings []*Ring
}

// OpenGroup opens cfg.Workers rings (nil cfg: defaults) bound to the same
// interface with the same filter, all in one fanout group.
func OpenGroup(cfg *Config) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := cfg.withDefaults()
	filter, err := cfg.Filter()
	if err != nil {
		return nil, err
	}
	g := &Group{}
	id, unique := d.FanoutID, d.FanoutID == 0
	for i := 0; i < d.Workers; i++ {
		r, err := open(&d, filter, id, unique)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("open worker %d: %w", i, err)
		}
		g.Rings = append(g.Rings, r)
		id, unique = r.FanoutID(), false
	}
	return g, nil
}

// FanoutID is the group's fanout id.
func (g *Group) FanoutID() uint16 {
	if len(g.Rings) == 0 {
		return 0
	}
	return g.Rings[0].FanoutID()
}

// Memory is the ring memory of the whole group in bytes.
func (g *Group) Memory() int64 {
	var n int64
	for _, r := range g.Rings {
		n += r.Memory()
	}
	return n
}

// Stats returns the kernel counters of every ring (index = worker) and their
// sum. It reads (and so resets) the kernel's counters; the totals are kept.
func (g *Group) Stats() (per []Stats, total Stats, err error) {
	per = make([]Stats, len(g.Rings))
	for i, r := range g.Rings {
		s, e := r.Stats()
		per[i] = s
		total = total.Add(s)
		err = errors.Join(err, e)
	}
	return per, total, err
}

// Shutdown makes every ring's Next return ErrClosed. Safe from any goroutine.
func (g *Group) Shutdown() {
	for _, r := range g.Rings {
		r.Shutdown()
	}
}

// Close closes every ring. Call it after all workers have returned.
func (g *Group) Close() error {
	var err error
	for _, r := range g.Rings {
		err = errors.Join(err, r.Close())
	}
	return err
}

// Run starts one goroutine per ring, pins goroutine i to cpus[i] (no pinning
// when cpus is nil; see tuning.CPUPlan for a default plan), and calls
// work(i, ring) in it. When ctx is done the rings are shut down, so a work
// loop built on Next sees ErrClosed. Run waits for every worker and returns
// their errors joined (ErrClosed is not an error). It does not close the
// rings.
func (g *Group) Run(ctx context.Context, cpus []int, work func(worker int, r *Ring) error) error {
	return runPinned(ctx, "worker", len(g.Rings), cpus, g.Shutdown, func(ctx context.Context, i int) error {
		if err := work(i, g.Rings[i]); !errors.Is(err, ErrClosed) {
			return err
		}
		return nil
	})
}

// runPinned runs fn(i) for i in [0, n) in goroutines of their own, each
// pinned to cpus[i] when cpus is not nil. When ctx ends, or a worker fails,
// stop is called so that the others return. It waits for every worker and
// returns their errors joined; errors after ctx ended are not errors.
func runPinned(ctx context.Context, what string, n int, cpus []int, stop func(), fn func(ctx context.Context, i int) error) error {
	if cpus != nil && len(cpus) < n {
		return fmt.Errorf("run %s: %d cpus for %d workers", what, len(cpus), n)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	unhook := context.AfterFunc(ctx, stop)
	defer unhook()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if cpus != nil {
				if err := Pin(cpus[i]); err != nil {
					errs[i] = err
					cancel()
					return
				}
			}
			if err := fn(ctx, i); err != nil && ctx.Err() == nil {
				errs[i] = fmt.Errorf("%s %d: %w", what, i, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
