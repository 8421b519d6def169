package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/sipcap/appliance/capture"
	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/ring"
)

// runInspect prints one line per SIP message found in capture files and a
// summary of what was decoded on stderr.
func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "Print one JSON object per message, keyed by the capture table's column names.")
	filter := fs.String("filter", "", "Print only messages the store filter expression accepts.")
	node := fs.String("capture_node", "homer01", "Node name printed in the node field.")
	aleg := fs.String("callid_aleg_header", "X-CID", "Header(s) for callid_aleg, separated by ';'.")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: appliance inspect [flags] FILE...\n\nPrints every SIP message found in pcap/pcapng files: Ethernet, SLL, raw IP, VLAN, MPLS,\ntunnels, IP fragments, SIP over UDP, TCP, SCTP and WebSocket, and HEP.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	f, err := capture.CompileFilter(*filter)
	if err != nil {
		return err
	}
	c := DefaultConfig()
	c.CallIDAlegHeader = *aleg
	printer := capture.NewPrinter(stdout, *asJSON, *node, false)
	w, err := capture.NewWorker(capture.WorkerConfig{
		Path:           &decode.PathConfig{SIP: &decode.SIPConfig{ALegHeaders: c.ALegHeaders()}},
		Node:           *node,
		StoreMalformed: true,
	}, capture.NewControl(true, f), printer)
	if err != nil {
		return err
	}
	var firstErr error
	for _, name := range fs.Args() {
		file, err := ring.OpenFile(name, false)
		if err != nil {
			return err
		}
		_, err = capture.ReadFile(context.Background(), file, w, func(n int) { printer.Frame = n })
		file.Close()
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := printer.Flush(); err != nil {
		return err
	}
	st := w.Snapshot()
	capture.WriteSummary(stderr, &st, &w.C)
	return firstErr
}
