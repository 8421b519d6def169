package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sipcap/appliance/capture"
)

// Config is the whole configuration of a running appliance. Every sipcapture
// module parameter has a field with the module's own name as its key.
type Config struct {
	// sipcapture module parameters
	DBURL            string
	TableName        string
	CaptureOn        bool
	HEPCaptureOn     bool
	MaxAsyncQueries  int
	RawIPIPCaptureOn bool
	RawMoniCaptureOn bool
	RawSocketListen  string
	RawInterface     string
	RawSockChildren  int
	PromiscuousOn    bool
	RawMoniBPFOn     bool
	RawMoniTunnels   bool
	CaptureNode      string
	HEPStoreNoScript bool
	CallIDAlegHeader string
	CustomHeaders    [3]string

	// beyond the module
	Filter           string
	HEPListen        string
	HEPTCPListen     string
	HEPTLSListen     string
	TLSCert, TLSKey  string
	HEPAuthKey       string
	HEPAllow         string
	HEPNodeFromAgent bool
	CPUs             string
	FanoutMode       string
	RingBlockSize    int
	RingBlockCount   int
	RingFrameSize    int
	RingBlockTimeout time.Duration
	BatchRows        int
	BatchBytes       int
	BatchAge         time.Duration
	WorkerBatches    int
	SpoolDir         string
	SpoolMaxBytes    int64
	DeadLetterDir    string
	RetentionDays    int
	Compression      string
	DedupWindow      time.Duration
	DedupByCaptureID bool
	Admin            string
	AdminToken       string
	LogFormat        string
	LogLevel         string
	User             string

	// values holds the text each parameter was last set from, by name.
	values map[string]string
}

// setParam sets p from text and remembers the text.
func (c *Config) setParam(p *param, v string) error {
	if err := p.set(c, v); err != nil {
		return err
	}
	if c.values == nil {
		c.values = map[string]string{}
	}
	c.values[p.name] = v
	return nil
}

// configValue returns the text parameter name was set from.
func configValue(c *Config, name string) string { return c.values[name] }

// param describes one configuration key: its name in the config file (the
// sipcapture name where there is one), its flag and environment variable,
// its default, and how to set it from text.
type param struct {
	name    string   // config-file key and flag name
	aliases []string // other accepted keys and flags
	help    string
	def     string
	set     func(c *Config, v string) error
}

func boolParam(name, def, help string, field func(*Config) *bool, aliases ...string) param {
	return param{name: name, aliases: aliases, def: def, help: help, set: func(c *Config, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		*field(c) = b
		return nil
	}}
}

func strParam(name, def, help string, field func(*Config) *string, check func(string) error, aliases ...string) param {
	return param{name: name, aliases: aliases, def: def, help: help, set: func(c *Config, v string) error {
		if check != nil {
			if err := check(v); err != nil {
				return err
			}
		}
		*field(c) = v
		return nil
	}}
}

func intParam(name, def, help string, min, max int64, field func(*Config) *int, aliases ...string) param {
	return param{name: name, aliases: aliases, def: def, help: help, set: func(c *Config, v string) error {
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		if n < min || n > max {
			return fmt.Errorf("allowed: %d to %d", min, max)
		}
		*field(c) = int(n)
		return nil
	}}
}

func durParam(name, def, help string, min, max time.Duration, field func(*Config) *time.Duration) param {
	return param{name: name, def: def, help: help, set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("allowed: a duration such as 500ms, 10s, 1m")
		}
		if d < min || d > max {
			return fmt.Errorf("allowed: %s to %s", min, max)
		}
		*field(c) = d
		return nil
	}}
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, x := range values {
			if v == x {
				return nil
			}
		}
		return fmt.Errorf("allowed: %s", strings.Join(values, ", "))
	}
}

// params is the one table from which the config file keys, the flags and the
// environment variables are all derived.
var params = []param{
	strParam("db_url", "http://127.0.0.1:8123/homer", "ClickHouse HTTP(S) URL with the database as its path, e.g. http://user:pass@host:8123/homer.", func(c *Config) *string { return &c.DBURL }, checkDBURL, "clickhouse"),
	strParam("table_name", "sip_capture", "Table that stores one row per SIP message.", func(c *Config) *string { return &c.TableName }, checkIdent),
	boolParam("capture_on", "1", "Store messages (1) or only drain the sources (0); switchable at run time.", func(c *Config) *bool { return &c.CaptureOn }),
	boolParam("hep_capture_on", "0", "Receive HEP v1/v2/v3 from agents on hep_listen.", func(c *Config) *bool { return &c.HEPCaptureOn }),
	intParam("max_async_queries", "5", "Inserts in flight to ClickHouse at most.", 1, 64, func(c *Config) *int { return &c.MaxAsyncQueries }),
	boolParam("raw_ipip_capture_on", "0", "Capture SIP from an IPIP tunnel on raw_interface (IP protocols 4 and 41 to the raw_socket_listen address).", func(c *Config) *bool { return &c.RawIPIPCaptureOn }),
	boolParam("raw_moni_capture_on", "0", "Capture SIP from a mirror port on raw_interface.", func(c *Config) *bool { return &c.RawMoniCaptureOn }),
	strParam("raw_socket_listen", ":5060-5090", "Address and SIP port or port range to capture, IP:port or IP:port-port; an empty IP means any.", func(c *Config) *string { return &c.RawSocketListen }, checkListen),
	strParam("raw_interface", "", "Interface to capture on; empty means all interfaces.", func(c *Config) *string { return &c.RawInterface }, nil, "interface"),
	intParam("raw_sock_children", "1", "Capture workers, each with its own ring in one fanout group and its own CPU.", 1, 1024, func(c *Config) *int { return &c.RawSockChildren }, "fanout"),
	boolParam("promiscuous_on", "0", "Put raw_interface in promiscuous mode (by membership, undone on exit).", func(c *Config) *bool { return &c.PromiscuousOn }, "promiscious_on"),
	boolParam("raw_moni_bpf_on", "1", "Filter ports in the kernel with classic BPF (0: check them in user space).", func(c *Config) *bool { return &c.RawMoniBPFOn }),
	boolParam("raw_moni_tunnels", "1", "In mirror mode, keep tunnel carriers (IPIP, GRE and ERSPAN, VXLAN, GENEVE) in the kernel filter whatever their inner ports.", func(c *Config) *bool { return &c.RawMoniTunnels }),
	strParam("capture_node", "homer01", "Node name stored in the node column.", func(c *Config) *string { return &c.CaptureNode }, nil),
	boolParam("hep_store_no_script", "0", "Store HEP messages without applying the store filter.", func(c *Config) *bool { return &c.HEPStoreNoScript }),
	strParam("callid_aleg_header", "X-CID", "Header(s) whose first present value fills callid_aleg, separated by ';'.", func(c *Config) *string { return &c.CallIDAlegHeader }, checkHeaderList),
	strParam("custom_field1_header", "", "Header stored in custom_field1.", func(c *Config) *string { return &c.CustomHeaders[0] }, checkHeaderName),
	strParam("custom_field2_header", "", "Header stored in custom_field2.", func(c *Config) *string { return &c.CustomHeaders[1] }, checkHeaderName),
	strParam("custom_field3_header", "", "Header stored in custom_field3.", func(c *Config) *string { return &c.CustomHeaders[2] }, checkHeaderName),

	strParam("filter", "", `Store filter (the sip_capture() decision), an expr-lang expression over the columns, e.g. method != "OPTIONS" && !(status >= 100 && status < 200). Empty stores everything.`, func(c *Config) *string { return &c.Filter }, nil),
	strParam("hep_listen", ":9060", "UDP address for HEP.", func(c *Config) *string { return &c.HEPListen }, checkAddrOrEmpty, "hep"),
	strParam("hep_tcp_listen", "", "TCP address for HEP; empty turns it off.", func(c *Config) *string { return &c.HEPTCPListen }, checkAddrOrEmpty),
	strParam("hep_tls_listen", "", "TLS address for HEP; needs tls_cert and tls_key.", func(c *Config) *string { return &c.HEPTLSListen }, checkAddrOrEmpty),
	strParam("tls_cert", "", "PEM certificate file for hep_tls_listen.", func(c *Config) *string { return &c.TLSCert }, nil),
	strParam("tls_key", "", "PEM key file for hep_tls_listen.", func(c *Config) *string { return &c.TLSKey }, nil),
	strParam("hep_auth_key", "", "HEP v3 authentication key (chunk 0x000e) required in every HEP message from agents; empty accepts all.", func(c *Config) *string { return &c.HEPAuthKey }, nil),
	strParam("hep_allow", "", "Comma-separated prefixes (10.0.0.0/8,2001:db8::/32) allowed to send HEP; empty allows all.", func(c *Config) *string { return &c.HEPAllow }, checkPrefixes),
	boolParam("hep_node_from_agent", "0", "Store the HEP agent name (chunk 0x0013) as node instead of capture_node.", func(c *Config) *bool { return &c.HEPNodeFromAgent }),
	strParam("cpus", "", "CPUs to pin the capture workers to, e.g. 2-7 or 1,3,5; empty means one per worker, CPU 0 left free when there are enough.", func(c *Config) *string { return &c.CPUs }, checkCPUList),
	strParam("fanout_mode", "hash", "How the kernel spreads packets over workers.", func(c *Config) *string { return &c.FanoutMode }, oneOf("hash", "lb", "cpu", "qm", "rollover")),
	intParam("ring_block_size", "1MiB", "Bytes per ring block; a multiple of the page size.", 4096, 1<<30, func(c *Config) *int { return &c.RingBlockSize }),
	intParam("ring_block_count", "64", "Blocks per ring.", 2, 1<<16, func(c *Config) *int { return &c.RingBlockCount }),
	intParam("ring_frame_size", "2KiB", "TPACKET_V3 frame size in bytes, a multiple of 16 dividing ring_block_size: the kernel's accounting unit (frames are packed by their real length and may be as large as a block).", 256, 1<<20, func(c *Config) *int { return &c.RingFrameSize }),
	durParam("ring_block_timeout", "10ms", "Time after which the kernel hands over a block that is not full.", time.Millisecond, 10*time.Second, func(c *Config) *time.Duration { return &c.RingBlockTimeout }),
	intParam("batch_rows", "50000", "Rows after which a worker's batch is flushed.", 1, 10_000_000, func(c *Config) *int { return &c.BatchRows }),
	intParam("batch_bytes", "16MiB", "Bytes after which a worker's batch is flushed.", 4096, 1<<31-1, func(c *Config) *int { return &c.BatchBytes }),
	intParam("worker_batches", "8", "Batches each worker owns (one filling, the others queued or being encoded); more absorb longer insert stalls at the cost of memory.", 2, 1024, func(c *Config) *int { return &c.WorkerBatches }),
	durParam("batch_age", "1s", "Age after which a batch is flushed even if small.", 10*time.Millisecond, time.Hour, func(c *Config) *time.Duration { return &c.BatchAge }),
	strParam("spool_dir", "/var/spool/appliance", "Folder for inserts that ClickHouse could not take yet.", func(c *Config) *string { return &c.SpoolDir }, nil),
	{name: "spool_max_bytes", def: "10GiB", help: "Cap on the spool folder; beyond it inserts are dropped and counted.", set: func(c *Config, v string) error {
		n, err := parseSize(v)
		if err != nil || n < 1<<20 {
			return errors.New("allowed: a size of at least 1MiB, e.g. 500MiB, 10GiB")
		}
		c.SpoolMaxBytes = n
		return nil
	}},
	strParam("dead_letter_dir", "", "Folder for inserts ClickHouse rejected for good, each with the server's message; empty means spool_dir/dead-letter.", func(c *Config) *string { return &c.DeadLetterDir }, nil),
	intParam("retention_days", "0", "Days to keep rows (TTL, or dropping partitions on old servers); 0 keeps everything.", 0, 36500, func(c *Config) *int { return &c.RetentionDays }),
	strParam("compression", "lz4", "Compression of insert bodies.", func(c *Config) *string { return &c.Compression }, oneOf("lz4", "zstd", "none")),
	durParam("dedup_window", "0s", "Drop identical messages seen again within this time; 0 turns it off.", 0, time.Hour, func(c *Config) *time.Duration { return &c.DedupWindow }),
	boolParam("dedup_by_capture_id", "0", "Make the HEP capture id part of the dedup key.", func(c *Config) *bool { return &c.DedupByCaptureID }),
	strParam("admin", "127.0.0.1:9096", "Address of the admin API (capture on/off, /metrics, /healthz); empty turns it off.", func(c *Config) *string { return &c.Admin }, checkAddrOrEmpty),
	strParam("admin_token", "", "Bearer token the admin API requires for changes; empty requires none.", func(c *Config) *string { return &c.AdminToken }, nil),
	strParam("log_format", "text", "Log format.", func(c *Config) *string { return &c.LogFormat }, oneOf("text", "json")),
	strParam("log_level", "info", "Log level.", func(c *Config) *string { return &c.LogLevel }, oneOf("debug", "info", "warn", "error")),
	strParam("user", "", "User to switch to after the sockets are open, when started as root.", func(c *Config) *string { return &c.User }, nil),
}

func lookupParam(key string) *param {
	for i := range params {
		if params[i].name == key {
			return &params[i]
		}
		for _, a := range params[i].aliases {
			if a == key {
				return &params[i]
			}
		}
	}
	return nil
}

// DefaultConfig returns the configuration with every default applied.
func DefaultConfig() *Config {
	c := &Config{}
	for i := range params {
		p := &params[i]
		if err := c.setParam(p, p.def); err != nil {
			panic(fmt.Sprintf("default of %s: %v", p.name, err)) // a bug in the table
		}
	}
	return c
}

// paramError names the parameter, the value and what is allowed.
func paramError(source, name, value string, err error) error {
	return fmt.Errorf("%s: %s = %q: %v", source, name, value, err)
}

// LoadConfig builds the configuration from defaults, then an OpenSIPS or
// Kamailio config named by --from-sipcapture-cfg, then the config file,
// then APPLIANCE_* environment variables, then the flags that were set (flags
// over environment over file over defaults). fs must have been made by
// bindFlags and parsed already. The notes say which sipcapture parameters were
// taken and which do not apply.
func LoadConfig(file string, env []string, fs *flag.FlagSet) (*Config, []string, error) {
	c := DefaultConfig()
	var notes []string
	if fs != nil {
		if f := fs.Lookup("from-sipcapture-cfg"); f != nil && f.Value.String() != "" {
			data, err := os.ReadFile(f.Value.String())
			if err != nil {
				return nil, nil, fmt.Errorf("read sipcapture config: %w", err)
			}
			notes, err = applySipcaptureCfg(c, f.Value.String(), data)
			if err != nil {
				return nil, nil, err
			}
		}
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, fmt.Errorf("read config: %w", err)
		}
		if err := applyYAML(c, file, data); err != nil {
			return nil, nil, err
		}
	}
	if err := applyEnv(c, env); err != nil {
		return nil, nil, err
	}
	var ferr error
	if fs != nil {
		fs.Visit(func(f *flag.Flag) {
			p := lookupParam(f.Name)
			if p == nil || ferr != nil {
				return
			}
			if err := c.setParam(p, f.Value.String()); err != nil {
				ferr = paramError("flag --"+f.Name, p.name, f.Value.String(), err)
			}
		})
	}
	if ferr != nil {
		return nil, nil, ferr
	}
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	return c, notes, nil
}

func applyYAML(c *Config, file string, data []byte) error {
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config %s: %w", file, err)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		node := doc[k]
		p := lookupParam(k)
		if p == nil {
			return fmt.Errorf("config %s line %d: unknown key %q", file, node.Line, k)
		}
		if node.Kind != yaml.ScalarNode {
			return fmt.Errorf("config %s line %d: %s must be a single value", file, node.Line, k)
		}
		if err := c.setParam(p, node.Value); err != nil {
			return paramError(fmt.Sprintf("config %s line %d", file, node.Line), k, node.Value, err)
		}
	}
	return nil
}

// envName is the environment variable of a parameter: APPLIANCE_DB_URL.
func envName(name string) string { return "APPLIANCE_" + strings.ToUpper(name) }

func applyEnv(c *Config, env []string) error {
	for i := range params {
		p := &params[i]
		want := envName(p.name) + "="
		for _, kv := range env {
			if strings.HasPrefix(kv, want) {
				v := kv[len(want):]
				if err := c.setParam(p, v); err != nil {
					return paramError("environment "+envName(p.name), p.name, v, err)
				}
			}
		}
	}
	return nil
}

// bindFlags defines one flag per parameter and alias on fs. The flags hold
// text; LoadConfig applies the ones that were set, so that a flag left at its
// default does not override the file or the environment.
func bindFlags(fs *flag.FlagSet) {
	fs.String("from-sipcapture-cfg", "", "An opensips.cfg or kamailio.cfg whose modparam(\"sipcapture\", ...) lines are read as settings (below --config, the environment and flags).")
	for _, p := range params {
		help := fmt.Sprintf("%s Config key %s, environment %s.", p.help, p.name, envName(p.name))
		fs.String(p.name, p.def, help)
		for _, a := range p.aliases {
			fs.String(a, p.def, "Same as --"+p.name+".")
		}
	}
}

// Validate checks what no single parameter can: combinations.
func (c *Config) Validate() error {
	if c.RawIPIPCaptureOn && c.RawMoniCaptureOn {
		return errors.New("raw_ipip_capture_on and raw_moni_capture_on are both on: the module allows only one raw capture mode")
	}
	if c.HEPTLSListen != "" && (c.TLSCert == "" || c.TLSKey == "") {
		return errors.New("hep_tls_listen is set: tls_cert and tls_key are needed too")
	}
	if _, err := capture.CompileFilter(c.Filter); err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	if len(c.ALegHeaders()) == 0 {
		return errors.New("callid_aleg_header is empty: name at least one header, e.g. X-CID")
	}
	return nil
}

// ALegHeaders splits callid_aleg_header.
func (c *Config) ALegHeaders() []string {
	var out []string
	for _, h := range strings.Split(c.CallIDAlegHeader, ";") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "on", "yes":
		return true, nil
	case "0", "false", "off", "no":
		return false, nil
	}
	return false, errors.New("allowed: 1 or 0 (also true/false, on/off, yes/no)")
}

// parseSize reads an integer with an optional KiB/MiB/GiB (or K/M/G) suffix.
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, errors.New("allowed: a whole number, optionally with KiB, MiB or GiB")
	}
	return n * mult, nil
}

func checkDBURL(v string) error {
	if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
		return errors.New("allowed: an http:// or https:// URL of ClickHouse's HTTP interface (a mysql:// URL of the module does not apply)")
	}
	return nil
}

func checkIdent(v string) error {
	if v == "" || len(v) > 200 {
		return errors.New("allowed: 1 to 200 characters of A-Z a-z 0-9 _ , not starting with a digit")
	}
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || i > 0 && b >= '0' && b <= '9' {
			continue
		}
		return errors.New("allowed: 1 to 200 characters of A-Z a-z 0-9 _ , not starting with a digit")
	}
	return nil
}

func checkHeaderName(v string) error {
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b <= ' ' || b >= 0x7f || b == ':' || b == ';' {
			return errors.New("allowed: a header name (printable, no spaces, ':' or ';')")
		}
	}
	return nil
}

func checkHeaderList(v string) error {
	for _, h := range strings.Split(v, ";") {
		if err := checkHeaderName(strings.TrimSpace(h)); err != nil {
			return errors.New("allowed: header names separated by ';'")
		}
	}
	return nil
}

// ListenSpec is raw_socket_listen parsed: an optional address and a port range.
type ListenSpec struct {
	Addr           netip.Addr // invalid means any
	PortLo, PortHi uint16
}

// ParseListen parses "IP:port", "IP:port-port", ":port-port" or "[v6]:port".
func ParseListen(v string) (ListenSpec, error) {
	var ls ListenSpec
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return ls, errors.New("allowed: IP:port or IP:port-port, e.g. 10.0.0.1:5060-5090 or :5060")
	}
	host, ports := v[:i], v[i+1:]
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host != "" && host != "*" && host != "0.0.0.0" && host != "::" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return ls, fmt.Errorf("allowed: IP:port or IP:port-port; %q is not an IP address", host)
		}
		ls.Addr = a
	}
	lo, hi, found := strings.Cut(ports, "-")
	if !found {
		hi = lo
	}
	l, err1 := strconv.ParseUint(lo, 10, 16)
	h, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || l == 0 || h < l {
		return ls, errors.New("allowed: ports 1-65535, a single port or low-high")
	}
	ls.PortLo, ls.PortHi = uint16(l), uint16(h)
	return ls, nil
}

func checkListen(v string) error { _, err := ParseListen(v); return err }

func checkAddrOrEmpty(v string) error {
	if v == "" {
		return nil
	}
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return errors.New("allowed: host:port or :port")
	}
	if _, err := strconv.ParseUint(v[i+1:], 10, 16); err != nil {
		return errors.New("allowed: host:port or :port with a port 0-65535 (0: a free port, logged at start)")
	}
	return nil
}

func checkPrefixes(v string) error {
	_, err := ParsePrefixes(v)
	return err
}

// ParsePrefixes parses a comma-separated list of addresses or prefixes.
func ParsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("allowed: addresses or prefixes such as 10.0.0.0/8; %q is neither", s)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("allowed: addresses or prefixes such as 10.0.0.0/8; %q is neither", s)
		}
		out = append(out, p)
	}
	return out, nil
}

func checkCPUList(v string) error { _, err := ParseCPUList(v); return err }

// ParseCPUList parses "2-7", "1,3,5" or "" (nil: the default plan).
func ParseCPUList(v string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		lo, hi, found := strings.Cut(part, "-")
		if !found {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || l < 0 || h < l || h > 4095 {
			return nil, errors.New("allowed: CPU numbers and ranges such as 2-7 or 1,3,5")
		}
		for i := l; i <= h; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// dumpConfig writes the effective configuration as YAML (for --print-config).
func dumpConfig(c *Config) []byte {
	var b bytes.Buffer
	for _, p := range params {
		fmt.Fprintf(&b, "# %s\n%s: %s\n", p.help, p.name, strconv.Quote(configValue(c, p.name)))
	}
	return b.Bytes()
}
