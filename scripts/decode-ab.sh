#!/usr/bin/env bash
# decode-ab.sh REV [SECONDS] compares the SIP and HEP decoders of git revision
# REV ("old") with the working tree ("new") in one process, on a machine too
# noisy for separate benchmark runs to settle a 10 % difference.
#
# It copies REV's decode package into a temporary module next to the working
# tree's (imported through a replace directive), picks from the shared
# captures the INVITE with SDP, the 200 with SDP and the REGISTER with
# Authorization closest to 850 bytes (as decode's BenchmarkSIP does), wraps
# the INVITE in a HEP v3 packet of 13 chunks (bench/gen), and then, for SECONDS (default
# 3) per message, alternates 2000 decodes with old and 2000 with new (which
# goes first alternates too); the "all" row decodes every SIP message of the
# captures in turn instead of one message over and over. Each round gives one new/old time ratio; the
# median of the ratios is the figure to quote, as load that slows one half of
# a round slows the other. Run it against the working tree's own commit
# (an A/A run) to see the bias left: old is a copy of the package, laid out
# elsewhere in the binary.
# It also times github.com/emiago/sipgo's parser against new in the same way.
#
# The shared captures are read from $APPLIANCE_SHARED/testdata/pcap
# (default ../shared next to the repository).
set -euo pipefail
rev=${1:?usage: decode-ab.sh REV [SECONDS]}
secs=${2:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${APPLIANCE_SHARED:-$repo/../shared}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$repo/scripts/ab-module.sh"
ab_module "$rev" "$repo" "$tmp"

cat >"$tmp/ab/main.go" <<'EOF'
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gopacket/gopacket/pcapgo"

	old "decodeab/old"

	"github.com/sipcap/appliance/bench/gen"
	"github.com/sipcap/appliance/decode"
)

type pick struct {
	best [3][]byte
	all  [][]byte // every SIP message that decodes, in capture order
}

func (p *pick) SIP(_ *decode.Meta, s *decode.SIP, err error) {
	if err != nil {
		return
	}
	p.all = append(p.all, bytes.Clone(s.Msg))
	sdp := len(s.Body) > 0 && bytes.EqualFold(s.ContentType, []byte("application/sdp"))
	kind := -1
	switch {
	case bytes.Equal(s.Method, []byte("INVITE")) && sdp:
		kind = 0
	case s.Status == 200 && sdp:
		kind = 1
	case bytes.Equal(s.Method, []byte("REGISTER")) && len(s.AuthUser) > 0:
		kind = 2
	}
	abs := func(n int) int { return max(n, -n) }
	if kind >= 0 && (p.best[kind] == nil || abs(len(s.Msg)-850) < abs(len(p.best[kind])-850)) {
		p.best[kind] = bytes.Clone(s.Msg)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// hep3 wraps payload as the project's HEP sender does (13 chunks: IPv4
// addresses and ports, time, type, capture id, auth key, node, payload).
func hep3(payload []byte) []byte {
	m := &gen.Message{Data: payload, Src: netip.MustParseAddrPort("192.0.2.1:5060"), Dst: netip.MustParseAddrPort("192.0.2.2:5062")}
	b, _, err := gen.AppendHEP3(nil, m, &gen.HEPOptions{AuthKey: "myHep", CaptureID: 2001, Node: "node1"}, time.Unix(1700000000, 123456000))
	must(err)
	return b
}

// ab alternates a and b, n calls each per round, for d; it returns the
// medians and minimums of the per-call times and the median of b/a.
func ab(d time.Duration, na, nb int, a, b func()) (ma, mina, mb, minb, ratio float64, rounds int) {
	var ra, rb, rr []float64
	timeIt := func(n int, f func()) float64 {
		t0 := time.Now()
		for range n {
			f()
		}
		return float64(time.Since(t0)) / float64(n)
	}
	// The order alternates between rounds: whichever runs second in a round
	// measured a few per cent faster in runs of a version against itself.
	for round, end := 0, time.Now().Add(d); time.Now().Before(end); round++ {
		var x, y float64
		if round%2 == 0 {
			x = timeIt(na, a)
			y = timeIt(nb, b)
		} else {
			y = timeIt(nb, b)
			x = timeIt(na, a)
		}
		ra, rb, rr = append(ra, x), append(rb, y), append(rr, y/x)
	}
	med := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
	ma, mb, ratio = med(ra), med(rb), med(rr)
	return ma, ra[0], mb, rb[0], ratio, len(rr)
}

func main() {
	secs, err := strconv.Atoi(os.Args[2])
	must(err)
	d := time.Duration(secs) * time.Second
	var p pick
	path, err := decode.NewPath(nil)
	must(err)
	for _, name := range []string{"sip-udp-register-auth-invite-cancel-ipv4.pcap", "sip-udp-call-rtp-mixed-traffic-ipv4.pcap",
		"sip-udp-t38-fax-options-bye-ipv4.pcap", "sip-udp-call-ipv6.pcap"} {
		f, err := os.Open(filepath.Join(os.Args[1], name))
		must(err)
		r, err := pcapgo.NewReader(f)
		must(err)
		for {
			data, ci, err := r.ZeroCopyReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			must(err)
			_ = path.Decode(data, decode.LinkType(r.LinkType()), ci.Timestamp.UnixMicro(), 0, &p)
		}
		f.Close()
	}
	names := []string{"invite-sdp", "200-sdp", "register-auth"}
	fmt.Println("message                 old ns/op (min)     new ns/op (min)    new/old median  rounds")
	for i, msg := range p.best {
		if msg == nil {
			must(fmt.Errorf("no %s message in the captures", names[i]))
		}
		var o old.SIP
		var n decode.SIP
		ma, mina, mb, minb, r, k := ab(d, 2000, 2000, func() { o.DecodeFrom(msg) }, func() { n.DecodeFrom(msg) })
		fmt.Printf("%-20s %9.0f (%5.0f) %9.0f (%5.0f) %14.3f %7d\n", names[i]+"-"+strconv.Itoa(len(msg))+"B", ma, mina, mb, minb, r, k)
	}
	// Every message of the captures in turn: line lengths and headers vary
	// from one decode to the next, as in real traffic, so the branches of
	// the scans are not learnt the way one repeated message lets them be.
	{
		var o old.SIP
		var n decode.SIP
		io, in := 0, 0
		ma, mina, mb, minb, r, k := ab(d, 2000, 2000, func() {
			o.DecodeFrom(p.all[io])
			io = (io + 1) % len(p.all)
		}, func() {
			n.DecodeFrom(p.all[in])
			in = (in + 1) % len(p.all)
		})
		fmt.Printf("%-20s %9.0f (%5.0f) %9.0f (%5.0f) %14.3f %7d\n", "all-"+strconv.Itoa(len(p.all))+"-msgs", ma, mina, mb, minb, r, k)
	}
	pkt := hep3(p.best[0])
	var oh old.HEP
	var nh decode.HEP
	ma, mina, mb, minb, r, k := ab(d, 20000, 20000, func() { oh.DecodeFrom(pkt) }, func() { nh.DecodeFrom(pkt) })
	fmt.Printf("%-20s %9.1f (%5.1f) %9.1f (%5.1f) %14.3f %7d\n", "hep3-"+strconv.Itoa(len(pkt))+"B", ma, mina, mb, minb, r, k)
	fmt.Println("\nmessage                 sipgo ns/op (min)   new ns/op (min)    sipgo/new median  rounds")
	parser := sip.NewParser()
	for i, msg := range p.best {
		var n decode.SIP
		ma, mina, mb, minb, r, k := ab(d, 200, 2000, func() {
			if _, err := parser.ParseSIP(msg); err != nil {
				panic(err)
			}
		}, func() { n.DecodeFrom(msg) })
		fmt.Printf("%-20s %9.0f (%5.0f) %9.0f (%5.0f) %16.1f %7d\n", names[i]+"-"+strconv.Itoa(len(msg))+"B", ma, mina, mb, minb, 1/r, k)
	}
}
EOF

cd "$tmp"
GOFLAGS=-mod=mod go build -o ab/ab ./ab
./ab/ab "$shared/testdata/pcap" "$secs"
