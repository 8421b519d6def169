//go:build !amd64

package decode

// The scanners of the header values over the eight-byte loops of
// bytesconv.go; bytesconv_amd64.go has the SSE2 forms.

// scanHostEnd returns the index of the first byte of b at or after i that
// ends a host (clsHostEnd), or len(b).
func scanHostEnd(b []byte, i int) int { return scanClassWords(b, i, clsHostEnd) }

// scanParamEnd returns the index of the first byte of b at or after i that
// ends an unquoted parameter value (clsParamEnd), or len(b).
func scanParamEnd(b []byte, i int) int { return scanClassWords(b, i, clsParamEnd) }

// scanURIMark returns the index of the first '@', ':', ';', '>' or '?' of b
// at or after i, or len(b).
func scanURIMark(b []byte, i int) int { return scanURIMarkWords(b, i) }

// useAVX2 is false: there are no assembly forms here.
var useAVX2 = false

// nameAddrAVX2 is never called here.
func nameAddrAVX2(p []byte, n int, r *nameAddrPos, bare bool) bool { return false }

// viaAVX2 is never called here.
func viaAVX2(p []byte, n int, r *viaPos) bool { return false }

// sipLinesAVX2 is never called here.
func sipLinesAVX2(data []byte, pos int, out *[sipLinesMax]sipLine, unfilled, idMask uint64) (n, next int, left uint64) {
	return 0, pos, unfilled
}
