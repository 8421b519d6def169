package capture

import (
	"fmt"
	"io"
	"strings"

	"github.com/sipcap/appliance/decode"
)

// WriteSummary writes what a run saw, for people: frames, SIP messages and
// what became of them, messages by encapsulation, decode errors by layer and
// kind, IP fragments and TCP reassembly. Zero counts are left out.
func WriteSummary(w io.Writer, st *decode.Stats, c *Counters) {
	fmt.Fprintf(w, "frames %d, SIP messages %d", st.Frames, st.SIPMessages)
	if c != nil {
		fmt.Fprintf(w, " (stored %d", c.Stored.Load())
		for _, x := range []struct {
			name string
			n    uint64
		}{{"filtered", c.Filtered.Load()}, {"deduplicated", c.Deduped.Load()}, {"capture off", c.Off.Load()},
			{"malformed", c.Malformed.Load()}} {
			if x.n > 0 {
				fmt.Fprintf(w, ", %s %d", x.name, x.n)
			}
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)

	var parts []string
	if st.Plain > 0 {
		parts = append(parts, fmt.Sprintf("plain %d", st.Plain))
	}
	for l := decode.LayerVLAN; l <= decode.LayerFragment; l++ {
		if l == decode.LayerIPv4 || l == decode.LayerIPv6 || l == decode.LayerUDP {
			continue
		}
		if int(l) < len(st.ByLayer) && st.ByLayer[l] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", l, st.ByLayer[l]))
		}
	}
	line(w, "messages by encapsulation", parts)

	parts = parts[:0]
	for l := range st.Errors {
		for k := range st.Errors[l] {
			if n := st.Errors[l][k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s/%s %d", decode.Layer(l), decode.FrameErrorKind(k), n))
			}
		}
	}
	for i, n := range st.SIPErrors {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("sip/%s %d", decode.SIPErrorKindAt(i), n))
		}
	}
	for i, n := range st.HEPErrors {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("hep/%s %d", decode.HEPError(i).Kind(), n))
		}
	}
	line(w, "decode errors", parts)

	parts = parts[:0]
	for _, x := range []struct {
		name string
		n    uint64
	}{{"HEP packets", st.HEP}, {"HEP not SIP", st.HEPNonSIP}, {"not SIP on SIP ports", st.NonSIP},
		{"other IP", st.Other}, {"not IP", st.NonIP}, {"SCTP fragmented", st.SCTPFragmented}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", x.name, x.n))
		}
	}
	line(w, "other traffic", parts)

	d := &st.Defrag
	if d.Fragments > 0 {
		parts = parts[:0]
		parts = append(parts, fmt.Sprintf("received %d", d.Fragments), fmt.Sprintf("reassembled %d", d.Reassembled))
		if d.Overlaps > 0 {
			parts = append(parts, fmt.Sprintf("overlapping %d", d.Overlaps))
		}
		if d.Malformed > 0 {
			parts = append(parts, fmt.Sprintf("malformed %d", d.Malformed))
		}
		for r, n := range d.Evicted {
			if n > 0 {
				parts = append(parts, fmt.Sprintf("evicted (%s) %d", decode.EvictReasonName(r), n))
			}
		}
		if d.InFlight > 0 {
			parts = append(parts, fmt.Sprintf("incomplete at end %d", d.InFlight))
		}
		line(w, "IP fragments", parts)
	}
	tc := &st.TCP
	if tc.Segments > 0 {
		parts = parts[:0]
		for _, x := range []struct {
			name string
			n    uint64
		}{{"segments", tc.Segments}, {"messages", tc.Messages}, {"gaps", tc.Gaps}, {"resyncs", tc.Resyncs},
			{"retransmitted", tc.Retransmits}, {"out of order", tc.OutOfOrder}, {"too large", tc.TooLarge},
			{"bad length", tc.BadLength}, {"not SIP", tc.NonSIP}, {"flows", tc.FlowsOpened}, {"flows refused", tc.FlowsRefused}} {
			if x.n > 0 || x.name == "gaps" {
				parts = append(parts, fmt.Sprintf("%s %d", x.name, x.n))
			}
		}
		line(w, "TCP", parts)
	}
}

func line(w io.Writer, title string, parts []string) {
	if len(parts) == 0 {
		fmt.Fprintf(w, "%s: none\n", title)
		return
	}
	fmt.Fprintf(w, "%s: %s\n", title, strings.Join(parts, ", "))
}
