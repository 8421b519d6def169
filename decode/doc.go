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
// Some SIP scanners read several bytes at a time past the end of the value
// they scan; results never depend on those bytes. The portable ones read up
// to seven bytes within the value's capacity (never past it): SIP.DecodeFrom
// caps its input's capacity at its length, so those reads stay inside the
// message. On amd64 the SSE2 ones (bytesconv_amd64.s) read 16-byte blocks
// and, for the last short block, up to 15 bytes on either side of the value
// but only on memory pages the value itself lies on, as the runtime's own
// IndexByte does.
package decode
