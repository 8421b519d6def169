package sink

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ClickHouse/ch-go/compress"

	"github.com/sipcap/appliance/decode"
)

// chdbScript runs each query of the JSON array in argv[1] in one chdb
// Session (data in argv[2]) and prints a JSON array of results; a failing
// query yields "ERROR: …".
const chdbScript = `
const fs = require('fs');
const { Session } = require('chdb');
const qs = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const s = new Session(process.argv[2]);
const out = [];
for (const q of qs) {
  try { out.push(String(s.query(q, 'TabSeparated'))); }
  catch (e) { out.push('ERROR: ' + String(e && e.message || e)); }
}
s.cleanup && s.cleanup();
process.stdout.write(JSON.stringify(out));
`

// chdbModules returns the node_modules folder holding chdb (installed by
// scripts/deps-npm.sh into .deps/node at the module root), or skips t.
func chdbModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed (make deps)")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	mods := filepath.Join(dir, ".deps", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "chdb")); err != nil {
		t.Skipf("chdb not installed in %s (run scripts/deps-npm.sh or make deps)", mods)
	}
	return mods
}

func runChdb(t *testing.T, mods, dataDir string, queries []string) []string {
	t.Helper()
	qf := filepath.Join(t.TempDir(), "q.json")
	p, _ := json.Marshal(queries)
	if err := os.WriteFile(qf, p, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "-e", chdbScript, qf, dataDir)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node chdb: %v: %s", err, stderr)
	}
	var res []string
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("chdb output: %v: %.300s", err, out)
	}
	return res
}

// TestModernDialectChdb creates the modern DDL in ClickHouse 26.x (chdb),
// builds the layout from its system.columns, writes the sink's Native
// blocks to a file and reads them back through file(…, Native), comparing
// every column; then inserts the file into the table.
func TestModernDialectChdb(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the chdb engine")
	}
	mods := chdbModules(t)
	data := t.TempDir()
	stmts, err := DDL(Modern, "homer", "sip_capture", 30)
	if err != nil {
		t.Fatal(err)
	}
	q := append(stmts, "SELECT version()",
		"SELECT name, type, default_kind FROM system.columns WHERE database = 'homer' AND table = 'sip_capture'")
	res := runChdb(t, mods, data, q)
	for i, r := range res[:len(stmts)] {
		if strings.HasPrefix(r, "ERROR") {
			t.Fatalf("DDL %d rejected: %s\n%s", i, r, stmts[i])
		}
	}
	t.Logf("chdb %s", strings.TrimSpace(res[len(stmts)]))
	var have []TableColumn
	for _, line := range strings.Split(strings.TrimSpace(res[len(stmts)+1]), "\n") {
		f := strings.Split(line, "\t")
		tc := TableColumn{Name: f[0], Type: strings.ReplaceAll(f[1], `\'`, `'`)}
		if len(f) > 2 {
			tc.DefaultKind = f[2]
		}
		have = append(have, tc)
	}
	l, err := NewLayout("homer", "sip_capture", have)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Skipped) != 0 {
		t.Fatalf("modern table lacks %v", l.Skipped)
	}

	const n = 300
	b := NewSIPBatch("node-m")
	var m decode.Meta
	var sp decode.SIP
	for i := 0; i < n; i++ {
		testRow(i, &m, &sp)
		b.Append(&m, &sp)
	}
	enc := NewEncoder(l, compress.LZ4)
	file := filepath.Join(t.TempDir(), "body.native")
	if err := os.WriteFile(file, enc.AppendBlock(nil, b), 0o644); err != nil {
		t.Fatal(err)
	}
	var sel []string
	for _, tg := range l.targets {
		switch tg.col.kind {
		case kindStr, kindIP:
			sel = append(sel, "hex(`"+tg.name+"`)")
		case kindDate:
			sel = append(sel, "toUInt32(`"+tg.name+"`)")
		case kindMicro:
			sel = append(sel, "toUnixTimestamp64Micro(`"+tg.name+"`)")
		default:
			sel = append(sel, "toString(`"+tg.name+"`)")
		}
	}
	res = runChdb(t, mods, data, []string{
		fmt.Sprintf("DESCRIBE file('%s', Native)", file),
		fmt.Sprintf("SELECT %s FROM file('%s', Native) ORDER BY micro_ts", strings.Join(sel, ", "), file),
		fmt.Sprintf("INSERT INTO homer.sip_capture (%s) SELECT * FROM file('%s', Native)", strings.Join(l.Columns(), ", "), file),
		"SELECT count(), uniqExact(callid), sum(length(msg)) FROM homer.sip_capture",
	})
	for i, r := range res {
		if strings.HasPrefix(r, "ERROR") {
			t.Fatalf("chdb query %d: %s", i, r)
		}
	}
	if !strings.Contains(res[0], "LowCardinality(String)") || !strings.Contains(res[0], "DateTime64(6)") {
		t.Fatalf("file types: %s", res[0])
	}
	lines := strings.Split(strings.TrimRight(res[1], "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d rows back, want %d", len(lines), n)
	}
	total := 0
	for i, line := range lines {
		testRow(i, &m, &sp)
		total += len(sp.Msg)
		f := strings.Split(line, "\t")
		for ci, tg := range l.targets {
			w := want(tg.col, tg.ct, &m, &sp, "node-m")
			if tg.col.kind == kindStr || tg.col.kind == kindIP {
				w = strings.ToUpper(hex.EncodeToString([]byte(w)))
			}
			if f[ci] != w {
				t.Fatalf("row %d column %s = %q, want %q", i, tg.name, trunc(f[ci]), trunc(w))
			}
		}
	}
	if got, wantAgg := strings.TrimSpace(res[3]), fmt.Sprintf("%d\t%d\t%d", n, n/2, total); got != wantAgg {
		t.Fatalf("table after insert: %q, want %q", got, wantAgg)
	}
}
