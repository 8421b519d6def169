package main

import (
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipcap/appliance/ring"
	"github.com/sipcap/appliance/sink"
)

// pipelineMetrics exports what the capture collector does not: the rings'
// kernel counters, the HEP listeners, the sink, build info and reloads. All
// values are read at scrape time.
type pipelineMetrics struct {
	mu    sync.Mutex
	sink  *sink.Sink
	table string
	rings *ring.Group
	iface string
	hep   []hepSource

	version                                          string
	reloadOK                                         float64
	reloadTS                                         float64
	kPackets, kDrops, kFreezes                       *prometheus.Desc
	hepMsgs, hepAuth, hepDenied, hepDrops, hepGarb   *prometheus.Desc
	rows, inserts, insertErrs, retries, lost, dead   *prometheus.Desc
	spoolBytes, spoolFiles, spoolWrites, spoolReplay *prometheus.Desc
	queueBatches, queueBytes                         *prometheus.Desc
	build, reloadSuccess, reloadTime                 *prometheus.Desc
	oldestAge                                        *prometheus.Desc
	chReady                                          *prometheus.Desc

	batchRows, batchBytes, insertLatency prometheus.Histogram
}

// observeBody and observeInsert are the sink's observers.
func (m *pipelineMetrics) observeBody(rows, bytes int) {
	m.batchRows.Observe(float64(rows))
	m.batchBytes.Observe(float64(bytes))
}

func (m *pipelineMetrics) observeInsert(d time.Duration, rows int) {
	m.insertLatency.Observe(d.Seconds())
}

type hepSource struct {
	listener string
	stats    *ring.HEPStats
}

func newPipelineMetrics() *pipelineMetrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("appliance_"+name, help, labels, nil)
	}
	return &pipelineMetrics{
		reloadOK:      1,
		kPackets:      d("capture_packets_total", "Frames the kernel passed to a ring (PACKET_STATISTICS tp_packets).", "iface", "queue"),
		kDrops:        d("capture_kernel_drops_total", "Frames the kernel dropped because the ring was full (tp_drops).", "iface", "queue"),
		kFreezes:      d("capture_freeze_q_count_total", "Times the kernel froze a ring's queue (tp_freeze_q_cnt).", "iface", "queue"),
		hepMsgs:       d("hep_received_total", "HEP messages received by a listener.", "listener"),
		hepAuth:       d("hep_auth_failures_total", "HEP messages dropped for a missing or wrong auth key.", "listener"),
		hepDenied:     d("hep_denied_total", "HEP messages dropped because the sender is not allowed.", "listener"),
		hepDrops:      d("hep_kernel_drops_total", "HEP datagrams the kernel dropped (receive buffer full).", "listener"),
		hepGarb:       d("hep_garbage_bytes_total", "Stream bytes that did not frame as HEP.", "listener"),
		rows:          d("rows_inserted_total", "Rows inserted into ClickHouse.", "table"),
		inserts:       d("inserts_total", "Successful inserts.", "table"),
		insertErrs:    d("insert_errors_total", "Failed insert attempts by class.", "table", "class"),
		retries:       d("insert_retries_total", "Insert retries.", "table"),
		lost:          d("rows_lost_total", "Rows that could not be kept (spool full or absent).", "table"),
		dead:          d("dead_letters_total", "Insert bodies ClickHouse rejected for good, kept in the dead-letter folder.", "table"),
		spoolBytes:    d("spool_bytes", "Bytes in the disk spool.", "table"),
		spoolFiles:    d("spool_files", "Files in the disk spool.", "table"),
		spoolWrites:   d("spool_writes_total", "Insert bodies written to the spool.", "table"),
		spoolReplay:   d("spool_replays_total", "Spooled insert bodies inserted.", "table"),
		queueBatches:  d("queue_batches", "Full batches waiting for a flusher.", "table"),
		queueBytes:    d("queue_bytes", "Encoded insert bodies held in memory.", "table"),
		build:         d("build_info", "Build information.", "version", "goversion"),
		reloadSuccess: d("config_last_reload_successful", "Whether the last configuration reload succeeded."),
		reloadTime:    d("config_last_reload_success_timestamp_seconds", "Time of the last successful configuration reload."),
		oldestAge:     d("oldest_unflushed_age_seconds", "Age of the oldest stored message neither inserted into ClickHouse nor spooled to disk.", "table"),
		chReady:       d("clickhouse_ready", "1 once the table's layout was read from ClickHouse and rows can be inserted; 0 while live capture holds rows in memory waiting for it.", "table"),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "appliance_batch_rows",
			Help: "Rows per insert body (one or several workers' batches).", Buckets: prometheus.ExponentialBuckets(100, 2.5, 10)}),
		batchBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "appliance_batch_bytes",
			Help: "Compressed bytes per insert body.", Buckets: prometheus.ExponentialBuckets(16<<10, 2.5, 10)}),
		insertLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "appliance_insert_duration_seconds",
			Help: "Duration of successful inserts.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
	}
}

func (m *pipelineMetrics) buildInfo(v string) { m.version = v }

func (m *pipelineMetrics) setSink(s *sink.Sink, table string) {
	m.mu.Lock()
	m.sink, m.table = s, table
	m.mu.Unlock()
}

func (m *pipelineMetrics) setRings(g *ring.Group, iface string) {
	m.mu.Lock()
	m.rings, m.iface = g, ifaceName(iface)
	m.mu.Unlock()
}

func (m *pipelineMetrics) addHEP(listener string, st *ring.HEPStats) {
	m.mu.Lock()
	m.hep = append(m.hep, hepSource{listener, st})
	m.mu.Unlock()
}

func (m *pipelineMetrics) reloaded(ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ok {
		m.reloadOK = 1
		m.reloadTS = float64(time.Now().Unix())
	} else {
		m.reloadOK = 0
	}
}

// Describe implements prometheus.Collector.
func (m *pipelineMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.kPackets, m.kDrops, m.kFreezes, m.hepMsgs, m.hepAuth, m.hepDenied, m.hepDrops,
		m.hepGarb, m.rows, m.inserts, m.insertErrs, m.retries, m.lost, m.dead, m.spoolBytes, m.spoolFiles,
		m.spoolWrites, m.spoolReplay, m.queueBatches, m.queueBytes, m.build, m.reloadSuccess, m.reloadTime,
		m.oldestAge, m.chReady} {
		ch <- d
	}
	m.batchRows.Describe(ch)
	m.batchBytes.Describe(ch)
	m.insertLatency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *pipelineMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	s, tbl, g, iface, hep := m.sink, m.table, m.rings, m.iface, append([]hepSource(nil), m.hep...)
	okv, ts := m.reloadOK, m.reloadTS
	m.mu.Unlock()
	c := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	g1 := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	g1(m.build, 1, m.version, runtime.Version())
	m.batchRows.Collect(ch)
	m.batchBytes.Collect(ch)
	m.insertLatency.Collect(ch)
	g1(m.reloadSuccess, okv)
	g1(m.reloadTime, ts)
	if g != nil {
		if per, _, err := g.Stats(); err == nil {
			for i, st := range per {
				q := strconv.Itoa(i)
				c(m.kPackets, float64(st.Packets), iface, q)
				c(m.kDrops, float64(st.Drops), iface, q)
				c(m.kFreezes, float64(st.Freezes), iface, q)
			}
		}
	}
	for _, h := range hep {
		c(m.hepMsgs, float64(h.stats.Messages.Load()), h.listener)
		c(m.hepAuth, float64(h.stats.AuthFailures.Load()), h.listener)
		c(m.hepDenied, float64(h.stats.Denied.Load()), h.listener)
		c(m.hepDrops, float64(h.stats.KernelDrops.Load()), h.listener)
		c(m.hepGarb, float64(h.stats.Garbage.Load()), h.listener)
	}
	if s == nil {
		return
	}
	st := s.Stats()
	c(m.rows, float64(st.RowsInserted), tbl)
	c(m.inserts, float64(st.InsertsOK), tbl)
	for k, n := range st.InsertErrors {
		c(m.insertErrs, float64(n), tbl, sink.ErrClass(k).String())
	}
	c(m.retries, float64(st.Retries), tbl)
	c(m.lost, float64(st.RowsLost), tbl)
	c(m.dead, float64(st.DeadLetters), tbl)
	g1(m.spoolBytes, float64(st.SpoolBytes), tbl)
	g1(m.spoolFiles, float64(st.SpoolFiles), tbl)
	c(m.spoolWrites, float64(st.SpoolWrites), tbl)
	c(m.spoolReplay, float64(st.SpoolReplays), tbl)
	g1(m.queueBatches, float64(st.QueueBatches), tbl)
	g1(m.queueBytes, float64(st.QueueBytes), tbl)
	g1(m.oldestAge, s.OldestUnflushed(time.Now()).Seconds(), tbl)
	ready := 0.0
	select {
	case <-s.Ready():
		ready = 1
	default:
	}
	g1(m.chReady, ready, tbl)
}
