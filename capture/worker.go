package capture

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sipcap/appliance/decode"
)

// Output takes the messages a worker decides to store. Append must copy what
// it keeps: m and s alias the frame, which is released after the block.
// The sink's per-worker batch and the inspect printer are Outputs.
type Output interface {
	Append(m *decode.Meta, s *decode.SIP)
}

// Control is the state shared by all workers and changed at run time (the
// admin API, SIGHUP). Workers read it once per block, so a change takes
// effect within one block.
type Control struct {
	captureOn atomic.Bool
	filter    atomic.Pointer[Filter]
	node      atomic.Pointer[string]
	gen       atomic.Uint64 // bumped on every filter or node change
}

// NewControl returns a Control with capture on or off and the given filter
// (nil stores everything).
func NewControl(on bool, f *Filter) *Control {
	c := &Control{}
	c.captureOn.Store(on)
	if f == nil {
		f, _ = CompileFilter("")
	}
	c.filter.Store(f)
	return c
}

// SetCapture switches storing on or off (the sip_capture MI command).
func (c *Control) SetCapture(on bool) { c.captureOn.Store(on) }

// CaptureOn reports whether messages are stored.
func (c *Control) CaptureOn() bool { return c.captureOn.Load() }

// SetFilter replaces the store filter; workers pick it up at their next block.
func (c *Control) SetFilter(f *Filter) {
	c.filter.Store(f)
	c.gen.Add(1)
}

// Filter returns the current store filter.
func (c *Control) Filter() *Filter { return c.filter.Load() }

// SetNode replaces capture_node; workers pick it up at their next block and
// pass it to their Output when it is a NodeSetter.
func (c *Control) SetNode(node string) {
	c.node.Store(&node)
	c.gen.Add(1)
}

// NodeSetter is an Output whose stored node name can change at run time.
type NodeSetter interface {
	SetNode(node string)
}

// WorkerConfig configures one worker.
type WorkerConfig struct {
	// Path configures the frame decoder; nil means defaults.
	Path *decode.PathConfig
	// Node is capture_node, offered to the filter as node.
	Node string
	// NodeFromHEP offers the HEP agent name as node when a message has one.
	NodeFromHEP bool
	// HEPStoreNoScript stores HEP messages without the filter.
	HEPStoreNoScript bool
	// StoreMalformed stores messages whose start line is SIP but whose rest
	// is malformed (counted by kind either way). Default true in NewWorker's
	// callers: losing a message is worse than storing a broken one.
	StoreMalformed bool
	Dedup          DedupConfig
}

// Counters are a worker's own counts. Fields are written by the worker with
// atomic adds and may be read from any goroutine.
type Counters struct {
	Stored    atomic.Uint64 // handed to the Output
	Filtered  atomic.Uint64 // rejected by the store filter
	Deduped   atomic.Uint64 // suppressed as duplicates
	Off       atomic.Uint64 // seen while capture was off
	Malformed atomic.Uint64 // SIP start line but malformed (stored or not per config)
	ByMethod  [NumMethods]atomic.Uint64
	ByClass   [7]atomic.Uint64 // replies by status class 1xx..6xx; [0] other
}

// Worker drives frames from one source through the frame path, the store
// filter and dedup into its Output. A Worker belongs to one goroutine (a
// ring's, a listener's or a file reader's) for life: no locks per message.
type Worker struct {
	cfg   WorkerConfig
	ctl   *Control
	path  *decode.Path
	out   Output
	dedup *Dedup
	node  []byte

	// per block, from ctl
	on        bool
	filter    *Filter
	filterGen uint64

	blocks uint64
	snapMu sync.Mutex
	snap   decode.Stats // the path's counters as last published

	C Counters
}

// publishEvery is how many blocks pass between snapshots of the path's
// counters; with the default 10 ms block timeout an idle worker publishes
// at least every 0.64 s.
const publishEvery = 64

// NewWorker returns a worker writing to out under ctl.
func NewWorker(cfg WorkerConfig, ctl *Control, out Output) (*Worker, error) {
	p, err := decode.NewPath(cfg.Path)
	if err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg, ctl: ctl, path: p, out: out, dedup: NewDedup(cfg.Dedup), node: []byte(cfg.Node)}
	w.BeginBlock()
	return w, nil
}

// Path returns the worker's frame decoder (for its counters).
func (w *Worker) Path() *decode.Path { return w.path }

// Dedup returns the worker's dedup table, nil when off.
func (w *Worker) Dedup() *Dedup { return w.dedup }

// BeginBlock reads the shared control state. Call it before each block of
// frames (a ring block, a batch of datagrams).
func (w *Worker) BeginBlock() {
	w.blocks++
	if w.blocks%publishEvery == 0 {
		w.Publish()
	}
	w.on = w.ctl.CaptureOn()
	if g := w.ctl.gen.Load(); w.filter == nil || g != w.filterGen {
		w.filter = w.ctl.Filter().Clone()
		w.filterGen = g
		if n := w.ctl.node.Load(); n != nil && *n != string(w.node) {
			w.node = []byte(*n)
			if ns, ok := w.out.(NodeSetter); ok {
				ns.SetNode(*n)
			}
		}
	}
}

// Frame decodes one captured frame. Its bytes are not kept past the call
// except by the Output's copy. A frame error is counted by the path and
// returned for callers that report it.
func (w *Worker) Frame(frame []byte, link decode.LinkType, tsMicros int64, vlanTCI uint16) error {
	return w.path.Decode(frame, link, tsMicros, vlanTCI, w)
}

// HEP decodes one HEP datagram (or one framed HEP message from a TCP or TLS
// stream) received by a listener at tsMicros, as the frame path decodes HEP
// found on the wire: the HEP timestamp, when present, is the message's time.
// Errors and non-SIP payloads are counted with the path's counters.
func (w *Worker) HEP(datagram []byte, tsMicros int64) error {
	return w.path.DecodeHEP(datagram, tsMicros, w)
}

// SIP is the decode.Handler: the sip_capture() decision for one message.
func (w *Worker) SIP(m *decode.Meta, s *decode.SIP, err error) {
	if err != nil {
		w.C.Malformed.Add(1)
		if !w.cfg.StoreMalformed {
			return
		}
	}
	if !w.on {
		w.C.Off.Add(1)
		return
	}
	node := w.node
	if w.cfg.NodeFromHEP && len(m.Node) > 0 {
		node = m.Node
	}
	if !(m.HEPVersion != 0 && w.cfg.HEPStoreNoScript) && !w.filter.Match(m, s, node) {
		w.C.Filtered.Add(1)
		return
	}
	if w.dedup.Seen(m, s) {
		w.C.Deduped.Add(1)
		return
	}
	if s.IsRequest() {
		w.C.ByMethod[MethodIndex(s.Method)].Add(1)
	} else {
		c := int(s.Status / 100)
		if c < 1 || c > 6 {
			c = 0
		}
		w.C.ByClass[c].Add(1)
	}
	w.C.Stored.Add(1)
	w.out.Append(m, s)
}

// Publish copies the path's counters for readers on other goroutines
// (metrics). The worker's own goroutine calls it.
func (w *Worker) Publish() {
	w.snapMu.Lock()
	w.snap = *w.path.StatsRef()
	w.snapMu.Unlock()
}

// Snapshot returns the path's counters as last published. Safe from any
// goroutine.
func (w *Worker) Snapshot() decode.Stats {
	w.snapMu.Lock()
	defer w.snapMu.Unlock()
	return w.snap
}

// Expire sweeps reassembly state older than its timeouts at now, handing on
// messages that timed out behind a TCP hole; call it when a source is idle.
func (w *Worker) Expire(now time.Time) {
	w.path.ExpireTo(now.UnixMicro(), w)
	w.Publish()
}

// Flush hands on what the frame path still holds (TCP data behind a hole)
// and publishes the counters: call it at the end of a capture file and when
// a source closes.
func (w *Worker) Flush() {
	w.path.Flush(w)
	w.Publish()
}

// Methods counted by name; others count as "other".
var methodNames = [...]string{"other", "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS",
	"PRACK", "UPDATE", "INFO", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH"}

// NumMethods is the number of method counters.
const NumMethods = len(methodNames)

// MethodName returns the name of method counter i.
func MethodName(i int) string { return methodNames[i] }

// MethodIndex returns the counter index of a request method (0 for other).
func MethodIndex(m []byte) int {
	for i := 1; i < len(methodNames); i++ {
		if string(m) == methodNames[i] { // no allocation: the compiler compares in place
			return i
		}
	}
	return 0
}
