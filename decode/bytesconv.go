package decode

import (
	"encoding/binary"
	"math/bits"
)

// Byte helpers for the text decoders. None of them allocates; all of them
// return sub-slices of their input.

// equalFoldLower reports whether b equals lower, ignoring ASCII case.
// lower must already be lower case.
func equalFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		if toLowerTable[b[i]] != lower[i] {
			return false
		}
	}
	return true
}

// equalFoldLowerBytes is equalFoldLower for a lower-case byte slice.
func equalFoldLowerBytes(b, lower []byte) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range lower {
		if toLowerTable[b[i]] != lower[i] {
			return false
		}
	}
	return true
}

// isLWS reports whether c is linear white space inside a (possibly folded)
// header value: SP, HT, CR or LF.
func isLWS(c byte) bool { return sipClassTable[c]&clsLWS != 0 }

// trimLWS trims SP, HT, CR and LF from both ends of b.
func trimLWS(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isLWS(b[i]) {
		i++
	}
	for j > i && isLWS(b[j-1]) {
		j--
	}
	return b[i:j]
}

// trimCR drops one trailing CR.
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// parseDigits parses b as a decimal number of at most maxDigits digits.
// It reports false for an empty b, a non-digit, or too many digits.
func parseDigits(b []byte, maxDigits int) (uint64, bool) {
	if len(b) == 0 || len(b) > maxDigits {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// SWAR constants: one bit or value per byte of a little-endian word.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// The scanners below test eight bytes at a time. Each *Mask function sets
// the high bit of the bytes of w that belong to its set, OR-ing tests of two
// kinds before keeping the high bits once: (x-0x01..)&^x flags the zero
// bytes of x (x is w XORed with the byte sought), (w-n*0x01..)&^w the bytes
// below n. Only the lowest set bit is exact: a borrow carries upwards, so
// bytes above the first true one may be flagged wrongly, and every caller
// uses just the lowest. The union of such tests keeps this property.

// hostEndMask flags a superset of what ends a URI host (clsHostEnd) and of
// what ends an unquoted parameter value (clsParamEnd, which lacks ':'):
// every byte up to SP, ',' and ':' ';' '>' '?' (0x3a, 0x3b, 0x3e and 0x3f
// are the bytes that OR 0x05 turns into 0x3f). scanClass steps over the
// flagged bytes outside its class: control bytes that are not white space,
// and ':' inside a parameter value (rare: tag and branch are tokens).
func hostEndMask(w uint64) uint64 {
	x, y := w^(swarOnes*','), (w|swarOnes*0x05)^(swarOnes*0x3f)
	return ((w-swarOnes*0x21)&^w | (x-swarOnes)&^x | (y-swarOnes)&^y) & swarHigh
}

// uriMarkMask flags '@' and ':' ';' '>' '?', a superset of what splitURI
// looks for after the scheme (@ ? :); it narrows the flagged byte itself.
func uriMarkMask(w uint64) uint64 {
	x, y := w^(swarOnes*'@'), (w|swarOnes*0x05)^(swarOnes*0x3f)
	return ((x-swarOnes)&^x | (y-swarOnes)&^y) & swarHigh
}

// scanClassWords returns the index of the first byte of b at or after i in
// class cls (clsHostEnd or clsParamEnd) of sipClassTable, or len(b), eight
// bytes at a time; it is scanHostEnd and scanParamEnd where there is no
// assembly form (bytesconv_amd64.s). hostEndMask flags a superset of both
// classes; a flagged byte outside cls is stepped over. It may read up to
// seven bytes past len(b) when cap(b) allows, never past cap(b) (DecodeFrom
// caps its input, so those bytes are in the message), and the result is
// clamped to len(b), so it depends only on b.
func scanClassWords(b []byte, i int, cls uint8) int {
	n := len(b)
	b = b[:cap(b)]
	for i < n && i+8 <= len(b) {
		m := hostEndMask(binary.LittleEndian.Uint64(b[i : i+8]))
		if m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) >> 3
		if i >= n {
			return n
		}
		if sipClassTable[b[i]]&cls != 0 {
			return i
		}
		i++
	}
	for ; i < n; i++ {
		if sipClassTable[b[i]]&cls != 0 {
			return i
		}
	}
	return n
}

// scanURIMarkWords returns the index of the first '@', ':', ';', '>' or '?'
// of b at or after i, or len(b), eight bytes at a time; it is scanURIMark
// where there is no assembly form. It reads past len(b) as scanClassWords
// does.
func scanURIMarkWords(b []byte, i int) int {
	n := len(b)
	b = b[:cap(b)]
	for ; i < n && i+8 <= len(b); i += 8 {
		if m := uriMarkMask(binary.LittleEndian.Uint64(b[i : i+8])); m != 0 {
			return min(i+bits.TrailingZeros64(m)>>3, n)
		}
	}
	for ; i < n; i++ {
		if c := b[i]; c == '@' || c|0x05 == 0x3f {
			return i
		}
	}
	return n
}

// digitsWord reads the run of decimal digits at the start of b from one
// eight-byte word: how many there are (k) and their value, with ok false
// when it cannot tell (fewer than eight bytes of capacity, or eight digits
// or more, which the caller reads a byte at a time). Bytes past len(b) may
// be read but end the run at len(b). The value is that of the string of k
// digits padded in front with zeros to eight, combined pairwise by three
// multiplications (as in simdjson's parse_eight_digits_unrolled).
func digitsWord(b []byte) (k int, n uint64, ok bool) {
	if cap(b) < 8 {
		return 0, 0, false
	}
	x := binary.LittleEndian.Uint64(b[:8]) - swarOnes*'0'
	// A byte's high bit is set when it is not a digit: above 9 after the
	// subtraction, or below '0' (the subtraction wrapped). A wrap borrows
	// from the byte above it, so only the lowest flag is exact.
	flags := ((x + swarOnes*0x76) | x) & swarHigh
	if flags == 0 {
		return 0, 0, false
	}
	k = min(bits.TrailingZeros64(flags)>>3, len(b))
	if k == 0 {
		return 0, 0, true
	}
	x <<= 8 * uint(8-k) // the k digits in the top bytes, zeros below
	x = x*10 + x>>8
	x = ((x&0x000000ff000000ff)*(100+1000000<<32) + (x>>16&0x000000ff000000ff)*(1+10000<<32)) >> 32
	return k, x, true
}

// methodWord returns the length of the run of capitals 'A'-'Z' at the start
// of b when a space ends it within the first eight bytes of b, else 0.
// Capitals are token bytes and a space is not, so the run is skipToken's.
func methodWord(b []byte) int {
	if len(b) < 8 {
		return 0
	}
	w := binary.LittleEndian.Uint64(b[:8])
	sp := w ^ swarOnes*' '
	// The lowest zero byte of sp is the first space: (x-1)&^x flags it
	// exactly (borrows only run upwards from it).
	m := (sp - swarOnes) &^ sp & swarHigh
	if m == 0 {
		return 0
	}
	k := bits.TrailingZeros64(m) >> 3
	// Every byte below k is a capital: below 0x80, at least 'A' (+0x3f sets
	// the top bit) and at most 'Z' (+0x25 does not); bytes above k only
	// carry upwards, away from them.
	hi := uint64(swarHigh) & (1<<(8*uint(k)) - 1)
	if k == 0 || w&hi != 0 || (w+swarOnes*0x3f)&hi != hi || (w+swarOnes*0x25)&hi != 0 {
		return 0
	}
	return k
}
