#!/usr/bin/env bash
# capture-ab.sh REV [ROUNDS] compares the frame path (decode.Path: frames,
# defragmentation, TCP streams, SIP) of git revision REV ("old") with the
# working tree's ("new") over the 500 000-message capture of
# BenchmarkFrameCapture, in one process.
#
# Separate benchmark runs cannot settle a 5 % difference on a host whose
# speed flips by 2x for seconds at a time. Here the two decoders take turns
# on each 1 MiB block the capture is read in (about 1 700 frames, 1 ms),
# old and new in alternation, and each side sums the CPU time of its own
# thread over its turns; the reading, the same for both, is outside the
# turns. Each side decodes every other block, so a TCP stream or a
# fragmented datagram cut by a block boundary is seen in part by each (the
# message counts printed differ a little). One round is one pass over the
# capture; the median of the rounds' new/old speed ratios is the figure to
# quote. An A/A run (REV = the working
# tree's own commit) shows the bias left, 1 % here.
#
# Compare against the old code, not against the new code with a feature
# switched off: a switch adds its own checks, and the new code's other path
# need not be as fast as the old one was.
#
# The capture is written once into $CAPTURE_AB_DIR (default
# /tmp/capture-ab) by bench's TestWriteFrameCapture, from the shared
# captures ($APPLIANCE_SHARED, default ../shared next to the repository).
set -euo pipefail
rev=${1:?usage: capture-ab.sh REV [ROUNDS]}
rounds=${2:-7}
repo=$(cd "$(dirname "$0")/.." && pwd)
capdir=${CAPTURE_AB_DIR:-/tmp/capture-ab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$capdir/frames-09.pcap" ]; then
	(cd "$repo" && go test ./bench -run '^TestWriteFrameCapture$' -count 1 -args -write-capture "$capdir")
fi

. "$repo/scripts/ab-module.sh"
ab_module "$rev" "$repo" "$tmp"

cat >"$tmp/ab/main.go" <<'EOF'
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	old "decodeab/old"

	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/ring"
)

type countOld struct{ n int }

func (c *countOld) SIP(*old.Meta, *old.SIP, error) { c.n++ }

type countNew struct{ n int }

func (c *countNew) SIP(*decode.Meta, *decode.SIP, error) { c.n++ }

func threadCPU() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func main() {
	files, err := filepath.Glob(filepath.Join(os.Args[1], "frames-*.pcap"))
	must(err)
	if len(files) == 0 {
		must(fmt.Errorf("no frames-*.pcap in %s", os.Args[1]))
	}
	rounds, err := strconv.Atoi(os.Args[2])
	must(err)
	runtime.LockOSThread()
	fmt.Println("round  old ns/frame  new ns/frame  new/old speed  messages old new")
	var ratios []float64
	for round := range rounds {
		var cpu [2]time.Duration
		var frames [2]int
		po, err := old.NewPath(nil)
		must(err)
		pn, err := decode.NewPath(nil)
		must(err)
		ho, hn := &countOld{}, &countNew{}
		side := round % 2 // which goes first alternates between rounds
		for _, file := range files {
			f, err := ring.OpenFile(file, false)
			must(err)
			link := f.LinkType()
			for {
				err := f.Next(func(blk *ring.Block) error {
					k := 0
					c0 := threadCPU()
					for blk.Next() {
						if side == 0 {
							_ = po.Decode(blk.Data(), old.LinkType(link), blk.TS(), 0, ho)
						} else {
							_ = pn.Decode(blk.Data(), decode.LinkType(link), blk.TS(), 0, hn)
						}
						k++
					}
					cpu[side] += threadCPU() - c0
					frames[side] += k
					side = 1 - side
					return nil
				})
				if errors.Is(err, io.EOF) {
					break
				}
				must(err)
			}
			must(f.Close())
		}
		o, n := float64(cpu[0])/float64(frames[0]), float64(cpu[1])/float64(frames[1])
		ratios = append(ratios, o/n)
		fmt.Printf("%5d %13.1f %13.1f %14.3f  %d %d\n", round, o, n, o/n, ho.n, hn.n)
	}
	sort.Float64s(ratios)
	fmt.Printf("median new/old speed %.3f (min %.3f, max %.3f, %d rounds)\n", ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1], len(ratios))
}
EOF

cd "$tmp"
go build -o ab/ab ./ab
./ab/ab "$capdir" "$rounds"
