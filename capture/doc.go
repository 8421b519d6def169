// Package capture drives packets from a source through the decoders into the
// worker's own batch: the store filter (the sip_capture() decision), dedup,
// capture on/off state and the counters. One worker owns its decoders and batch
// for life; nothing here knows about HTTP or SQL.
package capture
