package main

import (
	"fmt"
	"regexp"
	"strings"
)

// modparamRE matches modparam("sipcapture", "name", value) with the value a
// quoted string or a number, in OpenSIPS and Kamailio configs alike.
var modparamRE = regexp.MustCompile(`modparam\(\s*["']sipcapture["']\s*,\s*["']([A-Za-z0-9_]+)["']\s*,\s*("(?:[^"\\]|\\.)*"|'[^']*'|-?[0-9]+)\s*\)`)

// notApplicable gives, for module parameters without a counterpart, the reason.
var notApplicable = map[string]string{
	"insert_delayed":       "inserts are always batched and asynchronous here",
	"insert_retries":       "inserts are retried with backoff and spooled to disk until ClickHouse takes them",
	"insert_retry_timeout": "inserts are retried with backoff and spooled to disk until ClickHouse takes them",
	"db_insert_mode":       "inserts are always batched and asynchronous here",
	"capture_mode":         "one table per appliance; run the store filter instead of per-mode routing",
	"hep_version":          "HEP v1, v2 and v3 are all accepted",
	"nonsip_hook":          "non-SIP HEP payloads are counted, not routed to a script",
	"event_callback":       "there is no script to call back",
	"topoh_unmask":         "topology-hiding unmasking needs the proxy's secret; not done here",
	"authorization_column": "auth is always stored",
	"hep_route":            "mapped only for \"none\" (hep_store_no_script=1)",
}

// applySipcaptureCfg reads the sipcapture modparam lines of an OpenSIPS or
// Kamailio config into c and returns a note for every line: taken, or why not.
func applySipcaptureCfg(c *Config, file string, data []byte) ([]string, error) {
	var notes []string
	for lineNo, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "//") {
			continue
		}
		for _, m := range modparamRE.FindAllStringSubmatch(line, -1) {
			name, raw := m[1], m[2]
			value := raw
			if len(raw) >= 2 && (raw[0] == '"' || raw[0] == '\'') {
				value = raw[1 : len(raw)-1]
			}
			where := fmt.Sprintf("%s line %d", file, lineNo+1)
			switch {
			case name == "hep_route":
				if value == "none" {
					p := lookupParam("hep_store_no_script")
					if err := c.setParam(p, "1"); err != nil {
						return nil, err
					}
					notes = append(notes, fmt.Sprintf("%s: hep_route \"none\" taken as hep_store_no_script = 1", where))
				} else {
					notes = append(notes, fmt.Sprintf("%s: hep_route %q not applied: there are no script routes; use filter", where, value))
				}
			case name == "db_url" && !strings.HasPrefix(value, "http"):
				notes = append(notes, fmt.Sprintf("%s: db_url %q not applied: it is not a ClickHouse HTTP URL; set db_url", where, redactURL(value)))
			case notApplicable[name] != "":
				notes = append(notes, fmt.Sprintf("%s: %s not applied: %s", where, name, notApplicable[name]))
			default:
				p := lookupParam(name)
				if p == nil {
					notes = append(notes, fmt.Sprintf("%s: %s not applied: unknown to the appliance", where, name))
					continue
				}
				if err := c.setParam(p, value); err != nil {
					return nil, paramError(where, name, value, err)
				}
				notes = append(notes, fmt.Sprintf("%s: %s = %q taken", where, p.name, value))
			}
		}
	}
	return notes, nil
}

// redactURL hides a password in a database URL.
func redactURL(u string) string {
	at := strings.LastIndexByte(u, '@')
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	cred := u[scheme+3 : at]
	if i := strings.IndexByte(cred, ':'); i >= 0 {
		return u[:scheme+3] + cred[:i] + ":***" + u[at:]
	}
	return u
}
