package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sipcap/appliance/bench/gen"
)

func TestRunPcap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pcap, man := filepath.Join(dir, "c.pcap"), filepath.Join(dir, "c.jsonl")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"pcap", "-o", pcap, "-manifest", man, "-scenarios", "40", "-mix", "udp=2,tcp=1"}, &out); err != nil {
		t.Fatal(err)
	}
	var sum gen.Summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("summary %q: %v", out.String(), err)
	}
	f, err := os.Open(man)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := gen.ReadManifest(f)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Scenarios != 40 || len(entries) != sum.Messages || sum.Messages == 0 {
		t.Errorf("summary %+v, %d manifest entries", sum, len(entries))
	}
	for e := range sum.ByEncap {
		if e != "udp" && e != "tcp" && e != "frag" {
			t.Errorf("encapsulation %s outside the mix", e)
		}
	}
	if st, err := os.Stat(pcap); err != nil || st.Size() < 24 {
		t.Errorf("pcap: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		nil,
		{"nope"},
		{"pcap"},                             // no -o
		{"pcap", "-o", "x", "-mix", "bogus"}, // bad mix
		{"hep", "-addr", "192.0.2.1:9060"},   // not loopback
		{"hep", "-addr", "127.0.0.1:9060", "-count", "0"},
		{"raw"}, // no -iface
		{"raw", "-iface", "no-such-if0", "-count", "1"},
	} {
		err := run(context.Background(), args, &bytes.Buffer{})
		if err == nil {
			t.Errorf("%q accepted", args)
		} else if strings.Contains(err.Error(), "panic") {
			t.Errorf("%q: %v", args, err)
		}
	}
}
