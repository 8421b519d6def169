package capture

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/ring"
)

// recorder is an Output that keeps copies of what it is given.
type recorder struct {
	callIDs []string
	methods []string
	nodes   []string
	hep     []uint8
}

func (r *recorder) Append(m *decode.Meta, s *decode.SIP) {
	r.callIDs = append(r.callIDs, string(s.CallID))
	if s.IsRequest() {
		r.methods = append(r.methods, string(s.Method))
	} else {
		r.methods = append(r.methods, string(s.StatusCode))
	}
	r.nodes = append(r.nodes, string(m.Node))
	r.hep = append(r.hep, m.HEPVersion)
}

func sipText(startLine, callID, cseq string) []byte {
	return fmt.Appendf(nil, "%s\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK%s\r\n"+
		"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: %s\r\n"+
		"CSeq: %s\r\nUser-Agent: test\r\nContent-Length: 0\r\n\r\n", startLine, callID, callID, cseq)
}

// udpFrame builds an Ethernet/IPv4/UDP frame carrying payload.
func udpFrame(t testing.TB, payload []byte, dport uint16) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(192, 0, 2, 1), DstIP: net.IPv4(192, 0, 2, 2)}
	udp := &layers.UDP{SrcPort: 5060, DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hep3 builds a HEP v3 packet with the chunks a typical agent sends.
func hep3(payload []byte, node string, protoType uint8) []byte {
	var b []byte
	chunk := func(typ uint16, v []byte) {
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint16(b, uint16(6+len(v)))
		b = append(b, v...)
	}
	u16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	chunk(1, []byte{2})
	chunk(2, []byte{17})
	chunk(3, []byte{198, 51, 100, 1})
	chunk(4, []byte{198, 51, 100, 2})
	chunk(7, u16(5060))
	chunk(8, u16(5080))
	chunk(9, u32(1_700_000_000))
	chunk(10, u32(123456))
	chunk(11, []byte{protoType})
	chunk(12, u32(2001))
	chunk(0x13, []byte(node))
	chunk(15, payload)
	h := append([]byte("HEP3"), u16(uint16(6+len(b)))...)
	return append(h, b...)
}

func newTestWorker(t *testing.T, cfg WorkerConfig, ctl *Control) (*Worker, *recorder) {
	t.Helper()
	rec := &recorder{}
	w, err := NewWorker(cfg, ctl, rec)
	if err != nil {
		t.Fatal(err)
	}
	return w, rec
}

func TestWorkerFilterAndOnOff(t *testing.T) {
	f, err := CompileFilter(`method != "OPTIONS" && !(status >= 100 && status < 200)`)
	if err != nil {
		t.Fatal(err)
	}
	ctl := NewControl(true, f)
	w, rec := newTestWorker(t, WorkerConfig{Node: "n1", StoreMalformed: true}, ctl)
	frames := [][]byte{
		udpFrame(t, sipText("INVITE sip:bob@example.com SIP/2.0", "c1", "1 INVITE"), 5060),
		udpFrame(t, sipText("SIP/2.0 100 Trying", "c1", "1 INVITE"), 5060),
		udpFrame(t, sipText("OPTIONS sip:bob@example.com SIP/2.0", "c2", "1 OPTIONS"), 5060),
		udpFrame(t, sipText("SIP/2.0 200 OK", "c1", "1 INVITE"), 5060),
		udpFrame(t, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 5060),
	}
	ts := time.Now().UnixMicro()
	w.BeginBlock()
	for _, fr := range frames {
		w.Frame(fr, decode.LinkEthernet, ts, 0)
	}
	if got := fmt.Sprint(rec.methods); got != "[INVITE 200]" {
		t.Errorf("stored %s, want [INVITE 200]", got)
	}
	if w.C.Filtered.Load() != 2 || w.C.Stored.Load() != 2 {
		t.Errorf("filtered %d stored %d", w.C.Filtered.Load(), w.C.Stored.Load())
	}
	if w.C.ByMethod[MethodIndex([]byte("INVITE"))].Load() != 1 || w.C.ByClass[2].Load() != 1 {
		t.Error("per-method and per-class counters not kept")
	}

	// off: drained and counted, nothing stored, effective at the next block
	ctl.SetCapture(false)
	w.Frame(frames[0], decode.LinkEthernet, ts, 0)
	if len(rec.methods) != 3 {
		t.Fatalf("a switch must take effect at the next block, not mid-block: %d stored", len(rec.methods))
	}
	w.BeginBlock()
	w.Frame(frames[0], decode.LinkEthernet, ts, 0)
	if len(rec.methods) != 3 || w.C.Off.Load() != 1 {
		t.Errorf("capture off stored a message: %v, off=%d", rec.methods, w.C.Off.Load())
	}
	ctl.SetCapture(true)
	// a new filter is picked up at the next block too
	all, _ := CompileFilter("")
	ctl.SetFilter(all)
	w.BeginBlock()
	w.Frame(frames[2], decode.LinkEthernet, ts, 0)
	if rec.methods[len(rec.methods)-1] != "OPTIONS" {
		t.Errorf("the new filter was not applied: %v", rec.methods)
	}
}

func TestWorkerHEP(t *testing.T) {
	f, _ := CompileFilter(`method != "OPTIONS"`)
	inv := sipText("INVITE sip:bob@example.com SIP/2.0", "h1", "1 INVITE")
	opt := sipText("OPTIONS sip:bob@example.com SIP/2.0", "h2", "1 OPTIONS")
	for _, noScript := range []bool{false, true} {
		w, rec := newTestWorker(t, WorkerConfig{Node: "n1", HEPStoreNoScript: noScript, StoreMalformed: true}, NewControl(true, f))
		w.BeginBlock()
		for _, d := range [][]byte{hep3(inv, "agent7", 1), hep3(opt, "agent7", 1), hep3([]byte("{\"rtcp\":1}"), "agent7", 5)} {
			if err := w.HEP(d, 1); err != nil {
				t.Fatalf("HEP: %v", err)
			}
		}
		if err := w.HEP([]byte("HEP3\x00"), 1); err == nil {
			t.Error("a truncated HEP datagram must be an error")
		}
		want := "[INVITE]"
		if noScript {
			want = "[INVITE OPTIONS]" // hep_store_no_script stores HEP without the filter
		}
		if got := fmt.Sprint(rec.methods); got != want {
			t.Errorf("hep_store_no_script=%v: stored %s, want %s", noScript, got, want)
		}
		w.Publish()
		st := w.Snapshot()
		if rec.hep[0] != 3 || rec.nodes[0] != "agent7" || st.HEPNonSIP != 1 || st.HEPErrors[decode.ErrHEPTruncated] != 1 || st.HEP != 3 {
			t.Errorf("hep meta: version %d node %q; counters: hep %d, not SIP %d, truncated %d", rec.hep[0], rec.nodes[0],
				st.HEP, st.HEPNonSIP, st.HEPErrors[decode.ErrHEPTruncated])
		}
	}
	// the same HEP message from the wire (UDP 9060 in a frame) goes the same way
	w, rec := newTestWorker(t, WorkerConfig{StoreMalformed: true}, NewControl(true, nil))
	w.BeginBlock()
	w.Frame(udpFrame(t, hep3(inv, "agent7", 1), 9060), decode.LinkEthernet, 1, 0)
	if fmt.Sprint(rec.callIDs) != "[h1]" || rec.hep[0] != 3 {
		t.Errorf("HEP in a frame: %v %v", rec.callIDs, rec.hep)
	}
}

func TestWorkerDedup(t *testing.T) {
	w, rec := newTestWorker(t, WorkerConfig{Dedup: DedupConfig{Window: time.Second}, StoreMalformed: true}, NewControl(true, nil))
	fr := udpFrame(t, sipText("INVITE sip:bob@example.com SIP/2.0", "d1", "1 INVITE"), 5060)
	w.BeginBlock()
	w.Frame(fr, decode.LinkEthernet, 1_000_000, 0)
	w.Frame(fr, decode.LinkEthernet, 1_200_000, 0)
	w.Frame(fr, decode.LinkEthernet, 2_500_000, 0)
	if len(rec.callIDs) != 2 || w.C.Deduped.Load() != 1 {
		t.Errorf("stored %d, deduped %d; want 2 and 1", len(rec.callIDs), w.C.Deduped.Load())
	}
}

type nodeRecorder struct {
	recorder
	node string
}

func (r *nodeRecorder) SetNode(n string) { r.node = n }

func TestWorkerNodeReload(t *testing.T) {
	f, _ := CompileFilter(`node == "n2"`)
	ctl := NewControl(true, nil)
	out := &nodeRecorder{node: "n1"}
	w, err := NewWorker(WorkerConfig{Node: "n1", StoreMalformed: true}, ctl, out)
	if err != nil {
		t.Fatal(err)
	}
	fr := udpFrame(t, sipText("INVITE sip:bob@example.com SIP/2.0", "r1", "1 INVITE"), 5060)
	ctl.SetFilter(f)
	w.BeginBlock()
	w.Frame(fr, decode.LinkEthernet, 1, 0)
	if len(out.methods) != 0 {
		t.Fatal("the filter saw node n2 before the reload")
	}
	ctl.SetNode("n2")
	w.BeginBlock()
	w.Frame(fr, decode.LinkEthernet, 2, 0)
	if len(out.methods) != 1 || out.node != "n2" {
		t.Errorf("after SetNode: stored %d, output node %q", len(out.methods), out.node)
	}
}

// TestReadFileStopsOnCancel: a capture file is read block by block until the
// context ends; what was read is decoded, the rest is left.
func TestReadFileStopsOnCancel(t *testing.T) {
	file := filepath.Join(t.TempDir(), "many.pcap")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	pw := pcapgo.NewWriter(f)
	pw.WriteFileHeader(65535, layers.LinkTypeEthernet)
	const frames = 2000 // several file blocks of 256 frames
	for i := range frames {
		fr := udpFrame(t, sipText("OPTIONS sip:b@example.com SIP/2.0", fmt.Sprintf("c%d", i), "1 OPTIONS"), 5060)
		pw.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(fr), Length: len(fr)}, fr)
	}
	f.Close()
	read := func(ctx context.Context, cancelAt int) (int, int) {
		w, rec := newTestWorker(t, WorkerConfig{StoreMalformed: true}, NewControl(true, nil))
		rf, err := ring.OpenFile(file, false)
		if err != nil {
			t.Fatal(err)
		}
		defer rf.Close()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		n, err := ReadFile(ctx, rf, w, func(n int) {
			if n == cancelAt {
				cancel()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, len(rec.callIDs)
	}
	if n, stored := read(context.Background(), -1); n != frames || stored != frames {
		t.Fatalf("whole file: %d frames, %d stored", n, stored)
	}
	n, stored := read(context.Background(), 10)
	if n >= frames || n < 10 || stored != n {
		t.Errorf("cancelled at frame 10: read %d frames, stored %d; want the first block only", n, stored)
	}
}

// TestWorkerHEPTwoInOneDatagram: a listener datagram holding two HEP
// messages back to back yields both, as HEP found in a frame does.
func TestWorkerHEPTwoInOneDatagram(t *testing.T) {
	w, rec := newTestWorker(t, WorkerConfig{StoreMalformed: true}, NewControl(true, nil))
	two := append(hep3(sipText("INVITE sip:b@example.com SIP/2.0", "x1", "1 INVITE"), "a", 1),
		hep3(sipText("BYE sip:b@example.com SIP/2.0", "x1", "2 BYE"), "a", 1)...)
	w.BeginBlock()
	if err := w.HEP(two, 1); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rec.methods); got != "[INVITE BYE]" {
		t.Errorf("stored %s, want [INVITE BYE]", got)
	}
}
