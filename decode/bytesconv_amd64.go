package decode

import "golang.org/x/sys/cpu"

// The scanners of the header values, with the SSE2 loops of
// bytesconv_amd64.s; bytesconv_other.go has the same functions over the
// eight-byte loops of bytesconv.go. TestSIPScanners checks both.

// scanHostEnd returns the index of the first byte of b at or after i that
// ends a host (clsHostEnd), or len(b).
func scanHostEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	return i + scanClassSSE2(b[i:cap(b)], len(b)-i, clsHostEnd)
}

// scanParamEnd returns the index of the first byte of b at or after i that
// ends an unquoted parameter value (clsParamEnd), or len(b).
func scanParamEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	return i + scanClassSSE2(b[i:cap(b)], len(b)-i, clsParamEnd)
}

// scanURIMark returns the index of the first '@', ':', ';', '>' or '?' of b
// at or after i, or len(b).
func scanURIMark(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	return i + scanURIMarkSSE2(b[i:cap(b)], len(b)-i)
}

// scanClassSSE2 returns the index of the first byte of p[:n] in class cls
// (clsHostEnd or clsParamEnd), or n; scanURIMarkSSE2 that of the first '@',
// ':', ';', '>' or '?'. p runs to the end of the caller's capacity; see
// bytesconv_amd64.s for what they read.
//
//go:noescape
func scanClassSSE2(p []byte, n int, cls uint8) int

//go:noescape
func scanURIMarkSSE2(p []byte, n int) int

// useAVX2 is whether the SIP decoder uses the AVX2, BMI1 and BMI2
// functions below (sipmask.go): nameAddrAVX2 and viaAVX2.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasBMI1 && cpu.X86.HasBMI2

// nameAddrAVX2 fills r with the parts of v = p[:n] (p runs to the end of the
// caller's capacity), a name-addr value or with bare set a URI alone, and
// reports true, or reports false and leaves the value to the general
// parsers (sipmask.go).
//
//go:noescape
func nameAddrAVX2(p []byte, n int, r *nameAddrPos, bare bool) bool

// viaAVX2 fills r with the parts of the Via value v = p[:n] (p runs to the
// end of the caller's capacity) and reports true, or reports false and
// leaves the value to the general parsers (sipmask.go).
//
//go:noescape
func viaAVX2(p []byte, n int, r *viaPos) bool

// sipLinesAVX2 walks the common header lines of data from pos into out
// (sipmask.go, sipLine) and returns how many it wrote, the offset of the
// line it stopped at and unfilled without the bits of the ids it recorded
// first lines of.
//
//go:noescape
func sipLinesAVX2(data []byte, pos int, out *[sipLinesMax]sipLine, unfilled, idMask uint64) (n, next int, left uint64)
