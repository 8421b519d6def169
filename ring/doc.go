// Package ring provides packet sources: AF_PACKET TPACKET_V3 memory-mapped
// rings joined in a fanout group, HEP listeners (UDP, TCP, TLS) and pcap/pcapng
// files. Frames are leased per block: bytes handed to a callback are valid only
// until the block is released, and nothing may keep them past that.
//
// A ring is owned by one goroutine. The package parses no further than the
// kernel needs.
package ring
