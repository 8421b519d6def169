package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	if err != nil {
		os.Exit(1)
	}
}

// errUsage is returned after usage was printed.
var errUsage = errors.New("usage")

const usage = `appliance: a zero-copy SIP capture appliance for ClickHouse.

Usage:
  appliance [flags]                 capture (mirror or IPIP mode, HEP) into ClickHouse
  appliance replay [flags] FILE     the same pipeline fed from a pcap/pcapng file
  appliance inspect [--json] FILE   one line (or JSON object) per SIP message in a capture
  appliance schema [flags]          print the DDL the appliance would create
  appliance ctl capture on|off|status [--admin ADDR] [--token T]
  appliance tune [--apply]          host checks and recommendations

Run 'appliance -h' or 'appliance COMMAND -h' for the flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "inspect":
			return runInspect(args[1:], stdout, stderr)
		case "replay":
			return runCapture(ctx, args[1:], stdout, stderr, true)
		case "schema":
			return runSchema(ctx, args[1:], stdout, stderr)
		case "ctl":
			return runCtl(ctx, args[1:], stdout, stderr)
		case "tune":
			return runTune(args[1:], stdout, stderr)
		case "help", "--help":
			fmt.Fprint(stdout, usage)
			return nil
		}
	}
	return runCapture(ctx, args, stdout, stderr, false)
}
