package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sipcap/appliance/bench/gen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

const usage = "usage: sipgen pcap|hep|raw [flags]; sipgen MODE -h for the flags"

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "pcap":
		return runPcap(args[1:], stdout)
	case "hep":
		return runHEP(ctx, args[1:], stdout)
	case "raw":
		return runRaw(ctx, args[1:], stdout)
	}
	return fmt.Errorf("unknown mode %q; %s", args[0], usage)
}

// sendFlags registers the bounds and pacing flags shared by hep and raw; the
// returned function completes c after parsing.
func sendFlags(fs *flag.FlagSet, c *gen.SendConfig) func() {
	fs.IntVar(&c.Rate, "rate", 10000, "Offered rate in packets per second; 0 sends as fast as the socket takes them.")
	fs.IntVar(&c.Count, "count", 100000, "Packets to send at most.")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "Time to send for at most.")
	fs.IntVar(&c.Batch, "batch", gen.DefaultBatch, "Packets per sendmmsg call.")
	cpu := fs.Int("cpu", -1, "CPU to pin the sending thread to; -1 leaves it unpinned.")
	return func() {
		if *cpu >= 0 {
			c.Pin, c.CPU = true, *cpu
		}
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runPcap(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sipgen pcap", flag.ContinueOnError)
	out := fs.String("o", "", "Output pcap file (required).")
	manifest := fs.String("manifest", "", "File for the manifest: one JSON line per SIP message; empty writes none.")
	mix := fs.String("mix", "all", "Encapsulation weights, e.g. udp=4,vlan=1,tcp=2, or all. Names: udp, vlan, ipip, gre, vxlan, ipv6, tcp, frag.")
	var cfg gen.PcapConfig
	fs.Uint64Var(&cfg.Seed, "seed", 1, "Random seed; the same seed writes the same file.")
	fs.IntVar(&cfg.Scenarios, "scenarios", 1000, "Scenarios to write (60 % calls of 7 messages, 25 % registrations of 4, 15 % OPTIONS pings of 2).")
	fs.IntVar(&cfg.BigEvery, "big-every", 8, "Every n-th call carries a long SDP that IPv4 fragments; -1 for none.")
	fs.IntVar(&cfg.Segments, "segments", 3, "TCP segments per SIP message over TCP.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-o is required")
	}
	var err error
	if cfg.Mix, err = gen.ParseMix(*mix); err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	var mw io.Writer
	if *manifest != "" {
		m, err := os.Create(*manifest)
		if err != nil {
			return err
		}
		defer m.Close()
		mw = m
	}
	sum, err := gen.WritePcap(f, mw, cfg)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	return printJSON(stdout, sum)
}

func runHEP(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sipgen hep", flag.ContinueOnError)
	var cfg gen.HEPConfig
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:9060", "UDP address of the HEP receiver; must be loopback unless -allow-nonlocal.")
	fs.BoolVar(&cfg.AllowNonlocal, "allow-nonlocal", false, "Allow a destination that is not a loopback address.")
	fs.StringVar(&cfg.AuthKey, "auth-key", "", "HEP authentication key (chunk 0x000e); empty sends none.")
	var capID uint
	fs.UintVar(&capID, "capture-id", 2001, "HEP capture agent id (chunk 0x000c).")
	fs.StringVar(&cfg.Node, "node", "sipgen", "HEP capture agent name (chunk 0x0013); empty sends none.")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "Random seed of the generated messages.")
	fs.IntVar(&cfg.Pool, "pool", 8192, "Distinct messages built before sending; larger counts resend them with new Call-IDs.")
	fs.BoolVar(&cfg.IPv6, "ipv6", false, "Carry IPv6 endpoints in the HEP address chunks.")
	fs.IntVar(&cfg.Sockets, "sockets", 1, "Sending sockets (source ports) used in turn, like that many agents; 1 to 64.")
	pinFlag := sendFlags(fs, &cfg.SendConfig)
	if err := fs.Parse(args); err != nil {
		return err
	}
	pinFlag()
	if capID > 1<<32-1 {
		return fmt.Errorf("capture id %d does not fit in 32 bits", capID)
	}
	cfg.CaptureID = uint32(capID)
	res, err := gen.SendHEP(ctx, &cfg)
	if err != nil {
		return err
	}
	return printJSON(stdout, map[string]any{"sent": res.Sent, "failed": res.Failed, "calls": res.Calls,
		"bytes": res.Bytes, "seconds": res.Elapsed.Seconds(), "rate": res.PPS()})
}

func runRaw(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sipgen raw", flag.ContinueOnError)
	iface := fs.String("iface", "", "Interface to write frames to (required); the only one written to.")
	netns := fs.String("netns", "", "Network namespace (name under /var/run/netns, or a path) holding -iface.")
	mix := fs.String("mix", "udp", "Encapsulation weights of the frames, as for pcap.")
	frames := fs.Int("frames", 4096, "Distinct frames built before sending; they are sent round-robin.")
	seed := fs.Uint64("seed", 1, "Random seed of the generated messages.")
	var sc gen.SendConfig
	pinFlag := sendFlags(fs, &sc)
	if err := fs.Parse(args); err != nil {
		return err
	}
	pinFlag()
	if *iface == "" {
		return errors.New("-iface is required")
	}
	m, err := gen.ParseMix(*mix)
	if err != nil {
		return err
	}
	pool, msgs, err := gen.BuildFrames(*frames, *seed, m)
	if err != nil {
		return err
	}
	var s *gen.RawSender
	if *netns != "" {
		s, err = gen.OpenRawNetns(*netns, *iface)
	} else {
		s, err = gen.OpenRaw(*iface)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.Send(ctx, pool, sc)
	if err != nil {
		return err
	}
	return printJSON(stdout, map[string]any{"sent": res.Sent, "failed": res.Failed, "pool_frames": len(pool),
		"pool_messages": msgs, "seconds": res.Elapsed.Seconds(), "rate": res.PPS()})
}
