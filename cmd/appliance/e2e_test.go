package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sipcap/appliance/sink/chtest"
)

func query(t *testing.T, srv *chtest.Server, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := srv.Exec(ctx, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return strings.TrimSpace(out)
}

// inspectRows runs inspect --json over files and returns one key per message
// (callid, cseq, method, micro_ts), sorted.
func inspectRows(t *testing.T, files ...string) []string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"inspect", "--json"}, files...), &out, &errOut); err != nil {
		t.Fatalf("inspect: %v", err)
	}
	var keys []string
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var r struct {
			CallID  string  `json:"callid"`
			CSeq    string  `json:"cseq"`
			Method  string  `json:"method"`
			MicroTS float64 `json:"micro_ts"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, fmt.Sprintf("%s|%s|%s|%d", r.CallID, r.CSeq, r.Method, int64(r.MicroTS)))
	}
	sort.Strings(keys)
	return keys
}

// TestReplayToClickHouse: every SIP message of a capture appears exactly
// once in ClickHouse, with the fields inspect reports.
func TestReplayToClickHouse(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse")
	}
	srv := chtest.Start(t)
	files := []string{writeTestCapture(t, 500)}
	if shared := sharedCapturesOrNil(); shared != nil {
		files = append(files, shared...)
	} else {
		t.Log("shared captures absent: replaying the generated capture only")
	}
	want := inspectRows(t, files...)
	var out, errOut bytes.Buffer
	args := append([]string{"replay", "--db_url", srv.URL() + "/e2e", "--spool_dir", t.TempDir(),
		"--capture_node", "e2e-node", "--batch_rows", "100"}, files...)
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut.String())
	}
	got := strings.Split(query(t, srv, `SELECT concat(callid, '|', cseq, '|', method, '|', toString(toUInt64(micro_ts)))
		FROM e2e.sip_capture ORDER BY 1 FORMAT TSV`), "\n")
	sort.Strings(got)
	if len(got) != len(want) {
		t.Fatalf("ClickHouse holds %d rows, inspect found %d messages\n%s", len(got), len(want), errOut.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: ClickHouse %q, inspect %q", i, got[i], want[i])
		}
	}
	if n := query(t, srv, `SELECT count() FROM e2e.sip_capture WHERE node != 'e2e-node'`); n != "0" {
		t.Errorf("%s rows without the node name", n)
	}
	if v := query(t, srv, `SELECT callid_aleg, encap, vlan FROM e2e.sip_capture WHERE callid = 'call-7' FORMAT TSV`); v != "aleg-7\teth/vlan/ip4/udp\t42" {
		t.Errorf("call-7: %q", v)
	}
	t.Logf("%d messages from %d captures stored exactly once\n%s", len(want), len(files), out.String())
}

func sharedCapturesOrNil() []string {
	dir := os.Getenv("APPLIANCE_SHARED")
	if dir == "" {
		_, self, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(self), "..", "..", "..", "shared")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "testdata", "pcap", "*.pcap*"))
	sort.Strings(files)
	return files
}
