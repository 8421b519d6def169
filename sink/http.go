package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrClass says what kind of failure an insert met, and so whether it is
// retried.
type ErrClass uint8

const (
	// ClassNone is success.
	ClassNone ErrClass = iota
	// ClassNetwork is a connection failure (refused, reset, DNS).
	ClassNetwork
	// ClassTimeout is a request that took longer than InsertTimeout.
	ClassTimeout
	// ClassServer is an error the server may not repeat (5xx, too many
	// parts, memory limit, read-only table…): retried.
	ClassServer
	// ClassData is an error the server will repeat for the same body
	// (unknown column, type mismatch, cannot parse): dead-lettered.
	ClassData
	numClasses
)

func (c ErrClass) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassNetwork:
		return "network"
	case ClassTimeout:
		return "timeout"
	case ClassServer:
		return "server"
	case ClassData:
		return "data"
	}
	return "unknown"
}

// Retriable reports whether a failure of class c is worth retrying.
func (c ErrClass) Retriable() bool { return c != ClassData && c != ClassNone }

// ServerError is a ClickHouse error response.
type ServerError struct {
	Status int    // HTTP status
	Code   int    // ClickHouse error code, 0 when the body has none
	Msg    string // the body, trimmed and bounded
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("clickhouse http %d: %s", e.Status, e.Msg)
}

// dataCodes are ClickHouse error codes that the same body will meet again.
var dataCodes = map[int]bool{
	6:   true, // CANNOT_PARSE_TEXT
	8:   true, // THERE_IS_NO_COLUMN
	10:  true, // NOT_FOUND_COLUMN_IN_BLOCK
	16:  true, // NO_SUCH_COLUMN_IN_TABLE
	20:  true, // NUMBER_OF_COLUMNS_DOESNT_MATCH
	26:  true, // CANNOT_PARSE_QUOTED_STRING
	27:  true, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
	32:  true, // ATTEMPT_TO_READ_AFTER_EOF
	33:  true, // CANNOT_READ_ALL_DATA
	38:  true, // CANNOT_PARSE_DATE
	41:  true, // CANNOT_PARSE_DATETIME
	44:  true, // ILLEGAL_COLUMN
	47:  true, // UNKNOWN_IDENTIFIER
	49:  true, // LOGICAL_ERROR
	50:  true, // UNKNOWN_TYPE
	53:  true, // TYPE_MISMATCH
	62:  true, // SYNTAX_ERROR
	70:  true, // CANNOT_CONVERT_TYPE
	72:  true, // CANNOT_PARSE_NUMBER
	73:  true, // UNKNOWN_FORMAT
	108: true, // NO_DATA_TO_INSERT
	117: true, // INCORRECT_DATA
	271: true, // CANNOT_DECOMPRESS
	432: true, // UNKNOWN_CODEC
}

// parseCode extracts N from a body starting with "Code: N" (or containing it).
func parseCode(body string) int {
	i := strings.Index(body, "Code: ")
	if i < 0 {
		return 0
	}
	s := body[i+6:]
	j := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(s[:j])
	return n
}

// codeSameQueryRunning is QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING: an earlier
// attempt of the same body is still being executed.
const codeSameQueryRunning = 216

// ambiguous reports whether a failed insert may still have been (or be
// being) committed by the server: a timeout, a connection lost after the
// request was written, or the same query still running. A refused
// connection or an error response is not ambiguous.
func ambiguous(err error) bool {
	if err == nil {
		return false
	}
	var se *ServerError
	if errors.As(err, &se) {
		return se.Code == codeSameQueryRunning
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return false
	}
	return true
}

// classify maps an insert's outcome to its class.
func classify(err error) ErrClass {
	if err == nil {
		return ClassNone
	}
	var se *ServerError
	if errors.As(err, &se) {
		if dataCodes[se.Code] {
			return ClassData
		}
		return ClassServer
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return ClassTimeout
	}
	return ClassNetwork
}

// client talks HTTP to one ClickHouse server.
type client struct {
	ep      endpoint
	hc      *http.Client
	timeout time.Duration
}

func newClient(cfg *Config) (*client, error) {
	ep, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.MaxAsyncQueries + 4,
		MaxIdleConnsPerHost: cfg.MaxAsyncQueries + 4,
		IdleConnTimeout:     25 * time.Second, // below the server's keep_alive_timeout default
		DisableCompression:  true,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sink: read ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sink: ca file %s: no PEM certificates", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &client{ep: ep, hc: &http.Client{Transport: tr}, timeout: cfg.InsertTimeout}, nil
}

func (c *client) do(ctx context.Context, params url.Values, body []byte) (string, error) {
	u := c.ep.base + "?" + params.Encode()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	if c.ep.hasAuth {
		req.SetBasicAuth(c.ep.user, c.ep.password)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL holds the whole query: too long for logs
		}
		return "", fmt.Errorf("post %s: %w", c.ep.host, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 4096 {
			msg = msg[:4096]
		}
		return "", &ServerError{Status: resp.StatusCode, Code: parseCode(msg), Msg: msg}
	}
	return string(out), nil
}

// query runs one statement and returns its output.
func (c *client) query(ctx context.Context, sql string, settings ...string) (string, error) {
	p := url.Values{"query": {sql}}
	for i := 0; i+1 < len(settings); i += 2 {
		p.Set(settings[i], settings[i+1])
	}
	return c.do(ctx, p, nil)
}

// insert sends one compressed Native body. With dedup the server drops a
// repeated body by token; without, the query carries queryID so that an
// ambiguous failure can be resolved from system.query_log.
func (c *client) insert(ctx context.Context, query, token, queryID string, body []byte, dedup bool, settings ...string) error {
	p := url.Values{"query": {query}, "decompress": {"1"}}
	if !dedup && queryID != "" {
		p.Set("query_id", queryID)
		p.Set("log_queries", "1")
	}
	for i := 0; i+1 < len(settings); i += 2 {
		p.Set(settings[i], settings[i+1])
	}
	if dedup && token != "" {
		p.Set("insert_deduplication_token", token)
	}
	_, err := c.do(ctx, p, body)
	return err
}
