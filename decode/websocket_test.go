package decode

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// wsFrame builds a WebSocket frame; key nil means unmasked.
func wsFrame(op byte, fin bool, payload []byte, key []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var mask byte
	if key != nil {
		mask = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mask|byte(n))
	case n < 1<<16:
		out = append(out, mask|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if key != nil {
		out = append(out, key...)
		for i, c := range payload {
			out = append(out, c^key[i&3])
		}
		return out
	}
	return append(out, payload...)
}

func TestWebSocket(t *testing.T) {
	sip := []byte("OPTIONS sip:a@example.com SIP/2.0\r\nCall-ID: ws1\r\nContent-Length: 0\r\n\r\n")
	big := append(bytes.Repeat([]byte("x"), 70000), sip...)
	key := []byte{0x37, 0xfa, 0x21, 0x3d}
	f := func(frame []byte, wantPayload []byte, wantErr error, peek bool) {
		t.Helper()
		var w WebSocket
		for range 2 { // decode twice into one value
			err := w.DecodeFrom(frame)
			if err != wantErr {
				t.Fatalf("err %v, want %v", err, wantErr)
			}
			if err == nil {
				if got := w.AppendPayload(nil); !bytes.Equal(got, wantPayload) {
					t.Fatalf("payload %q, want %q", got, wantPayload)
				}
				if w.Len != len(frame) {
					t.Fatalf("Len %d, frame %d", w.Len, len(frame))
				}
			}
		}
		if got := PeekWSText(frame); got != peek {
			t.Errorf("PeekWSText = %v, want %v", got, peek)
		}
		w.Reset()
		if w.Payload != nil || w.Len != 0 {
			t.Error("Reset left fields")
		}
	}
	f(wsFrame(WSText, true, sip, key), sip, nil, true)   // client to server: masked
	f(wsFrame(WSText, true, sip, nil), sip, nil, true)   // server to client
	f(wsFrame(WSBinary, true, sip, key), sip, nil, true) // binary frames carry SIP too
	f(wsFrame(WSText, true, big, key), big, nil, false)  // 64-bit length; not SIP at its start
	f(wsFrame(WSText, true, sip[:300%len(sip)], key), sip[:300%len(sip)], nil, LooksLikeSIP(sip[:300%len(sip)]))
	f(wsFrame(WSPing, true, []byte("hi"), nil), []byte("hi"), nil, false)
	full := wsFrame(WSText, true, sip, key)
	f(full[:len(full)-1], nil, ErrWSTruncated, true) // truncated payload: still recognisable
	f(full[:5], nil, ErrWSTruncated, false)
	f([]byte{0xf1, 0x00}, nil, ErrWSMalformed, false) // RSV bits
	f([]byte{0x83, 0x00}, nil, ErrWSMalformed, false) // reserved opcode
	f([]byte{0x09, 0x00}, nil, ErrWSMalformed, false) // fragmented control frame
	f([]byte("GET / HTTP/1.1\r\n"), nil, ErrWSMalformed, false)
	f(append([]byte{0x81, 127}, binary.BigEndian.AppendUint64(nil, 1<<40)...), nil, ErrWSMalformed, false)
}

func FuzzWebSocket(f *testing.F) {
	f.Add(wsFrame(WSText, true, []byte("INVITE sip:x SIP/2.0\r\n\r\n"), []byte{1, 2, 3, 4}))
	f.Add(wsFrame(WSBinary, false, bytes.Repeat([]byte("a"), 300), nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		var w WebSocket
		err := w.DecodeFrom(data)
		PeekWSText(data)
		if err != nil {
			return
		}
		if w.Len > len(data) || len(w.Payload) > w.Len {
			t.Fatalf("frame length %d, payload %d, input %d", w.Len, len(w.Payload), len(data))
		}
		if len(w.Payload) > 0 && &w.Payload[0] != &data[w.Len-len(w.Payload)] {
			t.Fatal("payload does not alias the end of the frame")
		}
		clear := w.AppendPayload(nil)
		var again WebSocket
		if again.DecodeFrom(data) != nil || !bytes.Equal(again.AppendPayload(nil), clear) {
			t.Fatal("decoding twice differs")
		}
	})
}
