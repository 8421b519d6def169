package sink

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSpool(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(i int) *body {
		return &body{query: "INSERT INTO `a`.`b` (`c`) FORMAT Native", token: "tok" + itoa(int64(i)), rows: i, data: []byte("payload-" + itoa(int64(i))), ambiguous: i%2 == 1}
	}
	for i := 1; i <= 3; i++ {
		if err := sp.put(mk(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A half-written file from a crash is removed on open; order survives.
	os.WriteFile(filepath.Join(dir, "tmp-123"), []byte("x"), 0o644)
	sp2, err := openSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := sp2.usage(); n != 3 {
		t.Fatalf("%d files after reopen, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp-123")); !os.IsNotExist(err) {
		t.Fatal("temporary file not removed")
	}
	for i := 1; i <= 3; i++ {
		name, ok := sp2.claim()
		if !ok {
			t.Fatal("nothing to claim")
		}
		b, err := sp2.load(name)
		if err != nil {
			t.Fatal(err)
		}
		w := mk(i)
		if b.query != w.query || b.token != w.token || b.rows != w.rows || string(b.data) != string(w.data) || b.ambiguous != w.ambiguous {
			t.Fatalf("file %d: got %+v, want %+v (oldest first)", i, b, w)
		}
		if i == 2 {
			sp2.release(name) // a failed send puts it back
			again, _ := sp2.claim()
			if again != name {
				t.Fatalf("released file not claimed again first: %s vs %s", again, name)
			}
		}
		sp2.remove(name)
	}
	if n, b := sp2.usage(); n != 0 || b != 0 {
		t.Fatalf("usage %d files %d bytes after removing all", n, b)
	}
	// The cap.
	small, _ := openSpool(t.TempDir(), 100)
	big := &body{query: "q", data: make([]byte, 4096)}
	for i := range big.data {
		big.data[i] = byte(i * 7919 >> 3)
	}
	if err := small.put(big); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("put over cap: %v", err)
	}
	// Corrupt files are reported, not panicked on.
	for _, p := range [][]byte{nil, []byte(spoolMagic), []byte(spoolMagic + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")} {
		if _, err := decodeSpool(sp.dec, p); err == nil {
			t.Fatalf("corrupt %q accepted", p)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	var nilCfg *Config
	if err := nilCfg.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	d := nilCfg.withDefaults()
	if d.BatchRows != 50_000 || d.BatchBytes != 16<<20 || d.BatchAge != time.Second || d.MaxAsyncQueries != 5 || d.Table != "sip_capture" {
		t.Fatalf("defaults: %+v", d)
	}
	bad := []Config{
		{URL: "ftp://x/db"}, {URL: "http://x/db;drop"}, {URL: "http:///db"}, {Table: "a-b"},
		{Compression: "brotli"}, {BatchRows: -1}, {MaxAsyncQueries: 1000}, {RetryMin: time.Second, RetryMax: time.Millisecond},
		{BatchBytes: 64 << 20, MaxInsertBytes: 32 << 20}, {WorkerBatches: 1},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	c := Config{URL: "https://u:p%40ss@ch.example:8443/homer"}
	ep, err := c.endpoint()
	if err != nil || ep.database != "homer" || ep.user != "u" || ep.password != "p@ss" || ep.base != "https://ch.example:8443/" {
		t.Fatalf("endpoint %+v %v", ep, err)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		want ErrClass
	}{
		{nil, ClassNone},
		{&ServerError{Status: 500, Code: 252, Msg: "Code: 252, Too many parts"}, ClassServer},
		{&ServerError{Status: 500, Code: 241}, ClassServer},
		{&ServerError{Status: 400, Code: 16, Msg: "No such column"}, ClassData},
		{&ServerError{Status: 500, Code: 53}, ClassData},
		{&ServerError{Status: 502}, ClassServer},
		{errors.New("connection reset"), ClassNetwork},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if parseCode("Code: 252, e.displayText() = DB::Exception") != 252 || parseCode("oops") != 0 {
		t.Fatal("parseCode")
	}
}
