package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// columns are the keys inspect --json prints: the capture table's columns.
var columns = strings.Fields(`date micro_ts method reply_reason ruri ruri_user ruri_domain from_user
from_domain from_tag to_user to_domain to_tag pid_user contact_user auth_user callid callid_aleg via_1
via_1_branch cseq diversion reason content_type auth user_agent source_ip source_port destination_ip
destination_port contact_ip contact_port originator_ip originator_port correlation_id custom_field1
custom_field2 custom_field3 proto family rtp_stat type node capture_id vlan encap status cseq_method frame msg`)

// writeTestCapture writes a pcap of n SIP messages over UDP, some in VLANs,
// plus non-SIP noise, and returns its path.
func writeTestCapture(t *testing.T, n int) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "calls.pcap")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	ts := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	write := func(ls ...gopacket.SerializableLayer) {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		ts = ts.Add(time.Millisecond)
		w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes())
	}
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK%d\r\n"+
			"From: \"Alice\" <sip:alice@example.com>;tag=%d\r\nTo: <sip:bob@example.com>\r\nCall-ID: call-%d\r\n"+
			"CSeq: 1 INVITE\r\nX-CID: aleg-%d\r\nUser-Agent: ua \xff\r\nContent-Length: 0\r\n\r\n", i, i, i, i)
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(192, 0, 2, 1), DstIP: net.IPv4(192, 0, 2, 2)}
		udp := &layers.UDP{SrcPort: 5060, DstPort: 5060}
		udp.SetNetworkLayerForChecksum(ip)
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		if i%2 == 1 {
			eth.EthernetType = layers.EthernetTypeDot1Q
			write(eth, &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(msg))
		} else {
			write(eth, ip, udp, gopacket.Payload(msg))
		}
		noise := &layers.UDP{SrcPort: 5000, DstPort: 53}
		noise.SetNetworkLayerForChecksum(ip)
		write(&layers.Ethernet{SrcMAC: eth.SrcMAC, DstMAC: eth.DstMAC, EthernetType: layers.EthernetTypeIPv4}, ip, noise, gopacket.Payload("not sip"))
	}
	return file
}

func TestInspectJSON(t *testing.T) {
	file := writeTestCapture(t, 10)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"inspect", "--json", "--capture_node", "n9", file}, &out, &errOut); err != nil {
		t.Fatalf("inspect: %v\n%s", err, errOut.String())
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		var keys []string
		tok, _ := dec.Token()
		if tok != json.Delim('{') {
			t.Fatalf("line %d is not an object", lines)
		}
		row := map[string]any{}
		for dec.More() {
			k, _ := dec.Token()
			var v any
			dec.Decode(&v)
			keys = append(keys, k.(string))
			row[k.(string)] = v
		}
		if strings.Join(keys, " ") != strings.Join(columns, " ") {
			t.Fatalf("keys:\n%v\nwant:\n%v", keys, columns)
		}
		want := fmt.Sprintf("call-%d", lines)
		if row["callid"] != want || row["callid_aleg"] != fmt.Sprintf("aleg-%d", lines) || row["node"] != "n9" ||
			row["method"] != "INVITE" || row["date"] != fmt.Sprintf("2026-11-25T10:00:00.%06dZ", (2*lines+1)*1000) {
			t.Errorf("row %d: %v", lines, row)
		}
		if ua := row["user_agent"]; ua != "ua \ufffd" {
			t.Errorf("a non-UTF-8 byte must print as U+FFFD: %q", ua)
		}
		wantEncap := "eth/ip4/udp"
		if lines%2 == 1 {
			wantEncap = "eth/vlan/ip4/udp"
		}
		if row["encap"] != wantEncap {
			t.Errorf("row %d encap %v, want %s", lines, row["encap"], wantEncap)
		}
		lines++
	}
	if lines != 10 {
		t.Errorf("%d messages printed, want 10", lines)
	}
	if s := errOut.String(); !strings.Contains(s, "frames 20, SIP messages 10 (stored 10)") ||
		!strings.Contains(s, "plain 5, vlan 5") || !strings.Contains(s, "other IP 10") {
		t.Errorf("summary:\n%s", s)
	}
}

func TestInspectText(t *testing.T) {
	file := writeTestCapture(t, 3)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"inspect", "--filter", `callid != "call-1"`, file}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "2026-11-25T10:00:00.001000Z 192.0.2.1:5060 -> 192.0.2.2:5060 eth/ip4/udp INVITE sip:bob@example.com cseq=1 INVITE callid=call-0") {
		t.Errorf("text output:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "filtered 1") {
		t.Errorf("summary lacks the filtered count:\n%s", errOut.String())
	}
}

func TestInspectErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"inspect"}, &out, &errOut); err == nil {
		t.Error("no file: want a usage error")
	}
	bad := filepath.Join(t.TempDir(), "bad.pcap")
	os.WriteFile(bad, []byte("this is not a capture file at all"), 0o600)
	err := run(context.Background(), []string{"inspect", bad}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "neither pcap nor pcapng") {
		t.Errorf("bad file: %v", err)
	}
	// a capture cut in the middle of a record: the frames before are printed
	good := writeTestCapture(t, 4)
	data, _ := os.ReadFile(good)
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	os.WriteFile(cut, data[:len(data)-40], 0o600)
	out.Reset()
	err = run(context.Background(), []string{"inspect", cut}, &out, &errOut)
	if n := strings.Count(out.String(), "\n"); n != 4 && n != 3 {
		t.Errorf("cut capture: %d messages printed (err %v)", n, err)
	}
}

// TestInspectSharedCaptures runs inspect over every shared capture: no
// panic, JSON that parses, and the totals of the frame path.
func TestInspectSharedCaptures(t *testing.T) {
	files := sharedCapturesOrNil()
	if len(files) == 0 {
		t.Skip("shared captures not found beside the repository (set APPLIANCE_SHARED)")
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"inspect", "--json"}, files...), &out, &errOut); err != nil {
		t.Fatalf("inspect: %v\n%s", err, errOut.String())
	}
	n := 0
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		n++
	}
	if !strings.Contains(errOut.String(), fmt.Sprintf("SIP messages %d", n)) {
		t.Errorf("%d lines, summary:\n%s", n, errOut.String())
	}
	t.Logf("%d SIP messages from %d captures\n%s", n, len(files), errOut.String())
}
