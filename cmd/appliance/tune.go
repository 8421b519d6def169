package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sipcap/appliance/ring"
	"github.com/sipcap/appliance/tuning"
)

// runTune is `appliance tune [--apply]`: checks the host against the
// configuration and prints recommendations; --apply writes the sysctls.
func runTune(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bindFlags(fs)
	cfgFile := fs.String("config", "", "YAML config file.")
	apply := fs.Bool("apply", false, "Write the recommended sysctls (needs root); without it nothing on the host changes.")
	pps := fs.Int("pps", 0, "Peak frames per second to size for; 0 means 100 000 per worker.")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg, _, err := LoadConfig(*cfgFile, os.Environ(), fs)
	if err != nil {
		return err
	}
	plan := tuning.Plan{
		Workers:     cfg.RawSockChildren,
		RingBytes:   int64(cfg.RingBlockSize) * int64(cfg.RingBlockCount),
		HEPRecvBuf:  ring.DefaultHEPRecvBuf,
		ExpectedPPS: *pps,
	}
	findings := tuning.Check(tuning.ReadHost(cfg.RawInterface), plan)
	var fixes []string
	for _, f := range findings {
		fmt.Fprintf(stdout, "%-8s %-15s %s\n", f.Severity, f.Check, f.Message)
		if f.Sysctl != "" {
			fmt.Fprintf(stdout, "%-8s %-15s   sysctl -w %s\n", "", "", f.Sysctl)
			fixes = append(fixes, f.Sysctl)
		}
	}
	if !*apply {
		if len(fixes) > 0 {
			fmt.Fprintln(stdout, "\nappliance tune --apply writes these settings (until reboot; persist them in /etc/sysctl.d).")
		}
		return nil
	}
	for _, s := range fixes {
		if err := tuning.Apply(s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %s\n", s)
	}
	return nil
}
