package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sipcap/appliance/capture"
	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/ring"
	"github.com/sipcap/appliance/sink"
	"github.com/sipcap/appliance/tuning"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// drainTimeout bounds the time the sink has at shutdown to insert or spool
// what it holds (systemd's TimeoutStopSec must be larger).
const drainTimeout = 45 * time.Second

// app is one running appliance: everything runCapture wires together.
type app struct {
	cfg     *Config
	cfgFile string
	fs      *flag.FlagSet
	log     *slog.Logger
	level   *slog.LevelVar
	ctl     *capture.Control
	sink    *sink.Sink
	reg     *prometheus.Registry
	coll    *capture.Collector
	metrics *pipelineMetrics
	stdout  io.Writer
	// replayMode makes the sink push back on a worker that has no free batch
	// instead of dropping rows: a file can wait, the wire cannot.
	replayMode bool

	mu      sync.Mutex
	workers []*capture.Worker
	ready   atomic.Bool
}

// runCapture is `appliance [flags]` (live capture) and `appliance replay FILE`.
func runCapture(ctx context.Context, args []string, stdout, stderr io.Writer, replay bool) error {
	name := "appliance"
	if replay {
		name = "replay"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	bindFlags(fs)
	cfgFile := fs.String("config", "", "YAML config file; its keys are the flag names (sipcapture's parameter names).")
	printCfg := fs.Bool("print-config", false, "Print the effective configuration as YAML and exit.")
	realtime := fs.Bool("realtime", false, "replay: feed the capture at the pace of its own timestamps.")
	fs.Usage = func() {
		if replay {
			fmt.Fprintln(stderr, "Usage: appliance replay [flags] FILE...\n\nThe capture pipeline fed from pcap/pcapng files, into ClickHouse.\n\nFlags:")
		} else {
			fmt.Fprint(stderr, usage+"\nFlags (also config-file keys and APPLIANCE_* environment variables):\n")
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if replay && fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	if !replay && fs.NArg() > 0 {
		return fmt.Errorf("unknown command or argument %q (see appliance -h)", fs.Arg(0))
	}
	cfg, notes, err := LoadConfig(*cfgFile, os.Environ(), fs)
	if err != nil {
		return err
	}
	if *printCfg {
		_, err := stdout.Write(dumpConfig(cfg))
		return err
	}
	a := &app{cfg: cfg, cfgFile: *cfgFile, fs: fs, stdout: stdout, replayMode: replay}
	a.log, a.level = newLogger(cfg, stderr)
	for _, n := range notes {
		a.log.Info("sipcapture config", "note", n)
	}
	if !replay && !cfg.RawMoniCaptureOn && !cfg.RawIPIPCaptureOn && !cfg.HEPCaptureOn {
		return errors.New("nothing to capture: turn on raw_moni_capture_on, raw_ipip_capture_on or hep_capture_on")
	}
	return a.run(ctx, replay, *realtime, fs.Args())
}

func newLogger(cfg *Config, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := &slog.LevelVar{}
	level.Set(parseLevel(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}

func parseLevel(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// sinkConfig maps the appliance configuration to the sink's.
func sinkConfig(c *Config) *sink.Config {
	return &sink.Config{
		URL:             c.DBURL,
		Table:           c.TableName,
		Compression:     c.Compression,
		RetentionDays:   c.RetentionDays,
		Node:            c.CaptureNode,
		NodeFromHEP:     c.HEPNodeFromAgent,
		BatchRows:       c.BatchRows,
		BatchBytes:      c.BatchBytes,
		BatchAge:        c.BatchAge,
		MaxAsyncQueries: c.MaxAsyncQueries,
		SpoolDir:        c.SpoolDir,
		SpoolBytes:      c.SpoolMaxBytes,
		DeadLetterDir:   c.DeadLetterDir,
		DrainTimeout:    drainTimeout,
		WorkerBatches:   c.WorkerBatches,
	}
}

// pathConfig maps the configuration to the frame path's.
func pathConfig(c *Config) *decode.PathConfig {
	pc := &decode.PathConfig{SIP: &decode.SIPConfig{ALegHeaders: c.ALegHeaders(), CustomHeaders: c.CustomHeaders}}
	if ls, err := ParseListen(c.RawSocketListen); err == nil {
		pc.SIPPorts = []decode.PortRange{{Lo: ls.PortLo, Hi: ls.PortHi}}
	}
	if _, port, err := net.SplitHostPort(c.HEPListen); err == nil {
		if p, err := strconv.Atoi(port); err == nil && p > 0 && !(p >= 5060 && p <= 5061) {
			pc.HEPPorts = []uint16{uint16(p)}
		}
	}
	return pc
}

func (a *app) workerConfig() capture.WorkerConfig {
	c := a.cfg
	return capture.WorkerConfig{
		Path:             pathConfig(c),
		Node:             c.CaptureNode,
		NodeFromHEP:      c.HEPNodeFromAgent,
		HEPStoreNoScript: c.HEPStoreNoScript,
		StoreMalformed:   true,
		Dedup:            capture.DedupConfig{Window: c.DedupWindow, ByCaptureID: c.DedupByCaptureID},
	}
}

// newWorker makes a capture worker writing to its own sink worker, and
// registers it for metrics under source.
func (a *app) newWorker(source string) (*capture.Worker, *sink.Worker, error) {
	sw := a.sink.NewWorker()
	w, err := capture.NewWorker(a.workerConfig(), a.ctl, sw)
	if err != nil {
		return nil, nil, err
	}
	a.coll.Add(source, w)
	a.mu.Lock()
	a.workers = append(a.workers, w)
	a.mu.Unlock()
	return w, sw, nil
}

func (a *app) run(ctx context.Context, replay, realtime bool, files []string) error {
	cfg := a.cfg
	filter, err := capture.CompileFilter(cfg.Filter)
	if err != nil {
		return err
	}
	if !filter.ZeroAlloc() {
		a.log.Warn("the filter uses expressions outside the allocation-free subset; it runs on expr's VM", "filter", cfg.Filter)
	}
	a.ctl = capture.NewControl(cfg.CaptureOn, filter)
	a.reg = prometheus.NewRegistry()
	a.coll = capture.NewCollector()
	a.metrics = newPipelineMetrics()
	a.reg.MustRegister(a.coll, a.metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics.buildInfo(version)

	var adm *admin
	if cfg.Admin != "" && !replay {
		adm = &admin{ctl: a.ctl, token: cfg.AdminToken, reg: a.reg, log: a.log, ready: a.ready.Load}
		if err := adm.start(cfg.Admin); err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			adm.close(sctx)
			cancel()
		}()
		a.log.Info("admin API listening", "addr", adm.Addr())
	}

	// The sink lives until the sources are drained: it gets its own context
	// and is closed explicitly after the last worker handed over its batch.
	if a.sink, err = a.openSink(ctx); err != nil {
		return err
	}
	a.metrics.setSink(a.sink, cfg.TableName)
	logReady := func() { a.log.Info("ClickHouse ready", "table", cfg.TableName, "dialect", a.sink.Dialect().String()) }
	select {
	case <-a.sink.Ready():
		logReady()
	default:
		// Live capture starts anyway (sink.Config.StartUnready): rows wait in
		// the workers' batches until ClickHouse answers.
		a.log.Warn("ClickHouse not reachable yet: capturing; rows wait in memory until it answers")
		go func() {
			select {
			case <-a.sink.Ready():
				logReady()
			case <-ctx.Done():
			}
		}()
	}

	if replay {
		err = a.replay(ctx, files, realtime)
	} else {
		err = a.live(ctx)
	}
	a.log.Info("draining to ClickHouse")
	dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	closeErr := a.sink.Close(dctx)
	st := a.sink.Stats()
	var stored uint64
	a.mu.Lock()
	for _, w := range a.workers {
		stored += w.C.Stored.Load()
	}
	a.mu.Unlock()
	a.log.Info("stopped", "stored", stored, "rows_inserted", st.RowsInserted, "spooled", st.SpoolWrites,
		"spool_files", st.SpoolFiles, "rows_lost", st.RowsLost, "dead_letters", st.DeadLetters)
	return errors.Join(err, closeErr)
}

// openSink connects to ClickHouse. For replay it retries with backoff until
// ClickHouse answers or ctx ends; for live capture the sink comes back at
// once and sets itself up in the background (Ready).
func (a *app) openSink(ctx context.Context) (*sink.Sink, error) {
	sc := sinkConfig(a.cfg)
	if a.replayMode {
		sc.HandoffWait = time.Second // the longest the sink allows; batches return once encoded
	} else {
		// A live source does not wait: capture while ClickHouse comes up
		// (at boot it often starts after the appliance).
		sc.StartUnready = true
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	delay := 500 * time.Millisecond
	for {
		s, err := sink.New(context.Background(), sc, &sink.Options{Logger: a.log,
			OnBody: a.metrics.observeBody, OnInsert: a.metrics.observeInsert})
		if err == nil {
			return s, nil
		}
		var netErr net.Error
		if !errors.As(err, &netErr) {
			return nil, err // the server answered: a schema or permission problem
		}
		a.log.Warn("ClickHouse not ready; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to ClickHouse: %w", err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// replay feeds capture files through one worker.
func (a *app) replay(ctx context.Context, files []string, realtime bool) error {
	w, sw, err := a.newWorker("file")
	if err != nil {
		return err
	}
	defer sw.Close()
	for _, name := range files {
		f, err := ring.OpenFile(name, realtime)
		if err != nil {
			return err
		}
		n, err := capture.ReadFile(ctx, f, w, nil)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		st := w.Snapshot()
		a.log.Info("replayed", "file", name, "frames", n, "sip_messages", st.SIPMessages, "stored", w.C.Stored.Load())
		if ctx.Err() != nil {
			return nil
		}
	}
	st := w.Snapshot()
	capture.WriteSummary(a.stdout, &st, &w.C)
	return nil
}

// live runs the rings and the HEP listeners until ctx ends; SIGHUP reloads.
func (a *app) live(ctx context.Context) error {
	cfg := a.cfg
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}

	if cfg.RawMoniCaptureOn || cfg.RawIPIPCaptureOn {
		rc := &ring.Config{
			Interface: cfg.RawInterface, BlockSize: cfg.RingBlockSize, BlockCount: cfg.RingBlockCount,
			FrameSize: min(cfg.RingFrameSize, cfg.RingBlockSize), RetireTimeout: cfg.RingBlockTimeout,
			Workers: cfg.RawSockChildren, Promiscuous: cfg.PromiscuousOn,
			Mirror: cfg.RawMoniCaptureOn, IPIP: cfg.RawIPIPCaptureOn, Listen: cfg.RawSocketListen,
			KernelFilterOff: !cfg.RawMoniBPFOn, MirrorTunnels: cfg.RawMoniTunnels,
		}
		mode, err := ring.ParseFanoutMode(cfg.FanoutMode)
		if err != nil {
			return err
		}
		rc.Fanout = mode
		g, err := ring.OpenGroup(rc)
		if err != nil {
			return err
		}
		defer func() {
			if _, total, err := g.Stats(); err == nil {
				a.log.Info("rings closed", "kernel_packets", total.Packets, "kernel_drops", total.Drops, "freezes", total.Freezes)
			}
			g.Close()
		}()
		a.metrics.setRings(g, cfg.RawInterface)
		cpus, err := a.cpuPlan()
		if err != nil {
			return err
		}
		a.log.Info("capturing", "interface", ifaceName(cfg.RawInterface), "workers", len(g.Rings),
			"ring_memory_bytes", g.Memory(), "cpus", fmt.Sprint(cpus), "listen", cfg.RawSocketListen)
		workers := make([]*capture.Worker, len(g.Rings))
		sinks := make([]*sink.Worker, len(g.Rings))
		for i := range g.Rings {
			if workers[i], sinks[i], err = a.newWorker("ring" + strconv.Itoa(i)); err != nil {
				return err
			}
		}
		start("capture", func() error {
			return g.Run(ctx, cpus, func(i int, r *ring.Ring) error {
				defer sinks[i].Close()
				return ringLoop(r, workers[i], sinks[i])
			})
		})
	}

	if cfg.HEPCaptureOn {
		if err := a.startHEP(ctx, start); err != nil {
			return err
		}
	}
	if err := a.dropPrivileges(); err != nil {
		return err
	}
	// Capturing: systemd may go on. /readyz waits for ClickHouse as well.
	sdNotify("READY=1")
	go func() {
		select {
		case <-a.sink.Ready():
			a.ready.Store(true) // ClickHouse answered and every source is open
		case <-ctx.Done():
		}
	}()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errs:
			runErr = err
			break loop
		case <-hup:
			a.reload()
		}
	}
	sdNotify("STOPPING=1")
	a.log.Info("stopping: closing sources")
	cancel()
	wg.Wait()
	for {
		select {
		case err := <-errs:
			runErr = errors.Join(runErr, err)
		default:
			return runErr
		}
	}
}

func ifaceName(s string) string {
	if s == "" {
		return "any"
	}
	return s
}

// ringLoop drains one ring: every block through the worker, then back to the
// kernel; between blocks the sink worker flushes by age and idle state is
// swept.
func ringLoop(r *ring.Ring, w *capture.Worker, sw *sink.Worker) error {
	const idle = 100 * time.Millisecond
	for {
		err := r.Next(idle, func(b *ring.Block) error {
			w.Block(b)
			return nil
		})
		now := time.Now()
		switch {
		case err == nil:
		case errors.Is(err, ring.ErrTimeout):
			w.Expire(now)
		case errors.Is(err, ring.ErrClosed):
			w.Flush()
			return nil
		default:
			return err
		}
		sw.Tick(now)
	}
}

// cpuPlan returns the CPUs the ring workers are pinned to.
func (a *app) cpuPlan() ([]int, error) {
	if a.cfg.CPUs != "" {
		cpus, _ := ParseCPUList(a.cfg.CPUs)
		if len(cpus) < a.cfg.RawSockChildren {
			return nil, fmt.Errorf("cpus = %q: %d CPUs for raw_sock_children = %d; allowed: at least one CPU per worker",
				a.cfg.CPUs, len(cpus), a.cfg.RawSockChildren)
		}
		return cpus, nil
	}
	allowed, err := ring.AllowedCPUs()
	if err != nil {
		return nil, err
	}
	return tuning.CPUPlan(a.cfg.RawSockChildren, allowed), nil
}

// startHEP opens the HEP listeners: UDP with one socket and worker per
// raw_sock_children, and TCP/TLS each with raw_sock_children workers that
// their connections share, a connection always on the same worker (chosen by
// its remote address) under that worker's mutex, since a Worker belongs to
// one goroutine at a time.
func (a *app) startHEP(ctx context.Context, start func(string, func() error)) error {
	cfg := a.cfg
	hc := &ring.HEPConfig{Addr: cfg.HEPListen, Workers: cfg.RawSockChildren, TCPAddr: cfg.HEPTCPListen,
		TLSAddr: cfg.HEPTLSListen, TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey,
		Idle: min(100*time.Millisecond, cfg.BatchAge/2)} // a quiet socket still flushes by age
	if cfg.HEPAuthKey != "" {
		hc.AuthKey = []byte(cfg.HEPAuthKey)
	}
	hc.Allow, _ = ParsePrefixes(cfg.HEPAllow)
	udp, err := ring.ListenHEPUDP(hc)
	if err != nil {
		return err
	}
	for _, warn := range udp.Warnings {
		a.log.Warn("HEP UDP", "warning", warn)
	}
	a.metrics.addHEP("udp", &udp.Stats)
	a.log.Info("HEP listening", "udp", udp.Addr().String(), "workers", cfg.RawSockChildren)
	workers := make([]*capture.Worker, cfg.RawSockChildren)
	sinks := make([]*sink.Worker, cfg.RawSockChildren)
	for i := range workers {
		if workers[i], sinks[i], err = a.newWorker("hep-udp" + strconv.Itoa(i)); err != nil {
			udp.Close()
			return err
		}
	}
	start("hep udp", func() error {
		defer udp.Close()
		err := udp.Run(ctx, nil, func(i int, b *ring.HEPBatch) error {
			w := workers[i]
			w.BeginBlock()
			for j := 0; j < b.Len(); j++ {
				w.HEP(b.Data(j), b.TS())
			}
			sinks[i].Tick(time.Now())
			return nil
		})
		for i := range sinks {
			workers[i].Publish()
			sinks[i].Close()
		}
		return err
	})
	streams := []struct {
		name string
		addr string
		open func(*ring.HEPConfig) (*ring.HEPStreamListener, error)
	}{{"tcp", cfg.HEPTCPListen, ring.ListenHEPTCP}, {"tls", cfg.HEPTLSListen, ring.ListenHEPTLS}}
	for _, s := range streams {
		if s.addr == "" {
			continue
		}
		l, err := s.open(hc)
		if err != nil {
			return err
		}
		a.metrics.addHEP(s.name, &l.Stats)
		a.log.Info("HEP listening", s.name, l.Addr().String(), "workers", cfg.RawSockChildren)
		type streamWorker struct {
			mu sync.Mutex
			w  *capture.Worker
			sw *sink.Worker
		}
		ws := make([]streamWorker, cfg.RawSockChildren)
		for i := range ws {
			if ws[i].w, ws[i].sw, err = a.newWorker("hep-" + s.name + strconv.Itoa(i)); err != nil {
				l.Close()
				return err
			}
		}
		start("hep "+s.name, func() error {
			defer l.Close()
			err := l.Serve(ctx, func(b *ring.HEPBatch) error {
				if b.Len() == 0 {
					return nil
				}
				sw := &ws[connWorker(b.Src(0), len(ws))]
				sw.mu.Lock()
				defer sw.mu.Unlock()
				sw.w.BeginBlock()
				for j := 0; j < b.Len(); j++ {
					sw.w.HEP(b.Data(j), b.TS())
				}
				sw.sw.Tick(time.Now())
				return nil
			})
			for i := range ws {
				ws[i].mu.Lock()
				ws[i].w.Publish()
				ws[i].sw.Close()
				ws[i].mu.Unlock()
			}
			return err
		})
	}
	return nil
}

// connWorker picks the worker of n for a HEP stream connection from its
// remote address and port, so that one connection's batches stay in order on
// one worker and different agents spread over the workers.
func connWorker(src netip.AddrPort, n int) int {
	a := src.Addr().As16()
	h := uint64(src.Port())
	for _, c := range a {
		h = h*31 + uint64(c)
	}
	return int(h % uint64(n))
}

// reload re-reads the configuration (SIGHUP). The filter, capture_on,
// capture_node and the log level take effect at once (within one block); other changes need a restart and are named.
// An invalid configuration is reported and the running one kept.
func (a *app) reload() {
	cfg, _, err := LoadConfig(a.cfgFile, os.Environ(), a.fs)
	if err == nil {
		var f *capture.Filter
		if f, err = capture.CompileFilter(cfg.Filter); err == nil {
			a.ctl.SetFilter(f)
		}
	}
	if err != nil {
		a.metrics.reloaded(false)
		a.log.Error("config reload failed: keeping the running configuration", "err", err)
		return
	}
	a.ctl.SetCapture(cfg.CaptureOn)
	a.ctl.SetNode(cfg.CaptureNode)
	a.level.Set(parseLevel(cfg.LogLevel))
	var restart []string
	for _, p := range params {
		switch p.name {
		case "filter", "capture_on", "log_level", "capture_node":
			continue
		}
		if configValue(cfg, p.name) != configValue(a.cfg, p.name) {
			restart = append(restart, p.name)
		}
	}
	old := a.cfg
	a.cfg = cfg
	a.metrics.reloaded(true)
	a.log.Info("config reloaded", "filter", cfg.Filter, "capture_on", cfg.CaptureOn, "capture_node", cfg.CaptureNode,
		"log_level", cfg.LogLevel, "filter_changed", old.Filter != cfg.Filter)
	if len(restart) > 0 {
		a.log.Warn("config reload: these changes take effect after a restart", "keys", fmt.Sprint(restart))
	}
}

// dropPrivileges switches to cfg.User once every socket is open, when the
// appliance was started as root.
func (a *app) dropPrivileges() error {
	name := a.cfg.User
	if name == "" || os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("user = %q: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if a.cfg.SpoolDir != "" {
		// the spool must stay writable after the switch
		filepath.WalkDir(a.cfg.SpoolDir, func(p string, _ os.DirEntry, _ error) error {
			os.Lchown(p, uid, gid)
			return nil
		})
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("drop privileges: setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("drop privileges: setgid: %w", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("drop privileges: setuid: %w", err)
	}
	a.log.Info("dropped privileges", "user", name, "uid", uid, "gid", gid)
	return nil
}

// sdNotify tells systemd (Type=notify) about the service state; without
// NOTIFY_SOCKET it does nothing.
func sdNotify(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	c.Write([]byte(state))
	c.Close()
}
