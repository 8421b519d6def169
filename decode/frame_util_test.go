package decode

import (
	"os"
	"path/filepath"
	"unsafe"
)

// owns reports whether b lies inside frame or inside one of p's reassembly
// or inflate buffers. Used by tests and fuzzing to check aliasing.
func (p *Path) owns(frame, b []byte) bool {
	if len(b) == 0 || within(frame, b) || within(p.hep.Payload, b) {
		return true
	}
	for i := range p.defrag.slots {
		if within(p.defrag.slots[i].buf[:cap(p.defrag.slots[i].buf)], b) {
			return true
		}
	}
	for i := range p.sctpRe.slots {
		if s := p.sctpRe.slots[i].buf; within(s[:cap(s)], b) {
			return true
		}
	}
	for i := range p.tcp.flows {
		f := &p.tcp.flows[i]
		if within(f.buf[:cap(f.buf)], b) || within(f.ooo[:cap(f.ooo)], b) || within(f.msg[:cap(f.msg)], b) {
			return true
		}
	}
	return false
}

// within reports whether b is a sub-slice of outer.
func within(outer, b []byte) bool {
	if len(outer) == 0 || len(b) == 0 {
		return false
	}
	o0 := uintptr(unsafe.Pointer(unsafe.SliceData(outer)))
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return b0 >= o0 && b0+uintptr(len(b)) <= o0+uintptr(len(outer))
}

// sharedPcapDirOptional returns the shared capture folder, or "" when absent.
func sharedPcapDirOptional() string {
	dir := os.Getenv("APPLIANCE_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared")
	}
	dir = filepath.Join(dir, "testdata", "pcap")
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		return ""
	}
	return dir
}

// countHandler counts the messages handed on.
type countHandler struct{ n int }

func (c *countHandler) SIP(*Meta, *SIP, error) { c.n++ }
