package decode

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"
)

// scannerCases are the value scanners with the byte sets they stop at: the
// form DecodeFrom uses (SSE2 on amd64) and the eight-byte form.
var scannerCases = []struct {
	name        string
	scan, words func([]byte, int) int
	stop        func(byte) bool
}{
	{"scanHostEnd", scanHostEnd, func(b []byte, i int) int { return scanClassWords(b, i, clsHostEnd) },
		func(c byte) bool { return sipClassTable[c]&clsHostEnd != 0 }},
	{"scanParamEnd", scanParamEnd, func(b []byte, i int) int { return scanClassWords(b, i, clsParamEnd) },
		func(c byte) bool { return sipClassTable[c]&clsParamEnd != 0 }},
	{"scanURIMark", scanURIMark, scanURIMarkWords,
		func(c byte) bool { return c == '@' || c == ':' || c == ';' || c == '>' || c == '?' }},
}

// checkScanners compares every scanner with a byte loop over b from every
// start.
func checkScanners(t *testing.T, what string, b []byte) {
	t.Helper()
	for _, sc := range scannerCases {
		want := len(b)
		for i := len(b); i >= 0; i-- {
			if i < len(b) && sc.stop(b[i]) {
				want = i
			}
			if got := sc.scan(b, i); got != want {
				t.Fatalf("%s(%s % x, %d) = %d, want %d", sc.name, what, b, i, got, want)
			}
			if got := sc.words(b, i); got != want {
				t.Fatalf("%s words form (%s % x, %d) = %d, want %d", sc.name, what, b, i, got, want)
			}
		}
	}
}

// TestSIPScanners checks the value scanners on inputs longer than one
// 16-byte block: every byte value at every position of inputs up to 48
// bytes, with bytes of the set after the input inside its capacity (read,
// never deciding), and random inputs.
func TestSIPScanners(t *testing.T) {
	buf := make([]byte, 64)
	for n := 0; n <= 48; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				for i := range buf {
					buf[i] = 'a'
					if i >= n {
						buf[i] = ';' // in every set
					}
				}
				buf[pos] = byte(c)
				checkScanners(t, "one byte", buf[:n])
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("aZ09-._~@:;>?, \t\r\n\x00\x1f\x80\xff\"<=")
	for range 20000 {
		n := r.IntN(80)
		b := make([]byte, n, n+r.IntN(24))
		for i := range b[:cap(b)] {
			b[:cap(b)][i] = alphabet[r.IntN(len(alphabet))]
		}
		checkScanners(t, "random", b)
	}
}

// guardedPage returns a readable page between two that are not, so that a
// read past either of its edges faults; it is unmapped when t ends.
func guardedPage(t testing.TB) []byte {
	t.Helper()
	page := unix.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 3*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	if err := unix.Mprotect(mem[:page], unix.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	if err := unix.Mprotect(mem[2*page:], unix.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	return mem[page : 2*page : 2*page]
}

// TestSIPScannersPageEdges runs the scanners over inputs that end where a
// page ends and the next page is not readable, and that start where a page
// starts after one that is not, so that a read past either edge faults.
func TestSIPScannersPageEdges(t *testing.T) {
	mid := guardedPage(t)
	for i := range mid {
		mid[i] = 'a'
	}
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("ab@:;>?, \t\r\n\x01")
	for n := 0; n <= 40; n++ {
		for round := 0; round < 50; round++ {
			end := mid[len(mid)-n:]
			start := mid[:n:n]
			for i := range n {
				end[i] = alphabet[r.IntN(len(alphabet))]
				start[i] = alphabet[r.IntN(len(alphabet))]
			}
			checkScanners(t, "at a page end", end)
			checkScanners(t, "at a page start", start)
		}
		for i := range mid {
			mid[i] = 'a'
		}
	}
}

// TestDigitsWord compares digitsWord with a byte loop on every digit
// string of up to four digits and random ones of up to eight, each followed
// by every kind of byte, inside or past the slice.
func TestDigitsWord(t *testing.T) {
	loop := func(b []byte) (int, uint64) {
		i, n := 0, uint64(0)
		for i < len(b) && isDigit(b[i]) {
			n = n*10 + uint64(b[i]-'0')
			i++
		}
		return i, n
	}
	check := func(b []byte) {
		k, n, ok := digitsWord(b)
		wk, wn := loop(b)
		if !ok {
			// Only when it cannot read a word or the word is all digits
			// (bytes past len(b) included).
			if cap(b) >= 8 {
				if ck, _ := loop(b[:8:8]); ck < 8 {
					t.Fatalf("digitsWord(%q, cap %d) gave up", b, cap(b))
				}
			}
			return
		}
		if k != wk || n != wn {
			t.Fatalf("digitsWord(%q, cap %d) = %d, %d; want %d, %d", b, cap(b), k, n, wk, wn)
		}
	}
	buf := make([]byte, 16)
	for d := 0; d <= 4; d++ {
		lim := 1
		for range d {
			lim *= 10
		}
		for v := 0; v < lim; v++ {
			for _, next := range []byte{' ', '/', ':', 0, 0xff, '0', 'a'} {
				s := fmt.Sprintf("%0*d", d, v)
				if d == 0 {
					s = ""
				}
				copy(buf, s)
				for i := len(s); i < len(buf); i++ {
					buf[i] = next
				}
				check(buf[:len(s)])
				check(buf[:len(s)+1])
			}
		}
	}
	r := rand.New(rand.NewPCG(11, 12))
	for range 200000 {
		n := r.IntN(10)
		for i := range buf {
			buf[i] = byte('0' + r.IntN(10))
			if i >= n {
				buf[i] = byte(r.IntN(256))
			}
		}
		check(buf[:r.IntN(12)])
		check(buf[: r.IntN(8) : 8+r.IntN(2)-1])
	}
}

// TestMethodWord checks that methodWord finds the methods agents write and
// that whenever it finds a run it is skipToken's run, ended by a space.
func TestMethodWord(t *testing.T) {
	for _, m := range []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "PRACK", "UPDATE", "INFO", "REFER", "NOTIFY", "MESSAGE", "PUBLISH"} {
		if k := methodWord([]byte(m + " sip:x SIP/2.0")); k != len(m) {
			t.Errorf("methodWord(%q ...) = %d", m, k)
		}
	}
	r := rand.New(rand.NewPCG(13, 14))
	alphabet := []byte("AZMaz09 -!\t\x00\x7f\x80\xff@[`{")
	b := make([]byte, 12)
	for range 500000 {
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
			if r.IntN(3) > 0 {
				b[i] = byte('A' + r.IntN(26))
			}
		}
		v := b[:8+r.IntN(5)]
		if k := methodWord(v); k > 0 && (skipToken(v, 0) != k || v[k] != ' ') {
			t.Fatalf("methodWord(%q) = %d, skipToken %d", v, k, skipToken(v, 0))
		}
	}
}
