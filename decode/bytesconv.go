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
	swarLow7 = 0x7f7f7f7f7f7f7f7f
)

// alnumMask returns a word with the high bit set in each byte of w that is
// an ASCII letter, digit, '-' or '.'. None of these bytes ends a header name,
// a host, a user part or a parameter value, so scanners skip runs of them
// eight at a time and handle the rest one byte at a time. Every addition
// below stays within its byte: operands are below 0x80.
func alnumMask(w uint64) uint64 {
	x := w & swarLow7
	y := x | 0x2020202020202020 // 'A'-'Z' -> 'a'-'z'; other bytes leave [a-z]
	letter := (y + swarOnes*(0x80-'a')) &^ (y + swarOnes*(0x7f-'z'))
	digit := (x + swarOnes*(0x80-'0')) &^ (x + swarOnes*(0x7f-'9'))
	dashDot := (x + swarOnes*(0x80-'-')) &^ (x + swarOnes*(0x7f-'.'))
	return (letter | digit | dashDot) &^ w & swarHigh
}

// skipAlnum returns the index of the first byte of b at or after i that is
// not a letter, digit, '-' or '.' (len(b) if none).
func skipAlnum(b []byte, i int) int {
	for i+8 <= len(b) {
		if nm := ^alnumMask(binary.LittleEndian.Uint64(b[i:])) & swarHigh; nm != 0 {
			return i + bits.TrailingZeros64(nm)>>3
		}
		i += 8
	}
	for i < len(b) && sipClassTable[b[i]]&clsAlnum != 0 {
		i++
	}
	return i
}
