package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/sipcap/appliance/sink"
)

// runSchema prints the DDL the appliance creates: for the current-server
// dialect by default, or for old servers (Debian's 18.16) with --dialect legacy.
func runSchema(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bindFlags(fs)
	cfgFile := fs.String("config", "", "YAML config file.")
	dialect := fs.String("dialect", "modern", "DDL dialect: modern (ClickHouse 20.3 and later: LowCardinality, codecs, DateTime64, TTL, skip indexes) or legacy (older servers such as 18.16).")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg, _, err := LoadConfig(*cfgFile, os.Environ(), fs)
	if err != nil {
		return err
	}
	var d sink.Dialect
	switch *dialect {
	case "modern":
		d = sink.Modern
	case "legacy":
		d = sink.Legacy
	default:
		return fmt.Errorf("dialect = %q: allowed: modern, legacy", *dialect)
	}
	u, err := url.Parse(cfg.DBURL)
	if err != nil {
		return fmt.Errorf("db_url: %w", err)
	}
	db := strings.Trim(u.Path, "/")
	if db == "" {
		db = "default"
	}
	stmts, err := sink.DDL(d, db, cfg.TableName, cfg.RetentionDays)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		fmt.Fprintf(stdout, "%s;\n\n", strings.TrimSpace(s))
	}
	return nil
}
