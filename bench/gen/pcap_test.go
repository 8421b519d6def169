package gen

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipcap/appliance/decode"
)

// collector records every SIP message the frame path hands on.
type collector struct {
	seen   map[Key]int
	encaps map[Key]string
	errs   int
}

func (c *collector) SIP(m *decode.Meta, s *decode.SIP, err error) {
	if err != nil {
		c.errs++
		return
	}
	k := Key{CallID: string(s.CallID), CSeq: s.CSeqNum, CSeqMethod: string(s.CSeqMethod), Status: int(s.Status)}
	c.seen[k]++
	c.encaps[k] = m.Encap.String()
}

// decodePcap runs every frame of a pcap through a decode.Path.
func decodePcap(t *testing.T, pcap []byte) (*collector, decode.Stats) {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	p, err := decode.NewPath(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{seen: map[Key]int{}, encaps: map[Key]string{}}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Decode(data, decode.LinkEthernet, ci.Timestamp.UnixMicro(), 0, c); err != nil {
			t.Errorf("frame at %s: %v", ci.Timestamp, err)
		}
	}
	p.Flush(c)
	return c, p.Stats()
}

func TestPcapRoundTrip(t *testing.T) {
	t.Parallel()
	f := func(name string, cfg PcapConfig, wantEncaps ...string) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var pcap, man bytes.Buffer
			sum, err := WritePcap(&pcap, &man, cfg)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := ReadManifest(&man)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != sum.Messages {
				t.Fatalf("manifest has %d entries, summary %d messages", len(entries), sum.Messages)
			}
			c, st := decodePcap(t, pcap.Bytes())
			if c.errs != 0 {
				t.Errorf("%d messages decoded with errors", c.errs)
			}
			frames := 0
			want := map[Key]bool{}
			for _, e := range entries {
				k := e.Key()
				if want[k] {
					t.Fatalf("manifest lists %+v twice", k)
				}
				want[k] = true
				frames += e.Frames
				if n := c.seen[k]; n != 1 {
					t.Errorf("%s %d %s %d (%s): decoded %d times, want 1", e.CallID, e.CSeq, e.CSeqMethod, e.Status, e.Encap, n)
				}
			}
			for k, n := range c.seen {
				if !want[k] {
					t.Errorf("decoded %d times a message not in the manifest: %+v", n, k)
				}
			}
			if int(st.Frames) != sum.Frames || frames != sum.Frames {
				t.Errorf("frames: path %d, summary %d, manifest %d", st.Frames, sum.Frames, frames)
			}
			if int(st.SIPMessages) != sum.Messages {
				t.Errorf("path found %d SIP messages, manifest %d", st.SIPMessages, sum.Messages)
			}
			for _, e := range wantEncaps {
				if sum.ByEncap[e] == 0 {
					t.Errorf("no message under %s: %v", e, sum.ByEncap)
				}
			}
			// The encapsulation the path reports agrees with the manifest.
			layer := map[string]string{"vlan": "vlan", "ipip": "ipip", "gre": "gre", "vxlan": "vxlan", "ipv6": "ip6", "tcp": "tcp", "frag": "frag"}
			for _, e := range entries {
				if l, ok := layer[e.Encap]; ok && !bytes.Contains([]byte(c.encaps[e.Key()]), []byte(l)) {
					t.Errorf("%s message decoded under %q", e.Encap, c.encaps[e.Key()])
					break
				}
			}
		})
	}
	f("all", PcapConfig{Seed: 1, Scenarios: 400, Mix: AllEncaps, BigEvery: 4},
		"udp", "vlan", "ipip", "gre", "vxlan", "ipv6", "tcp", "frag")
	f("udp-only", PcapConfig{Seed: 2, Scenarios: 200, Mix: Mix{EncapUDP: 1}, BigEvery: -1}, "udp")
	f("tcp-one-segment", PcapConfig{Seed: 3, Scenarios: 50, Mix: Mix{EncapTCP: 1}, Segments: 1}, "tcp")
	f("tcp-many-segments", PcapConfig{Seed: 4, Scenarios: 50, Mix: Mix{EncapTCP: 1}, Segments: 9}, "tcp")
}

func TestPcapDeterministic(t *testing.T) {
	t.Parallel()
	var a, b bytes.Buffer
	cfg := PcapConfig{Seed: 7, Scenarios: 30}
	if _, err := WritePcap(&a, nil, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := WritePcap(&b, nil, cfg); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same seed, different captures")
	}
}

func TestParseMix(t *testing.T) {
	t.Parallel()
	m, err := ParseMix("udp=4, tcp=2,frag")
	if err != nil {
		t.Fatal(err)
	}
	if m[EncapUDP] != 4 || m[EncapTCP] != 2 || m[EncapFrag] != 1 || m.total() != 7 {
		t.Errorf("ParseMix = %v", m)
	}
	if back, err := ParseMix(m.String()); err != nil || back != m {
		t.Errorf("round trip %q: %v %v", m.String(), back, err)
	}
	for _, bad := range []string{"", "udp=x", "foo", "udp=0", "udp=-1"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
	if _, err := WritePcap(io.Discard, nil, PcapConfig{}); err == nil {
		t.Error("WritePcap with 0 scenarios accepted")
	}
}
