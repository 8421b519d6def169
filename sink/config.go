package sink

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/ch-go/compress"
)

// Config configures a Sink. The zero value of every field means its default;
// a nil *Config means all defaults.
type Config struct {
	// URL is the ClickHouse HTTP(S) address, sipcapture's db_url:
	// "http://user:pass@host:8123/database". The path names the database
	// (default "default"); user and password are sent as HTTP basic auth.
	// Default "http://127.0.0.1:8123/default".
	URL string
	// Table is the capture table (table_name). Default "sip_capture".
	Table string
	// CAFile is a PEM file of CA certificates for HTTPS; empty means the
	// system roots.
	CAFile string
	// Compression of the Native body: "lz4" (default), "zstd" or "none".
	Compression string
	// CreateTable creates the database and table when missing. Default true;
	// set NoCreate to disable.
	NoCreate bool
	// RetentionDays keeps that many days of data (TTL on current servers,
	// dropping partitions on old ones); 0 keeps everything.
	RetentionDays int

	// Node is capture_node, stored in the node column. Default "appliance".
	Node string
	// NodeFromHEP stores the HEP agent name (chunk 0x0013) in node for HEP
	// messages that carry one.
	NodeFromHEP bool

	// BatchRows, BatchBytes and BatchAge flush a worker's batch when it holds
	// that many rows (default 50 000) or bytes (default 16 MiB), or its first
	// row is that old (default 1 s; age flushes are aligned to multiples of
	// BatchAge so that the batches of all workers meet in one insert).
	BatchRows  int
	BatchBytes int
	BatchAge   time.Duration
	// WorkerBatches is how many batches each worker owns (one filling, the
	// rest queued or being encoded). Default 4.
	WorkerBatches int
	// HandoffWait is how long a worker whose batches are all queued waits
	// for one to come back before dropping the full batch's rows (counted
	// in Stats.RowsLost). Default 20 ms; negative means do not wait.
	HandoffWait time.Duration

	// MaxAsyncQueries bounds the inserts in flight (max_async_queries). Default 5.
	MaxAsyncQueries int
	// Flushers is the number of goroutines encoding and compressing
	// bodies. Default 2.
	Flushers int
	// MaxInsertBytes caps the uncompressed size of one insert made of
	// several workers' batches. Default 64 MiB.
	MaxInsertBytes int
	// QueueBytes caps the compressed bodies held in memory waiting for an
	// insert slot or retrying; beyond it bodies go to the spool, or, with no
	// spool, the flushers wait (and workers drop after HandoffWait).
	// Default 256 MiB.
	QueueBytes int

	// InsertTimeout bounds one HTTP insert. Default 30 s.
	InsertTimeout time.Duration
	// RetryMin and RetryMax bound the exponential backoff between retries
	// (full jitter). Defaults 100 ms and 10 s.
	RetryMin, RetryMax time.Duration
	// SpoolAfter is how long a body is retried in memory before it is moved
	// to the spool (when one is configured). Default 5 s.
	SpoolAfter time.Duration

	// SpoolDir is the disk spool (--spool-dir); empty disables it, and
	// then only memory holds bodies during an outage.
	SpoolDir string
	// SpoolBytes caps the spool's size on disk. Default 1 GiB.
	SpoolBytes int64
	// DeadLetterDir receives bodies the server rejected as invalid, each
	// with an .err file holding the server's message. Default
	// SpoolDir/dead-letter; empty with no SpoolDir drops them (counted).
	DeadLetterDir string
	// DrainTimeout bounds the drain when the context given to New ends.
	// Default 10 s.
	DrainTimeout time.Duration
	// StartUnready lets New return when ClickHouse cannot be reached (a
	// network error): the sink takes rows at once and sets itself up in the
	// background, retrying with backoff; until then rows wait in the
	// workers' batches (WorkerBatches × BatchRows per worker) and, when
	// those are all queued, are dropped after HandoffWait (counted); the
	// spool cannot help before then, as it holds bodies encoded for the
	// layout. Ready reports when it can insert. A Close while it is not
	// ready ends only when ClickHouse answers or Close's context ends, so
	// give it a deadline. Without StartUnready New returns the error.
	StartUnready bool
	// RetentionEvery is how often old partitions are dropped on servers
	// without TTL. Default 1 h.
	RetentionEvery time.Duration
}

// withDefaults returns a copy of c (or of the zero Config) with defaults filled in.
func (c *Config) withDefaults() Config {
	var o Config
	if c != nil {
		o = *c
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	if o.URL == "" {
		o.URL = "http://127.0.0.1:8123/default"
	}
	if o.Table == "" {
		o.Table = "sip_capture"
	}
	if o.Compression == "" {
		o.Compression = "lz4"
	}
	if o.Node == "" {
		o.Node = "appliance"
	}
	def(&o.BatchRows, 50_000)
	def(&o.BatchBytes, 16<<20)
	defD(&o.BatchAge, time.Second)
	def(&o.WorkerBatches, 4)
	defD(&o.HandoffWait, 20*time.Millisecond)
	def(&o.MaxAsyncQueries, 5)
	def(&o.Flushers, 2)
	def(&o.MaxInsertBytes, 64<<20)
	def(&o.QueueBytes, 256<<20)
	defD(&o.InsertTimeout, 30*time.Second)
	defD(&o.RetryMin, 100*time.Millisecond)
	defD(&o.RetryMax, 10*time.Second)
	defD(&o.SpoolAfter, 5*time.Second)
	if o.SpoolBytes == 0 {
		o.SpoolBytes = 1 << 30
	}
	if o.DeadLetterDir == "" && o.SpoolDir != "" {
		o.DeadLetterDir = o.SpoolDir + "/dead-letter"
	}
	defD(&o.DrainTimeout, 10*time.Second)
	defD(&o.RetentionEvery, time.Hour)
	return o
}

// Validate checks c after defaults are applied.
func (c *Config) Validate() error {
	o := c.withDefaults()
	if _, err := o.endpoint(); err != nil {
		return err
	}
	if _, err := o.method(); err != nil {
		return err
	}
	switch {
	case !validIdent(o.Table):
		return fmt.Errorf("sink: table %q: %w", o.Table, ErrIdent)
	case o.BatchRows < 1 || o.BatchRows > 10_000_000:
		return fmt.Errorf("sink: batch rows %d: want 1..10000000", o.BatchRows)
	case o.BatchBytes < 1<<10 || o.BatchBytes > 1<<30:
		return fmt.Errorf("sink: batch bytes %d: want 1 KiB..1 GiB", o.BatchBytes)
	case o.BatchAge < time.Millisecond:
		return fmt.Errorf("sink: batch age %v: want at least 1ms", o.BatchAge)
	case o.WorkerBatches < 2 || o.WorkerBatches > 1024:
		return fmt.Errorf("sink: worker batches %d: want 2..1024", o.WorkerBatches)
	case o.HandoffWait > time.Second:
		return fmt.Errorf("sink: handoff wait %v: want at most 1s", o.HandoffWait)
	case o.MaxAsyncQueries < 1 || o.MaxAsyncQueries > 256:
		return fmt.Errorf("sink: max_async_queries %d: want 1..256", o.MaxAsyncQueries)
	case o.Flushers < 1 || o.Flushers > 256:
		return fmt.Errorf("sink: flushers %d: want 1..256", o.Flushers)
	case o.MaxInsertBytes < o.BatchBytes:
		return fmt.Errorf("sink: max insert bytes %d: want at least batch bytes %d", o.MaxInsertBytes, o.BatchBytes)
	case o.QueueBytes < 1<<20:
		return fmt.Errorf("sink: queue bytes %d: want at least 1 MiB", o.QueueBytes)
	case o.RetryMin <= 0 || o.RetryMax < o.RetryMin:
		return fmt.Errorf("sink: retry backoff %v..%v: want 0 < min <= max", o.RetryMin, o.RetryMax)
	case o.InsertTimeout < 10*time.Millisecond:
		return fmt.Errorf("sink: insert timeout %v: want at least 10ms", o.InsertTimeout)
	case o.SpoolBytes < 1<<20:
		return fmt.Errorf("sink: spool bytes %d: want at least 1 MiB", o.SpoolBytes)
	case o.RetentionDays < 0 || o.RetentionDays > 100_000:
		return fmt.Errorf("sink: retention days %d: want 0..100000", o.RetentionDays)
	}
	return nil
}

// endpoint splits URL into the server base URL (no user info, no path), the
// database, and the credentials.
type endpoint struct {
	base     string
	host     string
	database string
	user     string
	password string
	hasAuth  bool
}

func (c *Config) endpoint() (endpoint, error) {
	var e endpoint
	u, err := url.Parse(c.URL)
	if err != nil {
		return e, fmt.Errorf("sink: clickhouse url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return e, fmt.Errorf("sink: clickhouse url %q: scheme must be http or https", redact(u))
	}
	if u.Host == "" {
		return e, fmt.Errorf("sink: clickhouse url %q: no host", redact(u))
	}
	e.database = strings.Trim(u.Path, "/")
	if e.database == "" {
		e.database = "default"
	}
	if !validIdent(e.database) {
		return e, fmt.Errorf("sink: database %q: %w", e.database, ErrIdent)
	}
	if u.User != nil {
		e.user = u.User.Username()
		e.password, _ = u.User.Password()
		e.hasAuth = true
	}
	e.base = u.Scheme + "://" + u.Host + "/"
	e.host = u.Host
	return e, nil
}

// Database returns the database named by the URL (default "default"),
// for printing the DDL (appliance schema) without a server.
func (c *Config) Database() (string, error) {
	o := c.withDefaults()
	ep, err := o.endpoint()
	return ep.database, err
}

func redact(u *url.URL) string {
	v := *u
	if v.User != nil {
		v.User = url.User(v.User.Username())
	}
	return v.String()
}

func (c *Config) method() (compress.Method, error) {
	switch strings.ToLower(c.Compression) {
	case "lz4":
		return compress.LZ4, nil
	case "zstd":
		return compress.ZSTD, nil
	case "none":
		return compress.None, nil
	}
	return 0, fmt.Errorf("sink: compression %q: want lz4, zstd or none", c.Compression)
}
