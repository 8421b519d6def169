package capture

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sipcap/appliance/decode"
)

// Collector exports the counters of a set of workers to Prometheus. Values
// are read at scrape time from the workers' atomics and published snapshots,
// so the capture path does no metric work per message.
type Collector struct {
	mu      sync.Mutex
	workers []*Worker
	names   []string // the source of each worker: "ring0", "hep-udp1", "file"

	requests, replies, stored, filtered, deduped, off, malformed *prometheus.Desc
	decodeErrors, fragments, reassembled, defragDrop             *prometheus.Desc
	tcpGaps, tcpResyncs, nonSIP, hep, hepOther                   *prometheus.Desc
	frames, encap                                                *prometheus.Desc
}

// NewCollector returns an empty Collector; Add registers workers.
func NewCollector() *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("appliance_"+name, help, labels, nil)
	}
	return &Collector{
		frames:       d("frames_total", "Frames handed to the frame path.", "source"),
		requests:     d("sip_requests_total", "SIP requests stored, by method (others: other).", "method"),
		replies:      d("sip_replies_total", "SIP replies stored, by status class.", "status_class"),
		stored:       d("stored_total", "SIP messages handed to the sink.", "source"),
		filtered:     d("filtered_total", "SIP messages the store filter rejected (intentional).", "source"),
		deduped:      d("deduplicated_total", "SIP messages suppressed as duplicates (intentional).", "source"),
		off:          d("capture_off_total", "SIP messages seen while capture was switched off (intentional).", "source"),
		malformed:    d("sip_malformed_total", "Messages with a SIP start line that did not decode cleanly.", "source"),
		decodeErrors: d("decode_errors_total", "Decode failures by layer and kind.", "layer", "reason"),
		fragments:    d("ip_fragments_total", "IP fragments received.", "source"),
		reassembled:  d("ip_reassembled_total", "IP datagrams reassembled from fragments.", "source"),
		defragDrop:   d("ip_defrag_dropped_total", "Datagrams under reassembly dropped, by reason.", "reason"),
		tcpGaps:      d("tcp_reassembly_gaps_total", "Holes in SIP TCP streams never filled.", "source"),
		tcpResyncs:   d("tcp_resyncs_total", "Times a SIP TCP stream skipped to the next start line.", "source"),
		nonSIP:       d("non_sip_payloads_total", "Payloads on SIP ports that are not SIP.", "source"),
		hep:          d("hep_packets_total", "HEP packets decoded.", "source"),
		hepOther:     d("hep_non_sip_total", "HEP packets carrying something other than SIP.", "source"),
		encap:        d("sip_messages_by_encap_total", "SIP messages by a layer of their encapsulation (plain = none).", "layer"),
	}
}

// Add registers a worker under a source name.
func (c *Collector) Add(name string, w *Worker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.workers = append(c.workers, w)
	c.names = append(c.names, name)
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.frames, c.requests, c.replies, c.stored, c.filtered, c.deduped, c.off, c.malformed,
		c.decodeErrors, c.fragments, c.reassembled, c.defragDrop, c.tcpGaps, c.tcpResyncs, c.nonSIP, c.hep, c.hepOther, c.encap} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	workers := append([]*Worker(nil), c.workers...)
	names := append([]string(nil), c.names...)
	c.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	var methods [NumMethods]uint64
	var classes [7]uint64
	var errs [32][8]uint64
	var sipErrs [8]uint64
	var hepErrs [16]uint64
	var evict [decode.NumEvictReasons]uint64
	var byLayer [32]uint64
	var plain uint64
	for i, w := range workers {
		src := names[i]
		st := w.Snapshot()
		counter(c.frames, st.Frames, src)
		counter(c.stored, w.C.Stored.Load(), src)
		counter(c.filtered, w.C.Filtered.Load(), src)
		counter(c.deduped, w.C.Deduped.Load(), src)
		counter(c.off, w.C.Off.Load(), src)
		counter(c.malformed, w.C.Malformed.Load(), src)
		counter(c.fragments, st.Defrag.Fragments, src)
		counter(c.reassembled, st.Defrag.Reassembled, src)
		counter(c.tcpGaps, st.TCP.Gaps, src)
		counter(c.tcpResyncs, st.TCP.Resyncs, src)
		counter(c.nonSIP, st.NonSIP, src)
		counter(c.hep, st.HEP, src)
		counter(c.hepOther, st.HEPNonSIP, src)
		for m := range methods {
			methods[m] += w.C.ByMethod[m].Load()
		}
		for k := range classes {
			classes[k] += w.C.ByClass[k].Load()
		}
		for l := range st.Errors {
			for k := range st.Errors[l] {
				if l < len(errs) && k < len(errs[l]) {
					errs[l][k] += st.Errors[l][k]
				}
			}
		}
		for k, n := range st.SIPErrors {
			sipErrs[k] += n
		}
		for k, n := range st.HEPErrors {
			hepErrs[k] += n
		}
		for r, n := range st.Defrag.Evicted {
			evict[r] += n
		}
		for l, n := range st.ByLayer {
			if l < len(byLayer) {
				byLayer[l] += n
			}
		}
		plain += st.Plain
	}
	for m, n := range methods {
		counter(c.requests, n, MethodName(m))
	}
	for k, n := range classes {
		cls := "other"
		if k > 0 {
			cls = strconv.Itoa(k) + "xx"
		}
		counter(c.replies, n, cls)
	}
	for l := range errs {
		for k, n := range errs[l] {
			if n > 0 {
				counter(c.decodeErrors, n, decode.Layer(l).String(), decode.FrameErrorKind(k).String())
			}
		}
	}
	for k, n := range sipErrs {
		if n > 0 {
			counter(c.decodeErrors, n, "sip", decode.SIPErrorKindAt(k))
		}
	}
	for k, n := range hepErrs {
		if n > 0 {
			counter(c.decodeErrors, n, "hep", decode.HEPError(k).Kind())
		}
	}
	for r, n := range evict {
		counter(c.defragDrop, n, decode.EvictReasonName(r))
	}
	counter(c.encap, plain, "plain")
	for l := decode.LayerVLAN; int(l) < len(byLayer); l++ {
		if byLayer[l] > 0 && l != decode.LayerIPv4 && l != decode.LayerIPv6 && l != decode.LayerUDP {
			counter(c.encap, byLayer[l], l.String())
		}
	}
}
