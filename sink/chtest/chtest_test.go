package chtest

import "testing"

func TestStartQueryRestart(t *testing.T) {
	s := Start(t)
	if got := s.Query(t, "SELECT 1+1"); got != "2" {
		t.Fatalf("SELECT 1+1 = %q", got)
	}
	s.Query(t, "CREATE TABLE default.t (x UInt8) ENGINE = MergeTree ORDER BY x")
	s.Query(t, "INSERT INTO default.t VALUES (7)")
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := s.Query(t, "SELECT sum(x) FROM default.t"); got != "7" {
		t.Fatalf("after restart sum = %q, want 7", got)
	}
}
