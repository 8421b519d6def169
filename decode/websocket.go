package decode

import (
	"encoding/binary"
	"errors"
)

// WebSocket frame errors.
var (
	ErrWSTruncated = errors.New("decode: websocket: truncated frame")
	ErrWSMalformed = errors.New("decode: websocket: malformed frame")
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	WSContinuation = 0x0
	WSText         = 0x1
	WSBinary       = 0x2
	WSClose        = 0x8
	WSPing         = 0x9
	WSPong         = 0xa
)

// maxWSPayload bounds a frame's payload; SIP messages are far smaller, and a
// larger length is taken as a sign that the bytes are not WebSocket at all.
const maxWSPayload = 1 << 20

// wsPeek is how much of a frame PeekWSText unmasks to find a start line.
const wsPeek = 1024

// WebSocket is one decoded WebSocket frame header (RFC 6455). Payload aliases
// the input and is still masked when Masked is set: Unmask writes the clear
// bytes into a caller's buffer. SIP over WebSocket (RFC 7118) carries one SIP
// message per text or binary message.
type WebSocket struct {
	Fin     bool
	Opcode  uint8
	Masked  bool
	Key     [4]byte
	Payload []byte
	// Len is the length of the whole frame (header and payload).
	Len int
}

// Reset clears w.
func (w *WebSocket) Reset() { *w = WebSocket{} }

// DecodeFrom decodes the frame at the start of data. ErrWSTruncated means
// data holds only part of the frame (more bytes may complete it).
func (w *WebSocket) DecodeFrom(data []byte) error {
	w.Reset()
	if len(data) < 2 {
		return ErrWSTruncated
	}
	b0, b1 := data[0], data[1]
	if b0&0x70 != 0 { // RSV bits: no extension that sets them is used for SIP
		return ErrWSMalformed
	}
	w.Fin = b0&0x80 != 0
	w.Opcode = b0 & 0x0f
	switch w.Opcode {
	case WSContinuation, WSText, WSBinary, WSClose, WSPing, WSPong:
	default:
		return ErrWSMalformed
	}
	w.Masked = b1&0x80 != 0
	n := uint64(b1 & 0x7f)
	off := 2
	switch n {
	case 126:
		if len(data) < 4 {
			return ErrWSTruncated
		}
		n = uint64(binary.BigEndian.Uint16(data[2:]))
		off = 4
	case 127:
		if len(data) < 10 {
			return ErrWSTruncated
		}
		n = binary.BigEndian.Uint64(data[2:])
		off = 10
	}
	if n > maxWSPayload {
		return ErrWSMalformed
	}
	if w.Opcode >= WSClose && (n > 125 || !w.Fin) { // control frames are short and whole
		return ErrWSMalformed
	}
	if w.Masked {
		if len(data) < off+4 {
			return ErrWSTruncated
		}
		copy(w.Key[:], data[off:off+4])
		off += 4
	}
	if uint64(len(data)-off) < n {
		return ErrWSTruncated
	}
	w.Payload = data[off : off+int(n)]
	w.Len = off + int(n)
	return nil
}

// AppendPayload appends the clear payload to dst, unmasking it when needed.
func (w *WebSocket) AppendPayload(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, w.Payload...)
	if w.Masked {
		p := dst[start:]
		for i := range p {
			p[i] ^= w.Key[i&3]
		}
	}
	return dst
}

// PeekWSText reports whether data starts with a WebSocket text or binary
// frame whose clear payload begins with a SIP start line, so that SIP over
// WebSocket is found mid-stream without having seen the HTTP upgrade. Only the
// first bytes are needed; it unmasks at most a start line into a stack buffer
// and does not allocate.
func PeekWSText(data []byte) bool {
	if len(data) < 2 {
		return false
	}
	if op := data[0] & 0x0f; data[0]&0x70 != 0 || op != WSText && op != WSBinary {
		return false
	}
	off := 2
	switch data[1] & 0x7f {
	case 126:
		off = 4
	case 127:
		off = 10
	}
	var key [4]byte
	if data[1]&0x80 != 0 {
		if len(data) < off+4 {
			return false
		}
		copy(key[:], data[off:off+4])
		off += 4
	}
	if off >= len(data) {
		return false
	}
	var head [wsPeek]byte
	n := copy(head[:], data[off:])
	for i := 0; i < n; i++ {
		head[i] ^= key[i&3]
	}
	return LooksLikeSIP(head[:n])
}
