package decode

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

// hasPrefixFoldLower reports whether b starts with lower, ignoring ASCII case.
func hasPrefixFoldLower(b []byte, lower string) bool {
	return len(b) >= len(lower) && equalFoldLower(b[:len(lower)], lower)
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
