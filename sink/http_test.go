package sink

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipcap/appliance/decode"
)

// fakeClickHouse answers the start-up queries of an 18.16 server with the
// legacy table and records inserts.
type fakeClickHouse struct {
	mu      sync.Mutex
	users   []string
	inserts [][]byte
	queries []string
}

func (f *fakeClickHouse) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, _ := r.BasicAuth()
	q := r.URL.Query().Get("query")
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.users = append(f.users, user+":"+pass)
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	switch {
	case user != "homer" || pass != "s3cr:t":
		http.Error(w, "Code: 516, e.displayText() = DB::Exception: Authentication failed", 401)
	case q == "SELECT version()":
		io.WriteString(w, "18.16.1\n")
	case strings.HasPrefix(q, "SELECT name, type, default_kind FROM system.columns"):
		for _, c := range columns {
			io.WriteString(w, c.name+"\t"+c.legacy+"\t\n")
		}
	case strings.HasPrefix(q, "INSERT"):
		if r.URL.Query().Get("decompress") != "1" {
			http.Error(w, "Code: 271, no decompress", 400)
			return
		}
		f.mu.Lock()
		f.inserts = append(f.inserts, body)
		f.mu.Unlock()
	default: // DDL, settings
	}
}

func TestHTTPSAuthAndCAFile(t *testing.T) {
	fake := &fakeClickHouse{}
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(srv.URL, "https://", "https://homer:s3cr%3At@", 1) + "/homer_data"

	// Without the CA file the server is not trusted.
	if _, err := New(context.Background(), &Config{URL: url}, &Options{Logger: quietLogger(t)}); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
	s, err := New(context.Background(), &Config{URL: url, CAFile: ca, BatchAge: 10 * time.Millisecond}, &Options{Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	w := s.NewWorker()
	var m decode.Meta
	var sp decode.SIP
	for i := 0; i < 20; i++ {
		testRow(i, &m, &sp)
		w.Append(&m, &sp)
	}
	w.Close()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.inserts) != 1 {
		t.Fatalf("%d inserts, want 1", len(fake.inserts))
	}
	blocks := decodeBody(t, fake.inserts[0])
	if len(blocks) != 1 || blocks[0].Rows() != 20 {
		t.Fatalf("insert body: %d blocks", len(blocks))
	}
	for i, u := range fake.users {
		if u != "homer:s3cr:t" {
			t.Fatalf("request %d (%s) authenticated as %q", i, fake.queries[i], u)
		}
	}
	var ddl bool
	for _, q := range fake.queries {
		if strings.HasPrefix(q, "CREATE TABLE IF NOT EXISTS `homer_data`.`sip_capture`") {
			ddl = true
		}
	}
	if !ddl {
		t.Fatal("no CREATE TABLE for homer_data.sip_capture")
	}
}
