package gen

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Entry is one line of a manifest: one SIP message written to a capture.
type Entry struct {
	CallID string `json:"call_id"`
	CSeq   uint32 `json:"cseq"`
	// CSeqMethod is the CSeq method; Method the request method (empty for
	// replies) and Status the reply code (0 for requests).
	CSeqMethod string `json:"cseq_method"`
	Method     string `json:"method,omitempty"`
	Status     int    `json:"status,omitempty"`
	Encap      string `json:"encap"`
	// Frame is the index (from 0) of the first frame that carries the
	// message; Frames how many frames carry it.
	Frame  int `json:"frame"`
	Frames int `json:"frames"`
	Bytes  int `json:"bytes"`
}

// Key identifies a SIP message within a capture: Call-ID, CSeq number,
// CSeq method and status (0 for requests).
type Key struct {
	CallID     string
	CSeq       uint32
	CSeqMethod string
	Status     int
}

// Key returns the entry's key.
func (e *Entry) Key() Key { return Key{e.CallID, e.CSeq, e.CSeqMethod, e.Status} }

// PcapConfig says what WritePcap writes.
type PcapConfig struct {
	Seed uint64
	// Scenarios is the number of scenarios (calls, registrations, pings).
	Scenarios int
	// Mix weighs the encapsulations; the zero value means AllEncaps.
	Mix Mix
	// BigEvery makes every BigEvery-th call (over IPv4 UDP) carry a long
	// SDP, so that its INVITE and 200 are IP-fragmented; 0 means 8, -1 never.
	BigEvery int
	// Segments is the number of TCP segments per message (default 3).
	Segments int
	// Start is the time of the first frame (default 2026-01-01 UTC); frames
	// are 100 µs apart.
	Start time.Time
}

// Summary counts what WritePcap wrote.
type Summary struct {
	Scenarios int            `json:"scenarios"`
	Messages  int            `json:"messages"`
	Frames    int            `json:"frames"`
	Calls     int            `json:"calls"`
	ByEncap   map[string]int `json:"by_encap"`  // messages per encapsulation
	ByMethod  map[string]int `json:"by_method"` // requests per method, replies per "status CSeq-method"
}

// maxScenarios bounds one capture.
const maxScenarios = 10_000_000

// WritePcap writes cfg.Scenarios scenarios as an Ethernet pcap to w and one
// JSON Entry per SIP message to manifest (nil to skip it).
func WritePcap(w io.Writer, manifest io.Writer, cfg PcapConfig) (Summary, error) {
	sum := Summary{ByEncap: map[string]int{}, ByMethod: map[string]int{}}
	if cfg.Scenarios <= 0 || cfg.Scenarios > maxScenarios {
		return sum, fmt.Errorf("scenarios %d: allowed: 1 to %d", cfg.Scenarios, maxScenarios)
	}
	mix := cfg.Mix
	if mix.total() == 0 {
		mix = AllEncaps
	}
	big := cfg.BigEvery
	if big == 0 {
		big = 8
	}
	ts := cfg.Start
	if ts.IsZero() {
		ts = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return sum, fmt.Errorf("write pcap header: %w", err)
	}
	var enc *json.Encoder
	var mw *bufio.Writer
	if manifest != nil {
		mw = bufio.NewWriter(manifest)
		enc = json.NewEncoder(mw)
	}
	g := New(cfg.Seed)
	fr := &Framer{Segments: cfg.Segments}
	total := mix.total()
	var frames [][]byte
	for range cfg.Scenarios {
		e := mix.pick(g.Intn(total))
		kind := g.NextKind()
		o := Options{}
		switch e {
		case EncapTCP:
			o.Transport = TCP
		case EncapIPv6:
			o.IPv6 = true
		}
		if kind == KindCall {
			sum.Calls++
			if big > 0 && sum.Calls%big == 0 && !o.IPv6 && o.Transport == UDP {
				o.BigSDP = true
			}
		}
		for _, m := range g.Scenario(kind, o) {
			var used Encap
			var err error
			frames, used, err = fr.Frames(frames[:0], &m, e)
			if err != nil {
				return sum, err
			}
			for _, f := range frames {
				ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(f), Length: len(f)}
				if err := pw.WritePacket(ci, f); err != nil {
					return sum, fmt.Errorf("write pcap frame: %w", err)
				}
				ts = ts.Add(100 * time.Microsecond)
			}
			if enc != nil {
				err := enc.Encode(Entry{CallID: m.CallID, CSeq: m.CSeq, CSeqMethod: m.CSeqMethod, Method: m.Method,
					Status: m.Status, Encap: used.String(), Frame: sum.Frames, Frames: len(frames), Bytes: len(m.Data)})
				if err != nil {
					return sum, fmt.Errorf("write manifest: %w", err)
				}
			}
			sum.Messages++
			sum.Frames += len(frames)
			sum.ByEncap[used.String()]++
			if m.Method != "" {
				sum.ByMethod[m.Method]++
			} else {
				sum.ByMethod[fmt.Sprintf("%d %s", m.Status, m.CSeqMethod)]++
			}
		}
	}
	sum.Scenarios = cfg.Scenarios
	if mw != nil {
		if err := mw.Flush(); err != nil {
			return sum, fmt.Errorf("write manifest: %w", err)
		}
	}
	return sum, nil
}

// ReadManifest reads the JSON lines a WritePcap manifest holds.
func ReadManifest(r io.Reader) ([]Entry, error) {
	var out []Entry
	dec := json.NewDecoder(r)
	for {
		var e Entry
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read manifest entry %d: %w", len(out)+1, err)
		}
		out = append(out, e)
	}
}
