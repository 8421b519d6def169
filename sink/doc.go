// Package sink takes columnar batches of SIP messages to ClickHouse: DDL for
// each server dialect, Native encoding with ch-go's proto columns, compression,
// HTTP inserts, flushers, the disk spool and the dead-letter folder.
//
// A capture worker owns one Worker: it appends rows to its own SIPBatch (the
// one copy of the message bytes) and hands full or aged batches to the sink
// through a lock-free single-producer single-consumer ring; the sink's
// collector goroutine, the only consumer of those rings, merges the batches
// of all workers into one insert and sends the emptied batches back through
// a second ring. Flushers encode a merged group into Native blocks inside
// ClickHouse's compressed framing; at most Config.MaxAsyncQueries senders
// POST them. A body that fails is re-sent byte for byte with exponential
// backoff and full jitter, moved to the disk spool when ClickHouse stays
// away or memory is full, and moved to the dead-letter folder when the
// server rejects its data. On servers with insert_deduplication_token every
// body carries a token derived from its bytes; on older servers (18.16) each
// body's attempts share one query_id, and after an ambiguous failure the
// sink asks system.processes and system.query_log whether the earlier
// attempt committed before sending again.
//
// The sink never blocks a capture worker for long: when all of a worker's
// batches are queued it waits at most Config.HandoffWait, then drops the
// batch's rows and counts them. It does not parse SIP, alter existing
// tables, or retry data the server rejected.
package sink
