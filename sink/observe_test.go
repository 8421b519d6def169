package sink

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/sink/chtest"
)

// TestObserversAndAge: the observers see every body and insert, the age of
// the oldest unflushed row grows while a batch fills and drops to zero once
// it is inserted, and SetNode changes the node of the following rows.
func TestObserversAndAge(t *testing.T) {
	srv := chtest.Shared(t)
	cfg := testConfig(t, srv)
	cfg.BatchAge = 10 * time.Second // only Flush hands batches over
	var mu sync.Mutex
	var bodyRows, insertRows, inserts int
	s, err := New(context.Background(), cfg, &Options{Logger: quietLogger(t),
		OnBody: func(rows, bytes int) {
			mu.Lock()
			defer mu.Unlock()
			if bytes <= 0 {
				t.Errorf("body of %d bytes", bytes)
			}
			bodyRows += rows
		},
		OnInsert: func(d time.Duration, rows int) {
			mu.Lock()
			defer mu.Unlock()
			if d <= 0 {
				t.Errorf("insert took %v", d)
			}
			insertRows += rows
			inserts++
		}})
	if err != nil {
		t.Fatal(err)
	}
	w := s.NewWorker()
	if age := s.OldestUnflushed(time.Now()); age != 0 {
		t.Fatalf("age %v with nothing pending", age)
	}
	var m decode.Meta
	var sp decode.SIP
	var id []byte
	for i := 0; i < 10; i++ {
		id = uniqueRow("a", i, &m, &sp, id)
		w.Append(&m, &sp)
	}
	time.Sleep(50 * time.Millisecond)
	if age := s.OldestUnflushed(time.Now()); age < 50*time.Millisecond || age > 10*time.Second {
		t.Errorf("age %v while a batch fills for 50 ms", age)
	}
	w.SetNode("node-2")
	for i := 10; i < 20; i++ {
		id = uniqueRow("a", i, &m, &sp, id)
		w.Append(&m, &sp)
	}
	w.Flush()
	waitFor(t, 20*time.Second, "the insert", func() bool { return s.Stats().RowsInserted == 20 })
	waitFor(t, 5*time.Second, "age back to 0", func() bool { return s.OldestUnflushed(time.Now()) == 0 })
	w.Close()
	closeSink(t, s, 30*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if bodyRows != 20 || insertRows != 20 || inserts == 0 {
		t.Errorf("observed bodies %d rows, inserts %d of %d rows", bodyRows, inserts, insertRows)
	}
	// SetNode applies from the next row on, in the same batch.
	if got := srv.Query(t, "SELECT node, count() FROM test."+cfg.Table+" GROUP BY node ORDER BY node"); got != "node-1\t10\nnode-2\t10" {
		t.Errorf("nodes: %q", got)
	}
}
