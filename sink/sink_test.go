package sink

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/sink/chtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	chtest.CloseShared()
	os.Exit(code)
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]`)

// tableFor returns a table name unique to the test.
func tableFor(t testing.TB) string {
	return strings.ToLower(nonIdent.ReplaceAllString(t.Name(), "_"))
}

func quietLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is a config for srv with small, fast settings, for a table
// that does not exist yet. HandoffWait is long: the test machine is shared
// and a test worker must not drop rows because the sink was descheduled.
func testConfig(t testing.TB, srv *chtest.Server) *Config {
	srv.Query(t, "CREATE DATABASE IF NOT EXISTS test")
	srv.Query(t, "DROP TABLE IF EXISTS test."+tableFor(t))
	return &Config{
		HandoffWait: time.Second,
		URL:         srv.URL() + "/test",
		Table:       tableFor(t),
		Node:        "node-1",
		BatchRows:   1000,
		BatchAge:    100 * time.Millisecond,
		RetryMin:    20 * time.Millisecond,
		RetryMax:    300 * time.Millisecond,
		SpoolAfter:  500 * time.Millisecond,
	}
}

func newSink(t testing.TB, cfg *Config) *Sink {
	t.Helper()
	// New's context is the sink's lifetime: cancelling it drains the sink.
	s, err := New(context.Background(), cfg, &Options{Logger: quietLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func closeSink(t testing.TB, s *Sink, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// uniqueRow is testRow with a Call-ID unique to (run, i).
func uniqueRow(run string, i int, m *decode.Meta, s *decode.SIP, callid []byte) []byte {
	testRow(i, m, s)
	callid = append(callid[:0], run...)
	callid = strconv.AppendInt(append(callid, '-'), int64(i), 10)
	s.CallID = callid
	return callid
}

// checkExactlyOnce asserts that table holds n rows with n distinct Call-IDs.
func checkExactlyOnce(t testing.TB, srv *chtest.Server, table string, n int) {
	t.Helper()
	got := srv.Query(t, fmt.Sprintf("SELECT count(), uniqExact(callid) FROM test.%s", table))
	if want := fmt.Sprintf("%d\t%d", n, n); got != want {
		t.Fatalf("count, distinct callids = %q, want %q", got, want)
	}
}

// TestServerRoundTrip inserts every column with each body compression and
// reads every value back.
func TestServerRoundTrip(t *testing.T) {
	for _, c := range []string{"lz4", "zstd", "none"} {
		t.Run(c, func(t *testing.T) { roundTrip(t, c) })
	}
}

func roundTrip(t *testing.T, compression string) {
	srv := chtest.Shared(t)
	cfg := testConfig(t, srv)
	cfg.NodeFromHEP = true
	cfg.Compression = compression
	s := newSink(t, cfg)
	w := s.NewWorker()
	var m decode.Meta
	var sp decode.SIP
	const n = 2500
	for i := 0; i < n; i++ {
		testRow(i, &m, &sp)
		w.Append(&m, &sp)
	}
	w.Close()
	closeSink(t, s, 30*time.Second)
	if st := s.Stats(); st.RowsInserted != n || st.RowsLost != 0 {
		t.Fatalf("stats: %+v", st)
	}

	l := s.Layout()
	var sel []string
	for _, tg := range l.targets {
		switch tg.col.kind {
		case kindStr, kindIP:
			sel = append(sel, "hex(`"+tg.name+"`)")
		case kindDate:
			sel = append(sel, "toUInt32(`"+tg.name+"`)")
		default:
			sel = append(sel, "toString(`"+tg.name+"`)")
		}
	}
	out := srv.Query(t, fmt.Sprintf("SELECT %s FROM test.%s ORDER BY micro_ts FORMAT TabSeparated", strings.Join(sel, ", "), cfg.Table))
	lines := strings.Split(out, "\n")
	if len(lines) != n {
		t.Fatalf("%d rows back, want %d", len(lines), n)
	}
	big := 0
	for i, line := range lines {
		testRow(i, &m, &sp)
		if len(sp.Msg) >= 64<<10 {
			big++
		}
		node := cfg.Node
		if len(m.Node) > 0 {
			node = string(m.Node)
		}
		f := strings.Split(line, "\t")
		for ci, tg := range l.targets {
			w := want(tg.col, tg.ct, &m, &sp, node)
			if tg.col.kind == kindStr || tg.col.kind == kindIP {
				w = strings.ToUpper(hex.EncodeToString([]byte(w)))
			}
			if f[ci] != w {
				t.Fatalf("row %d column %s = %q, want %q", i, tg.name, trunc(f[ci]), trunc(w))
			}
		}
	}
	if big == 0 {
		t.Fatal("no 64 KiB message in the data set")
	}
}

func TestNewRejectsMissingColumn(t *testing.T) {
	srv := chtest.Shared(t)
	table := tableFor(t)
	cfg := testConfig(t, srv)
	srv.Query(t, "CREATE TABLE test."+table+" (date DateTime, micro_ts UInt64, method String, source_ip String, destination_ip String, msg String) ENGINE = MergeTree ORDER BY micro_ts")
	_, err := New(context.Background(), cfg, &Options{Logger: quietLogger(t)})
	if !errors.Is(err, ErrMissingColumn) || !strings.Contains(err.Error(), "callid") {
		t.Fatalf("New = %v, want a missing-column error naming callid", err)
	}
}

func TestUserDDLTypes(t *testing.T) {
	// A user's own table: other types, other order, extra and MATERIALIZED
	// columns, optional columns left out.
	srv := chtest.Shared(t)
	table := tableFor(t)
	cfg := testConfig(t, srv)
	srv.Query(t, "CREATE TABLE test."+table+` (
		id UInt64 DEFAULT 0, msg String, callid FixedString(24), date Date, micro_ts Int64,
		method String, source_ip FixedString(16), destination_ip String, source_port UInt64,
		family Int32, type String, vlan UInt16 MATERIALIZED 7, note String)
		ENGINE = MergeTree ORDER BY (callid, micro_ts)`)
	cfg.NoCreate = true
	s := newSink(t, cfg)
	if got := strings.Join(s.Layout().Columns(), ","); got != "date,micro_ts,method,callid,source_ip,source_port,destination_ip,family,type,msg" {
		t.Fatalf("layout %s", got)
	}
	w := s.NewWorker()
	var m decode.Meta
	var sp decode.SIP
	for i := 0; i < 10; i++ {
		testRow(i, &m, &sp)
		w.Append(&m, &sp)
	}
	w.Close()
	closeSink(t, s, 30*time.Second)
	testRow(5, &m, &sp)
	got := srv.Query(t, fmt.Sprintf("SELECT toString(date), micro_ts, replaceAll(toString(callid), '\\0', ''), IPv6NumToString(source_ip), source_port, family, type, vlan FROM test.%s WHERE micro_ts = %d FORMAT TabSeparated", table, m.TS))
	wantRow := fmt.Sprintf("%s\t%d\t%s\t%s\t%d\t%d\t2\t7", time.UnixMicro(m.TS).UTC().Format("2006-01-02"), m.TS, sp.CallID, "2001:db8::5", m.SrcPort, m.Family)
	if got != wantRow {
		t.Fatalf("row = %q, want %q", got, wantRow)
	}
}

func TestSchemaMismatchDeadLetter(t *testing.T) {
	srv := chtest.Shared(t)
	cfg := testConfig(t, srv)
	cfg.SpoolDir = t.TempDir()
	s := newSink(t, cfg)
	// The table changes under the running sink.
	srv.Query(t, "ALTER TABLE test."+cfg.Table+" DROP COLUMN cseq")
	w := s.NewWorker()
	var m decode.Meta
	var sp decode.SIP
	for i := 0; i < 50; i++ {
		testRow(i, &m, &sp)
		w.Append(&m, &sp)
	}
	w.Close()
	closeSink(t, s, 30*time.Second)
	st := s.Stats()
	if st.DeadLetters != 1 || st.DeadLetterRows != 50 || st.RowsInserted != 0 || st.InsertErrors[ClassData] != 1 {
		t.Fatalf("stats %+v, want one dead letter of 50 rows", st)
	}
	dead := filepath.Join(cfg.SpoolDir, "dead-letter") // the default
	errs, _ := filepath.Glob(filepath.Join(dead, "*.err"))
	bodies, _ := filepath.Glob(filepath.Join(dead, "*.spool"))
	if len(errs) != 1 || len(bodies) != 1 {
		t.Fatalf("dead letters: %v %v", errs, bodies)
	}
	msg, _ := os.ReadFile(errs[0])
	if !strings.Contains(string(msg), "cseq") || !strings.Contains(string(msg), "Code: ") {
		t.Fatalf("dead-letter message does not name the column: %s", msg)
	}
	// The body is kept byte for byte: it decodes to the 50 rows.
	p, _ := os.ReadFile(bodies[0])
	s2, _ := openSpool(t.TempDir(), 1<<30)
	b, err := decodeSpool(s2.dec, p)
	if err != nil || b.rows != 50 || len(decodeBody(t, b.data)) != 1 {
		t.Fatalf("dead-letter body: rows %v err %v", b, err)
	}
}

func TestConcurrentFlushers(t *testing.T) {
	srv := chtest.Shared(t)
	cfg := testConfig(t, srv)
	cfg.Flushers = 2
	cfg.MaxAsyncQueries = 3
	cfg.BatchRows = 500
	cfg.WorkerBatches = 16 // a loaded CI machine must not make the test drop rows
	s := newSink(t, cfg)
	const workers, perWorker = 4, 5000 / raceScale
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		w := s.NewWorker()
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			defer w.Close()
			var m decode.Meta
			var sp decode.SIP
			var id []byte
			run := "w" + strconv.Itoa(k)
			for i := 0; i < perWorker; i++ {
				id = uniqueRow(run, i, &m, &sp, id)
				w.Append(&m, &sp)
				if i%100 == 99 { // about 50 000 rows/s per worker
					time.Sleep(2 * time.Millisecond)
					w.Tick(time.Now())
				}
			}
		}(k)
	}
	wg.Wait()
	closeSink(t, s, 60*time.Second)
	st := s.Stats()
	if st.RowsInserted != workers*perWorker {
		t.Fatalf("stats %+v", st)
	}
	checkExactlyOnce(t, srv, cfg.Table, workers*perWorker)
	// Merging: fewer inserts than batches.
	if batches := uint64(workers * perWorker / cfg.BatchRows); st.InsertsOK >= batches {
		t.Logf("inserts %d for %d batches (no merge happened)", st.InsertsOK, batches)
	}
}

// produce appends n rows with unique Call-IDs over about d, from one worker.
func produce(w *Worker, run string, n int, d time.Duration) {
	var m decode.Meta
	var sp decode.SIP
	var id []byte
	step := d / time.Duration(n/100+1)
	for i := 0; i < n; i++ {
		id = uniqueRow(run, i, &m, &sp, id)
		w.Append(&m, &sp)
		if i%100 == 99 {
			time.Sleep(step)
			w.Tick(time.Now())
		}
	}
	w.Close()
}

// drained reports whether s holds nothing unsent.
func drained(s *Sink) bool {
	st := s.Stats()
	return st.SpoolFiles == 0 && st.QueueBodies == 0 && st.QueueBatches == 0
}

func waitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestKillRestartExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own server")
	}
	srv := chtest.Start(t)
	cfg := testConfig(t, srv)
	cfg.SpoolDir = t.TempDir()
	cfg.InsertTimeout = 5 * time.Second
	s := newSink(t, cfg)
	w := s.NewWorker()
	const n = 30000 / raceScale
	done := make(chan struct{})
	go func() { produce(w, "kill", n, 3*time.Second); close(done) }()
	waitFor(t, 60*time.Second, "first inserts", func() bool { return s.Stats().RowsInserted > 0 })
	srv.Kill()
	time.Sleep(time.Second)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	<-done
	waitFor(t, 120*time.Second, "the spool to drain", func() bool { return drained(s) })
	closeSink(t, s, 60*time.Second)
	st := s.Stats()
	t.Logf("stats after kill: inserted %d, errors %v, retries %d, spooled %d, replayed %d", st.RowsInserted, st.InsertErrors, st.Retries, st.SpoolWrites, st.SpoolReplays)
	if st.SpoolFiles != 0 || st.RowsLost != 0 {
		t.Fatalf("spool files %d, lost %d; want all sent", st.SpoolFiles, st.RowsLost)
	}
	checkExactlyOnce(t, srv, cfg.Table, n)
}

func TestPauseSpoolDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own server")
	}
	srv := chtest.Start(t)
	cfg := testConfig(t, srv)
	cfg.SpoolDir = t.TempDir()
	cfg.InsertTimeout = 2 * time.Second
	cfg.QueueBytes = 1 << 20
	s := newSink(t, cfg)
	w := s.NewWorker()
	srv.Stop()
	const n = 20000 / raceScale
	produce(w, "pause", n, 2*time.Second)
	waitFor(t, 60*time.Second, "spooled bodies", func() bool { return s.Stats().SpoolFiles > 0 })
	grown := s.Stats()
	srv.Cont()
	waitFor(t, 120*time.Second, "the spool to drain", func() bool { return drained(s) })
	closeSink(t, s, 30*time.Second)
	st := s.Stats()
	t.Logf("spool grew to %d files / %d bytes; replayed %d; inserted %d rows", grown.SpoolFiles, grown.SpoolBytes, st.SpoolReplays, st.RowsInserted)
	if st.SpoolReplays == 0 || st.RowsLost != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The paused server runs the inserts it read before the client gave up;
	// the sink finds them in system.query_log instead of sending them again.
	t.Logf("bodies found committed after a timeout: %d", st.Resolved)
	checkExactlyOnce(t, srv, cfg.Table, n)
}

func TestSpoolReplayAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own server")
	}
	srv := chtest.Start(t)
	cfg := testConfig(t, srv)
	cfg.SpoolDir = t.TempDir()
	cfg.InsertTimeout = 5 * time.Second
	s := newSink(t, cfg)
	srv.Kill() // nothing can be inserted now
	w := s.NewWorker()
	const n = 5000
	produce(w, "replay", n, 200*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	err := s.Close(ctx) // the appliance stops while ClickHouse is down
	cancel()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := s.Stats()
	if st.SpoolFiles == 0 || st.RowsInserted != 0 {
		t.Fatalf("after close: %+v, want a non-empty spool", st)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	s2 := newSink(t, cfg) // the next run replays the spool
	waitFor(t, 120*time.Second, "replay", func() bool { return s2.Stats().SpoolFiles == 0 })
	closeSink(t, s2, 30*time.Second)
	if st2 := s2.Stats(); st2.SpoolReplays != uint64(st.SpoolFiles) {
		t.Fatalf("replayed %d of %d files", st2.SpoolReplays, st.SpoolFiles)
	}
	checkExactlyOnce(t, srv, cfg.Table, n)
}

func TestRetentionDropsOldPartitions(t *testing.T) {
	srv := chtest.Shared(t)
	cfg := testConfig(t, srv)
	cfg.RetentionDays = 3
	s := newSink(t, cfg)
	w := s.NewWorker()
	var m decode.Meta
	var sp decode.SIP
	now := time.Now().UnixMicro()
	for i := 0; i < 40; i++ {
		testRow(i, &m, &sp)
		m.TS = now - int64(i%10)*86_400_000_000 // today and the nine days before
		w.Append(&m, &sp)
	}
	w.Close()
	closeSink(t, s, 30*time.Second)
	if got := srv.Query(t, "SELECT count() FROM test."+cfg.Table); got != "40" {
		t.Fatalf("count %s", got)
	}
	s.dropOldPartitions(context.Background()) // the sink is closed; its client still works
	// Days today-0 … today-3 stay (max_date >= today - 3): 4 of 10 days.
	if got := srv.Query(t, "SELECT count() FROM test."+cfg.Table); got != "16" {
		t.Fatalf("after retention: %s rows, want 16", got)
	}
}

// TestStartUnready starts the sink while ClickHouse is down, as at boot when
// the appliance comes up first: without StartUnready New fails; with it, New
// returns at once, takes rows, and once the server is up sets itself up and
// inserts every row exactly once.
func TestStartUnready(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own server")
	}
	srv := chtest.Start(t)
	cfg := testConfig(t, srv)
	cfg.InsertTimeout = 2 * time.Second
	cfg.HandoffWait = time.Second
	srv.Kill()
	if s, err := New(context.Background(), cfg, &Options{Logger: quietLogger(t)}); err == nil {
		s.Close(context.Background())
		t.Fatal("New succeeded with ClickHouse down and StartUnready unset")
	}
	cfg.StartUnready = true
	t0 := time.Now()
	s := newSink(t, cfg)
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("New took %v with StartUnready", d)
	}
	select {
	case <-s.Ready():
		t.Fatal("ready while ClickHouse is down")
	default:
	}
	if s.Layout() != nil {
		t.Fatal("a layout before the table was read")
	}
	// Fewer rows than the worker's batches hold: none may be lost.
	w := s.NewWorker()
	const n = 2500
	done := make(chan struct{})
	go func() { produce(w, "unready", n, 1500*time.Millisecond); close(done) }()
	time.Sleep(time.Second)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Ready():
	case <-time.After(60 * time.Second):
		t.Fatal("not ready 60 s after ClickHouse came up")
	}
	<-done
	waitFor(t, 60*time.Second, "the rows", func() bool { return s.Stats().RowsInserted == n })
	closeSink(t, s, 30*time.Second)
	if st := s.Stats(); st.RowsLost != 0 {
		t.Fatalf("stats %+v", st)
	}
	checkExactlyOnce(t, srv, cfg.Table, n)
}

// TestStartUnreadyNeverUp closes a sink whose server never came up: the
// close ends within its deadline and counts the rows it held as lost.
func TestStartUnreadyNeverUp(t *testing.T) {
	cfg := &Config{URL: "http://127.0.0.1:1/test", Table: "never", StartUnready: true,
		BatchRows: 100, BatchAge: 50 * time.Millisecond, HandoffWait: 100 * time.Millisecond, InsertTimeout: time.Second}
	s := newSink(t, cfg)
	w := s.NewWorker()
	produce(w, "never", 250, 100*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	t0 := time.Now()
	err := s.Close(ctx)
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if st := s.Stats(); err == nil || st.RowsLost != 250 || st.RowsInserted != 0 {
		t.Fatalf("Close: %v, stats %+v; want 250 rows lost", err, st)
	}
}

// TestCloseExpiredAtStart closes a sink with an expired context before its
// senders first ran (GOMAXPROCS 1): they see the sink ready and stopped hard
// at once, and must still spool or count what the flushers encode, not
// leave it on the queue uncounted.
func TestCloseExpiredAtStart(t *testing.T) {
	srv := chtest.Shared(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	bad := 0
	for i := 0; i < 12; i++ {
		cfg := testConfig(t, srv)
		cfg.MaxAsyncQueries = 1
		s := newSink(t, cfg)
		w := s.NewWorker()
		produce(w, "h"+strconv.Itoa(i), 10, 0)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Close(ctx)
		st := s.Stats()
		if st.RowsInserted+st.RowsLost != 10 {
			bad++
			t.Logf("iter %d: close %v, inserted %d lost %d queue bodies %d", i, err, st.RowsInserted, st.RowsLost, st.QueueBodies)
		}
	}
	if bad > 0 {
		t.Errorf("%d of 12 closes lost rows silently", bad)
	}
}
