package sink

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/go-faster/city"
	"github.com/klauspost/compress/zstd"

	"github.com/sipcap/appliance/decode"
)

// Stats are the sink's counters since New. Counters only grow; gauges
// (Queue*, Spool*) are current values.
type Stats struct {
	RowsInserted uint64
	InsertsOK    uint64
	InsertErrors [numClasses]uint64 // by ErrClass
	Retries      uint64
	// Resolved counts bodies found committed after an ambiguous failure
	// (through system.query_log on servers without deduplication tokens),
	// which were therefore not sent again.
	Resolved       uint64
	SpoolWrites    uint64 // bodies written to the spool
	SpoolReplays   uint64 // spooled bodies inserted
	SpoolFiles     int
	SpoolBytes     int64
	DeadLetters    uint64 // bodies moved to the dead-letter folder
	DeadLetterRows uint64
	// RowsLost counts rows that could not be kept: the spool was full (or
	// absent) when they had to leave memory, or a worker had no free batch.
	RowsLost uint64
	// QueueBatches is the full batches waiting for a flusher; QueueBodies and
	// QueueBytes the encoded bodies waiting for or in an insert.
	QueueBatches int
	QueueBodies  int
	QueueBytes   int64
	// InsertLatency is the sum of the durations of successful inserts;
	// divided by InsertsOK it is the mean.
	InsertLatency time.Duration
}

// Sink takes batches from capture workers to one ClickHouse table. Create it
// with New, give each capture worker its own Worker, and Close it to drain.
type Sink struct {
	cfg Config
	cl  *client
	// ready is closed once setup has run; layout, dialect, version, dedup
	// and extra are written before that and only read after it.
	ready   chan struct{}
	isReady atomic.Bool // ready is closed; for the workers' age check
	layout  *Layout
	dialect Dialect
	version string
	dedup   bool
	method  compress.Method
	spool   *spool
	deadEnc *zstd.Encoder
	log     *slog.Logger
	extra   []string // settings sent with every insert

	mu      sync.Mutex
	workers []*Worker
	logged  map[string]bool
	unseen  map[string]time.Time // token → first probe that found no trace

	bodies  bodyPool
	notify  chan struct{}
	groups  chan []*SIPBatch
	back    chan *SIPBatch
	sendq   chan *body
	wake    chan struct{} // spool has new files
	closing chan struct{}
	stopped chan struct{} // collector gone
	hard    context.Context
	hardEnd context.CancelFunc

	collectorWG, flusherWG, senderWG, bgWG sync.WaitGroup
	closeOnce                              sync.Once
	closeErr                               error

	rowsInserted, insertsOK, retries, spoolWrites, spoolReplays atomic.Uint64
	deadLetters, deadRows, rowsLost, resolved                   atomic.Uint64
	errs                                                        [numClasses]atomic.Uint64
	queueBytes, queueBodies, latency                            atomic.Int64
	pendingBatches                                              atomic.Int64

	onBody   func(rows, bytes int)
	onInsert func(d time.Duration, rows int)
	// inflight holds the first-row time of every body encoded but not yet
	// inserted, spooled or dropped, for OldestUnflushed.
	inflightMu sync.Mutex
	inflight   map[*body]int64
}

// Options carries what is not configuration: the logger and observers.
type Options struct {
	// Logger receives start-up facts and problems, each kind logged once.
	// Default slog.Default().
	Logger *slog.Logger
	// OnBody, when set, is called from a flusher for every insert body
	// encoded: its rows and its compressed size in bytes.
	OnBody func(rows, bytes int)
	// OnInsert, when set, is called from a sender after every successful
	// insert with its duration and rows.
	OnInsert func(d time.Duration, rows int)
}

// New connects to ClickHouse, creates the database and table when missing
// (unless cfg.NoCreate), reads the table's columns, opens the spool and
// starts the flushers and senders. ctx is the sink's lifetime, not only its
// start: when ctx ends the sink drains as by Close with cfg.DrainTimeout.
// Start-up queries are each bounded by cfg.InsertTimeout.
func New(ctx context.Context, cfg *Config, opt *Options) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	s := &Sink{cfg: c, log: slog.Default(), logged: map[string]bool{}, unseen: map[string]time.Time{}}
	if opt != nil && opt.Logger != nil {
		s.log = opt.Logger
	}
	if opt != nil {
		s.onBody, s.onInsert = opt.OnBody, opt.OnInsert
	}
	s.inflight = map[*body]int64{}
	s.method, _ = c.method()
	var err error
	if s.cl, err = newClient(&c); err != nil {
		return nil, err
	}
	s.ready = make(chan struct{})
	unready := false
	if err := s.setup(ctx); err != nil {
		var netErr net.Error
		if !c.StartUnready || !errors.As(err, &netErr) {
			return nil, err // or the server answered: a schema or permission problem
		}
		unready = true
		s.log.Warn("sink: ClickHouse unreachable; taking rows and setting up in the background", "err", err)
	} else {
		s.open()
	}
	if c.SpoolDir != "" {
		if s.spool, err = openSpool(c.SpoolDir, c.SpoolBytes); err != nil {
			return nil, err
		}
		if n, b := s.spool.usage(); n > 0 {
			s.log.Info("sink: replaying spool", "files", n, "bytes", b, "dir", c.SpoolDir)
		}
	}
	s.deadEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))

	s.notify = make(chan struct{}, 1)
	s.groups = make(chan []*SIPBatch)
	s.back = make(chan *SIPBatch, 4096)
	s.sendq = make(chan *body, 4096)
	s.wake = make(chan struct{}, 1)
	s.closing = make(chan struct{})
	s.stopped = make(chan struct{})
	s.hard, s.hardEnd = context.WithCancel(context.Background())

	s.collectorWG.Add(1)
	go s.collect()
	for i := 0; i < c.Flushers; i++ {
		s.flusherWG.Add(1)
		go s.flush()
	}
	for i := 0; i < c.MaxAsyncQueries; i++ {
		s.senderWG.Add(1)
		go s.send()
	}
	if unready {
		s.bgWG.Add(1)
		go s.setupLater()
	} else if s.dialect == Legacy && c.RetentionDays > 0 {
		s.bgWG.Add(1)
		go s.retention()
	}
	go func() {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), c.DrainTimeout)
			defer cancel()
			s.Close(dctx)
		case <-s.closing:
		}
	}()
	return s, nil
}

// setup reads the server version, creates the table and builds the layout.
func (s *Sink) setup(ctx context.Context) error {
	db, table := s.cl.ep.database, s.cfg.Table
	v, err := s.cl.query(ctx, "SELECT version()")
	if err != nil {
		return fmt.Errorf("sink: clickhouse version: %w", err)
	}
	s.version = strings.TrimSpace(v)
	s.dialect = DialectFor(s.version)
	if !s.cfg.NoCreate {
		stmts, err := DDL(s.dialect, db, table, s.cfg.RetentionDays)
		if err != nil {
			return err
		}
		for _, q := range stmts {
			if _, err := s.cl.query(ctx, q); err != nil {
				return fmt.Errorf("sink: create table %s.%s: %w", db, table, err)
			}
		}
	}
	cols, err := s.tableColumns(ctx, db, table)
	if err != nil {
		return err
	}
	if s.layout, err = NewLayout(db, table, cols); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if len(s.layout.Skipped) > 0 {
		s.log.Info("sink: table lacks optional columns; not writing them", "table", db+"."+table, "columns", s.layout.Skipped)
	}
	out, err := s.cl.query(ctx, "SELECT name FROM system.settings WHERE name IN ('insert_deduplication_token', 'async_insert', 'insert_deduplicate')")
	if err != nil {
		return fmt.Errorf("sink: read settings: %w", err)
	}
	for _, name := range strings.Fields(out) {
		switch name {
		case "insert_deduplication_token":
			s.dedup = true
		case "async_insert":
			s.extra = append(s.extra, "async_insert", "0")
		}
	}
	s.log.Info("sink: ready", "server", s.version, "dialect", s.dialect.String(), "table", db+"."+table,
		"columns", len(s.layout.targets), "dedup_token", s.dedup)
	return nil
}

// setupLater retries setup until it succeeds or the sink is stopped hard,
// with the backoff of the appliance's own start (0.5 s doubling to 10 s);
// then it opens the sink (ready) and starts what setup decides.
func (s *Sink) setupLater() {
	defer s.bgWG.Done()
	delay := 500 * time.Millisecond
	for {
		select {
		case <-time.After(delay):
		case <-s.hard.Done():
			return
		}
		ctx, cancel := context.WithTimeout(s.hard, s.cfg.InsertTimeout)
		err := s.setup(ctx)
		cancel()
		if err == nil {
			s.open()
			if s.dialect == Legacy && s.cfg.RetentionDays > 0 {
				s.bgWG.Add(1)
				go s.retention()
			}
			return
		}
		var netErr net.Error
		if !errors.As(err, &netErr) && s.hard.Err() == nil { // not the Close cancelling setup
			// Once per distinct problem: an operator fixing grants or the
			// schema sees each new error.
			s.logOnce("setup:"+err.Error(), "sink: ClickHouse answered but the table cannot be used; retrying, rows wait or are dropped", "err", err)
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// open marks the sink ready.
func (s *Sink) open() {
	s.isReady.Store(true)
	close(s.ready)
}

// Ready is closed once the sink has read the table's layout and can insert:
// at once when New reached ClickHouse, later with StartUnready.
func (s *Sink) Ready() <-chan struct{} { return s.ready }

// awaitReady waits until the sink is ready (true) or stopped hard (false).
func (s *Sink) awaitReady() bool {
	select {
	case <-s.ready:
		return true
	case <-s.hard.Done():
		select {
		case <-s.ready:
			return true
		default:
			return false
		}
	}
}

func (s *Sink) tableColumns(ctx context.Context, db, table string) ([]TableColumn, error) {
	// db and table are validated identifiers: safe inside quotes.
	q := fmt.Sprintf("SELECT name, type, default_kind FROM system.columns WHERE database = '%s' AND table = '%s' FORMAT TabSeparated", db, table)
	out, err := s.cl.query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sink: read columns of %s.%s: %w", db, table, err)
	}
	var cols []TableColumn
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			continue
		}
		tc := TableColumn{Name: f[0], Type: strings.ReplaceAll(f[1], `\'`, `'`)}
		if len(f) > 2 {
			tc.DefaultKind = f[2]
		}
		cols = append(cols, tc)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("sink: table %s.%s does not exist", db, table)
	}
	return cols, nil
}

// Dialect is the DDL dialect chosen for the server; Legacy until Ready.
func (s *Sink) Dialect() Dialect {
	select {
	case <-s.ready:
		return s.dialect
	default:
		return Legacy
	}
}

// Layout is the set of columns the sink writes; nil until Ready.
func (s *Sink) Layout() *Layout {
	select {
	case <-s.ready:
		return s.layout
	default:
		return nil
	}
}

// Stats returns the current counters.
func (s *Sink) Stats() Stats {
	st := Stats{
		RowsInserted:   s.rowsInserted.Load(),
		InsertsOK:      s.insertsOK.Load(),
		Retries:        s.retries.Load(),
		Resolved:       s.resolved.Load(),
		SpoolWrites:    s.spoolWrites.Load(),
		SpoolReplays:   s.spoolReplays.Load(),
		DeadLetters:    s.deadLetters.Load(),
		DeadLetterRows: s.deadRows.Load(),
		RowsLost:       s.rowsLost.Load(),
		QueueBodies:    int(s.queueBodies.Load()),
		QueueBytes:     s.queueBytes.Load(),
		InsertLatency:  time.Duration(s.latency.Load()),
	}
	for i := range st.InsertErrors {
		st.InsertErrors[i] = s.errs[i].Load()
	}
	if s.spool != nil {
		st.SpoolFiles, st.SpoolBytes = s.spool.usage()
	}
	s.mu.Lock()
	for _, w := range s.workers {
		st.QueueBatches += w.full.len()
	}
	s.mu.Unlock()
	st.QueueBatches += int(s.pendingBatches.Load())
	return st
}

// logOnce logs msg once per kind for the life of the sink.
func (s *Sink) logOnce(kind, msg string, args ...any) {
	s.mu.Lock()
	seen := s.logged[kind]
	s.logged[kind] = true
	s.mu.Unlock()
	if !seen {
		s.log.Warn(msg, args...)
	}
}

// ---- workers -------------------------------------------------------------

// Worker is one capture worker's end of the sink: the batch it fills and
// the two lock-free queues that carry full batches to the sink and empty
// ones back. A Worker is used by one goroutine only.
type Worker struct {
	s     *Sink
	cur   *SIPBatch
	full  *spsc // worker → sink
	free  *spsc // sink → worker
	owned int
	age   int64
	maxR  int
	maxB  int
	n     int // rows since the last age check
	node  string

	// filling is the wall clock (Unix ns) of the first row of the batch being
	// filled, 0 when it is empty; read by OldestUnflushed from any goroutine.
	filling atomic.Int64
	closed  atomic.Bool
}

// NewWorker returns a new worker end. Call it once per capture worker
// before it starts; it may be called while the sink runs.
func (s *Sink) NewWorker() *Worker {
	w := &Worker{s: s, full: newSPSC(s.cfg.WorkerBatches), free: newSPSC(s.cfg.WorkerBatches),
		age: int64(s.cfg.BatchAge), maxR: s.cfg.BatchRows, maxB: s.cfg.BatchBytes, node: s.cfg.Node}
	w.cur = w.newBatch()
	s.mu.Lock()
	s.workers = append(s.workers, w)
	s.mu.Unlock()
	return w
}

func (w *Worker) newBatch() *SIPBatch {
	w.owned++
	return &SIPBatch{Node: w.node, NodeFromHEP: w.s.cfg.NodeFromHEP, owner: w}
}

// SetNode changes the node name stored from the next row on (a SIGHUP
// reload). It is called by the worker's own goroutine.
func (w *Worker) SetNode(node string) {
	w.node = node
	w.cur.Node = node
}

// Append adds one message to the worker's batch (the one copy of its bytes)
// and hands the batch to the sink when it is full. It never blocks; when the
// sink has returned none of the worker's batches, the full batch's rows are
// dropped and counted in Stats.RowsLost, after waiting up to
// Config.HandoffWait for one.
func (w *Worker) Append(m *decode.Meta, s *decode.SIP) {
	b := w.cur
	if b.rows == 0 {
		now := time.Now().UnixNano()
		b.start, b.first = now/w.age, now
		w.filling.Store(now)
	}
	b.Append(m, s)
	if b.rows >= w.maxR || b.size >= w.maxB {
		w.handoff()
		return
	}
	if w.n++; w.n >= 256 {
		w.n = 0
		w.Tick(time.Now())
	}
}

// Tick hands the batch over when the flush interval it started in has
// passed. Capture workers call it whenever they wake up (at least every
// few hundred milliseconds while idle).
func (w *Worker) Tick(now time.Time) {
	// Until the sink is ready (StartUnready) batches fill to BatchRows or
	// BatchBytes instead of leaving by age, so that the worker's batches
	// hold as many rows as they can while nothing can be inserted.
	if w.cur.rows > 0 && now.UnixNano()/w.age != w.cur.start && w.s.isReady.Load() {
		w.handoff()
	}
}

// Flush hands the current batch over now.
func (w *Worker) Flush() {
	if w.cur.rows > 0 {
		w.handoff()
	}
}

// Close hands over the last batch; the worker must not be used after.
func (w *Worker) Close() {
	if w.closed.Load() {
		return
	}
	w.Flush()
	w.closed.Store(true)
	w.s.poke()
}

func (w *Worker) handoff() {
	next := w.free.pop()
	if next == nil && w.owned < w.s.cfg.WorkerBatches {
		next = w.newBatch()
	}
	if next == nil && w.s.cfg.HandoffWait > 0 {
		// Every batch is queued or being encoded: wait a little for one.
		w.s.poke()
		deadline := time.Now().Add(w.s.cfg.HandoffWait)
		for next == nil && time.Now().Before(deadline) {
			runtime.Gosched()
			time.Sleep(100 * time.Microsecond)
			next = w.free.pop()
		}
	}
	if next == nil {
		w.s.rowsLost.Add(uint64(w.cur.rows))
		w.s.logOnce("worker-full", "sink: a capture worker has no free batch; dropping rows (sink behind)")
		w.cur.Reset()
		w.filling.Store(0)
		return
	}
	w.full.push(w.cur) // cannot fail: the ring holds all the worker's batches
	next.Node = w.node
	w.cur = next
	w.filling.Store(0)
	w.s.poke()
}

func (s *Sink) poke() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// ---- collector: the one consumer of full rings and producer of free ones --

func (s *Sink) collect() {
	defer s.collectorWG.Done()
	defer close(s.stopped)
	defer close(s.groups)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	mergeWait := min(s.cfg.BatchAge/4, 100*time.Millisecond)
	var pending []*SIPBatch
	var pendingBytes int
	var since time.Time
	var workers []*Worker
	closing := false
	closingCh := s.closing // nil once seen, so that the select does not spin
	for {
		select {
		case <-s.notify:
		case <-tick.C:
		case b := <-s.back:
			s.recycle(b)
		case <-closingCh:
			closing, closingCh = true, nil
		case <-s.hard.Done():
		}
		s.drainBack()
		s.mu.Lock()
		workers = append(workers[:0], s.workers...)
		s.mu.Unlock()
		allClosed, urgent, live := true, false, 0
		for _, w := range workers {
			// A worker with most of its batches queued must get them back
			// now rather than after the merge wait.
			if w.full.len() >= s.cfg.WorkerBatches/2 {
				urgent = true
			}
			for b := w.full.pop(); b != nil; b = w.full.pop() {
				if len(pending) == 0 {
					since = time.Now()
				}
				pending = append(pending, b)
				pendingBytes += b.size
			}
			if !w.closed.Load() {
				allClosed = false
				live++
			}
		}
		s.pendingBatches.Store(int64(len(pending)))
		// Merging waits for other workers' batches, unless every live worker
		// has already handed one over (they flush on the same age slots), in
		// which case nothing more is coming soon.
		everyone := len(pending) >= live
		if len(pending) > 0 && (closing || urgent || everyone || pendingBytes >= s.cfg.MaxInsertBytes || time.Since(since) >= mergeWait) {
			for len(pending) > 0 {
				n, size := 0, 0
				for n < len(pending) && (n == 0 || size+pending[n].size <= s.cfg.MaxInsertBytes) {
					size += pending[n].size
					n++
				}
				g := append([]*SIPBatch(nil), pending[:n]...)
				s.sendGroup(g)
				pending = append(pending[:0], pending[n:]...)
				pendingBytes -= size
			}
			s.pendingBatches.Store(0)
		}
		if closing && len(pending) == 0 && (allClosed || s.hard.Err() != nil) {
			// Workers that never closed keep their partial batch: count it.
			for _, w := range workers {
				if !w.closed.Load() && w.cur != nil {
					s.rowsLost.Add(uint64(w.cur.rows))
				}
			}
			return
		}
	}
}

func (s *Sink) sendGroup(g []*SIPBatch) {
	for {
		select {
		case s.groups <- g:
			return
		case b := <-s.back:
			s.recycle(b)
		}
	}
}

func (s *Sink) drainBack() {
	for {
		select {
		case b := <-s.back:
			s.recycle(b)
		default:
			return
		}
	}
}

func (s *Sink) recycle(b *SIPBatch) {
	b.Reset()
	if b.owner != nil {
		b.owner.free.push(b)
	}
}

// ---- flushers: encode groups into bodies ---------------------------------

func (s *Sink) flush() {
	defer s.flusherWG.Done()
	if !s.awaitReady() {
		// Stopped before the table was ever reached: what comes is lost.
		for g := range s.groups {
			for _, b := range g {
				s.rowsLost.Add(uint64(b.rows))
				select {
				case s.back <- b:
				case <-s.stopped:
				}
			}
		}
		return
	}
	enc := NewEncoder(s.layout, s.method)
	for g := range s.groups {
		data, rows, err := enc.AppendBody(s.bodies.get(), g)
		var first int64
		for _, b := range g {
			if b.first != 0 && (first == 0 || b.first < first) {
				first = b.first
			}
		}
		for _, b := range g {
			select {
			case s.back <- b:
			case <-s.stopped:
			}
		}
		if err != nil || rows == 0 {
			if err != nil {
				s.rowsLost.Add(uint64(rows))
				s.logOnce("encode", "sink: encode batch", "err", err)
			}
			continue
		}
		h := city.CH128(data)
		var t [16]byte
		for i := 0; i < 8; i++ {
			t[i] = byte(h.High >> (56 - 8*i))
			t[8+i] = byte(h.Low >> (56 - 8*i))
		}
		if s.onBody != nil {
			s.onBody(rows, len(data))
		}
		b := &body{query: s.layout.Query, token: hex.EncodeToString(t[:]), rows: rows, data: data, first: first}
		s.track(b)
		s.submit(b)
	}
}

// submit queues b for a sender, or spools it when the memory queue is full.
func (s *Sink) submit(b *body) {
	n := int64(len(b.data))
	if s.spool == nil {
		// No spool: memory is the only buffer. Hold the flusher (and so,
		// through the rings, the workers) until the queue has room.
		for s.queueBytes.Load() > 0 && s.queueBytes.Load()+n > int64(s.cfg.QueueBytes) {
			if s.hard.Err() != nil {
				s.toSpool(b) // counts the loss
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		s.queueBytes.Add(n)
		s.queueBodies.Add(1)
		s.sendq <- b
		return
	}
	if s.queueBytes.Load()+n <= int64(s.cfg.QueueBytes) {
		s.queueBytes.Add(n)
		s.queueBodies.Add(1)
		select {
		case s.sendq <- b:
			return
		default:
			s.queueBytes.Add(-n)
			s.queueBodies.Add(-1)
		}
	}
	s.toSpool(b)
}

// track registers b as encoded and not yet inserted or spooled.
func (s *Sink) track(b *body) {
	if b.first == 0 {
		return
	}
	s.inflightMu.Lock()
	s.inflight[b] = b.first
	s.inflightMu.Unlock()
}

func (s *Sink) untrack(b *body) {
	s.inflightMu.Lock()
	delete(s.inflight, b)
	s.inflightMu.Unlock()
}

// OldestUnflushed returns the age at now of the oldest row that is neither
// in ClickHouse nor in the spool: in a batch being filled, queued, encoded
// or retried from memory. 0 when there is none. Safe from any goroutine.
func (s *Sink) OldestUnflushed(now time.Time) time.Duration {
	oldest := int64(0)
	min := func(t int64) {
		if t != 0 && (oldest == 0 || t < oldest) {
			oldest = t
		}
	}
	s.mu.Lock()
	for _, w := range s.workers {
		min(w.filling.Load())
	}
	s.mu.Unlock()
	s.inflightMu.Lock()
	for _, t := range s.inflight {
		min(t)
	}
	s.inflightMu.Unlock()
	if oldest == 0 {
		return 0
	}
	return max(0, now.Sub(time.Unix(0, oldest)))
}

// toSpool writes b to the spool; a full spool loses it (counted, logged).
func (s *Sink) toSpool(b *body) {
	defer s.untrack(b)
	if s.spool == nil {
		s.rowsLost.Add(uint64(b.rows))
		s.logOnce("no-spool", "sink: rows lost: ClickHouse unavailable and no spool configured", "rows", b.rows)
		return
	}
	if err := s.spool.put(b); err != nil {
		s.rowsLost.Add(uint64(b.rows))
		s.logOnce("spool:"+err.Error(), "sink: rows lost: spool write", "err", err, "rows", b.rows)
		return
	}
	s.spoolWrites.Add(1)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// bodyPool recycles the buffers of encoded bodies, which a flusher fills and
// a sender releases (a lifetime that crosses goroutines; style G8).
type bodyPool struct{ p sync.Pool }

func (bp *bodyPool) get() []byte {
	if v, ok := bp.p.Get().(*[]byte); ok {
		return (*v)[:0]
	}
	return nil
}

func (bp *bodyPool) put(b []byte) {
	if cap(b) == 0 || cap(b) > 256<<20 {
		return
	}
	b = b[:0]
	bp.p.Put(&b)
}

// ---- senders: max_async_queries inserts in flight -------------------------

func (s *Sink) send() {
	defer s.senderWG.Done()
	// No body exists before the sink is ready, but spooled ones from an
	// earlier run do, and delivering needs what setup reads. A hard stop
	// before ready does not end the sender: the sink may have become ready
	// at the same moment (the flushers then encode), and bodies on sendq
	// must still be spooled or counted. The spool is not replayed then,
	// since the sink is closing.
	select {
	case <-s.ready:
	case <-s.hard.Done():
	}
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	for {
		select {
		case b, ok := <-s.sendq:
			if !ok {
				return
			}
			s.deliver(b)
			continue
		default:
		}
		if s.spool != nil && !s.isClosing() {
			if name, ok := s.spool.claim(); ok {
				s.replay(name)
				continue
			}
		}
		idle.Reset(500 * time.Millisecond)
		select {
		case b, ok := <-s.sendq:
			if !ok {
				return
			}
			s.deliver(b)
		case <-s.wake:
		case <-idle.C:
		}
	}
}

func (s *Sink) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// errStillRunning reports that an earlier attempt of a body is still
// running on the server; the body is not sent again yet.
var errStillRunning = errors.New("sink: earlier attempt still running")

// resolve decides, on a server without deduplication tokens, whether an
// ambiguous body was committed: still running (wait), finished (done), or
// not (send again). It returns committed=true when the body is in.
func (s *Sink) resolve(b *body) (committed bool, err error) {
	qid := queryID(b.token)
	out, err := s.cl.query(s.hard, "SELECT count() FROM system.processes WHERE query_id = '"+qid+"'")
	if err != nil {
		return false, err
	}
	if strings.TrimSpace(out) != "0" {
		return false, errStillRunning
	}
	s.cl.query(s.hard, "SYSTEM FLUSH LOGS")
	// type 2 is QueryFinish (a UInt8 on old servers, an Enum8 on new ones).
	out, err = s.cl.query(s.hard, "SELECT count() FROM system.query_log WHERE query_id = '"+qid+"' AND event_date >= yesterday() AND toUInt8(type) = 2")
	if err != nil {
		var se *ServerError
		if errors.As(err, &se) && se.Code == 60 { // no query_log table: nothing was logged
			return false, nil
		}
		return false, err
	}
	if strings.TrimSpace(out) != "0" {
		return true, nil
	}
	// Not running and not logged. A server that was paused or overloaded
	// may not have accepted the earlier attempt's connection yet: only a
	// second look, a while later, clears the body for sending again.
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	since, seen := s.unseen[b.token]
	if !seen {
		if len(s.unseen) > 10_000 {
			clear(s.unseen) // bounded; the worst case is one more wait
		}
		s.unseen[b.token] = now
		return false, errStillRunning
	}
	if now.Sub(since) < resolveGap {
		return false, errStillRunning
	}
	delete(s.unseen, b.token)
	return false, nil
}

// resolveGap is how long a body must stay unseen by the server (neither
// running nor logged) before it is sent again after an ambiguous failure.
const resolveGap = 2 * time.Second

// queryID is the query_id of every attempt of the body with token t.
func queryID(t string) string { return "sipcap-" + t }

// attempt sends b once, recording the outcome; it returns the class.
func (s *Sink) attempt(b *body) (ErrClass, error) {
	t0 := time.Now()
	if b.ambiguous && !s.dedup {
		committed, err := s.resolve(b)
		switch {
		case err != nil:
			c := classify(err)
			if errors.Is(err, errStillRunning) || c == ClassData {
				c = ClassServer
			}
			s.errs[c].Add(1)
			return c, err
		case committed:
			s.insertsOK.Add(1)
			s.rowsInserted.Add(uint64(b.rows))
			s.resolved.Add(1)
			return ClassNone, nil
		}
		b.ambiguous = false
	}
	err := s.cl.insert(s.hard, b.query, b.token, queryID(b.token), b.data, s.dedup, s.extra...)
	c := classify(err)
	if c != ClassNone && ambiguous(err) {
		b.ambiguous = true
	}
	if c == ClassNone {
		d := time.Since(t0)
		s.latency.Add(int64(d))
		if s.onInsert != nil {
			s.onInsert(d, b.rows)
		}
		s.insertsOK.Add(1)
		s.rowsInserted.Add(uint64(b.rows))
		return c, nil
	}
	s.errs[c].Add(1)
	return c, err
}

func (s *Sink) backoff(attempt int) time.Duration {
	d := s.cfg.RetryMin << min(attempt, 30)
	if d > s.cfg.RetryMax || d <= 0 {
		d = s.cfg.RetryMax
	}
	return time.Duration(rand.Int64N(int64(d) + 1)) // full jitter
}

// sleep waits d, or less when the hard stop comes; it reports false then.
func (s *Sink) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.hard.Done():
		return false
	}
}

// deliver sends a body held in memory until it is inserted, dead-lettered
// or spooled.
func (s *Sink) deliver(b *body) {
	n := int64(len(b.data))
	defer func() {
		s.untrack(b)
		s.queueBytes.Add(-n)
		s.queueBodies.Add(-1)
		s.bodies.put(b.data) // inserted, spooled or dead-lettered: not needed
		b.data = nil
	}()
	start := time.Now()
	for attempt := 0; ; attempt++ {
		if s.hard.Err() != nil {
			s.toSpool(b)
			return
		}
		c, err := s.attempt(b)
		switch {
		case c == ClassNone:
			return
		case c == ClassData:
			s.deadLetter(b, err)
			return
		}
		s.logOnce("insert:"+c.String(), "sink: insert failed; retrying", "class", c.String(), "err", err)
		if s.spool != nil && time.Since(start) >= s.cfg.SpoolAfter {
			if err := s.spool.put(b); err == nil {
				s.spoolWrites.Add(1)
				return
			}
			// Spool full: keep retrying from memory rather than lose it.
		}
		s.retries.Add(1)
		if !s.sleep(s.backoff(attempt)) {
			s.toSpool(b)
			return
		}
	}
}

// replay sends one spooled body once; on a retriable failure the file stays
// for a later pass and the sender backs off.
func (s *Sink) replay(name string) {
	b, err := s.spool.load(name)
	if err != nil {
		s.logOnce("spool-corrupt", "sink: unreadable spool file moved to dead letters", "file", name, "err", err)
		s.spool.quarantine(name, s.cfg.DeadLetterDir)
		return
	}
	c, err := s.attempt(b)
	switch c {
	case ClassNone:
		s.spoolReplays.Add(1)
		s.spool.remove(name)
		return
	case ClassData:
		s.deadLetter(b, err)
		s.spool.remove(name)
		return
	}
	s.spool.release(name)
	s.retries.Add(1)
	s.logOnce("insert:"+c.String(), "sink: insert failed; retrying", "class", c.String(), "err", err)
	s.sleep(s.backoff(4))
}

// deadLetter stores a body the server rejected, with its message.
func (s *Sink) deadLetter(b *body, err error) {
	s.deadLetters.Add(1)
	s.deadRows.Add(uint64(b.rows))
	kind := "data"
	var se *ServerError
	if errors.As(err, &se) {
		kind = fmt.Sprintf("code %d", se.Code)
	}
	dir := s.cfg.DeadLetterDir
	if dir == "" {
		s.logOnce("dead:"+kind, "sink: server rejected rows (no dead-letter folder; dropped)", "kind", kind, "rows", b.rows, "err", err)
		return
	}
	s.mu.Lock()
	werr := writeDeadLetter(dir, s.deadEnc, b, err.Error())
	s.mu.Unlock()
	if werr != nil {
		s.logOnce("dead-write", "sink: write dead letter", "err", werr)
	}
	s.logOnce("dead:"+kind, "sink: server rejected rows; body moved to dead letters", "kind", kind, "rows", b.rows, "dir", dir, "err", err)
}

// ---- retention on servers without TTL -------------------------------------

var partitionDate = regexp.MustCompile(`^'?(\d{4}-\d{2}-\d{2})'?$`)

func (s *Sink) retention() {
	defer s.bgWG.Done()
	t := time.NewTicker(s.cfg.RetentionEvery)
	defer t.Stop()
	for {
		s.dropOldPartitions(s.hard)
		select {
		case <-t.C:
		case <-s.closing:
			return
		}
	}
}

// dropOldPartitions drops the daily partitions older than RetentionDays.
// The partition value is the day (toDate(date)); system.parts shows it as
// 2026-11-25 on 18.16 (where max_date is not kept for custom keys).
func (s *Sink) dropOldPartitions(ctx context.Context) {
	db, table := s.cl.ep.database, s.cfg.Table
	q := fmt.Sprintf("SELECT DISTINCT partition FROM system.parts WHERE database = '%s' AND table = '%s' AND active FORMAT TabSeparated", db, table)
	out, err := s.cl.query(ctx, q)
	if err != nil {
		s.logOnce("retention", "sink: list partitions", "err", err)
		return
	}
	oldest := time.Now().UTC().AddDate(0, 0, -s.cfg.RetentionDays).Format("2006-01-02")
	for _, p := range strings.Fields(out) {
		m := partitionDate.FindStringSubmatch(strings.ReplaceAll(p, `\'`, `'`))
		if m == nil || m[1] >= oldest {
			continue
		}
		if _, err := s.cl.query(ctx, fmt.Sprintf("ALTER TABLE `%s`.`%s` DROP PARTITION '%s'", db, table, m[1])); err != nil {
			s.logOnce("retention", "sink: drop old partition", "partition", m[1], "err", err)
		}
	}
}

// ---- shutdown ---------------------------------------------------------------

// Close drains the sink: it waits for the workers to Close (until ctx ends),
// encodes every batch, and inserts every body held in memory, retrying
// until ctx ends; what is still not inserted then goes to the spool (or is
// counted lost without one). Spooled bodies stay on disk for the next run.
// Close returns an error when rows were lost.
func (s *Sink) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		lost0 := s.rowsLost.Load()
		close(s.closing)
		stop := context.AfterFunc(ctx, s.hardEnd)
		defer stop()
		s.poke()
		s.collectorWG.Wait()
		s.flusherWG.Wait()
		close(s.sendq)
		s.senderWG.Wait()
		s.hardEnd()
		s.bgWG.Wait()
		if lost := s.rowsLost.Load() - lost0; lost > 0 {
			s.closeErr = fmt.Errorf("sink: %d rows lost while closing", lost)
		}
	})
	return s.closeErr
}
