// Package decode holds pure, allocation-free decoders for everything between a
// captured frame and the fields of a SIP message: link layers, VLAN and MPLS,
// IPv4 and IPv6, tunnels, IP defragmentation, TCP stream reassembly, HEP and SIP.
//
// Every decoder is a reusable struct with Reset and DecodeFrom. Byte-slice
// fields alias the input handed to DecodeFrom and are valid only until the next
// DecodeFrom or Reset, or until the ring block that holds the input is released.
// A decoder is owned by one goroutine; it must not be copied or shared.
//
// Decoders do no I/O, do not log, and do not allocate per packet. Errors on the
// per-packet path are preallocated sentinels so that hostile traffic costs no
// garbage; callers count them by kind.
//
// Some SIP scanners read eight bytes at a time and may read up to seven bytes
// past the end of the value they scan, within its capacity (never past it).
// SIP.DecodeFrom caps its input's capacity at its length, so those reads stay
// inside the message being decoded; results never depend on them. On amd64
// the value scanners are SSE2 assembly (bytesconv_amd64.s) that read sixteen
// bytes at a time: a last short block is read up to fifteen bytes past the
// capacity, or up to fifteen bytes before the scan's start, but only on the
// 4 KiB pages the scanned bytes lie on, as the runtime's IndexByte does.
// Where the CPU has AVX2, BMI1 and BMI2, From, To, Contact, the Request-URI
// and the first Via are parsed by one AVX2 call each (sipmask.go), which
// reads a 64- or 128-byte window from the value's start when the capacity
// holds it or it stays within the value's page, and otherwise leaves the
// value to the portable parsers; both give the same fields. On the same
// CPUs one AVX2 call walks runs of common header lines (sipLinesAVX2): each
// line's colon and LF from masks of the 64 bytes at its start, the name
// looked up in the decoder's own table, the lines with fields to fill
// recorded for the Go loop, which takes every other line itself. It reads
// past the end of the message only within the page of its last bytes.
package decode
