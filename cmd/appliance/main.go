// Command appliance captures SIP from the wire or from HEP agents into ClickHouse.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_ = ctx
	_ = stdout
	_ = stderr
	if len(args) == 0 {
		return fmt.Errorf("usage: appliance inspect FILE")
	}
	return fmt.Errorf("unknown command %q", args[0])
}
