// Package sink takes columnar batches of SIP messages to ClickHouse: DDL for
// each server dialect, Native encoding with ch-go's proto columns, compression,
// HTTP inserts, flushers, the disk spool and the dead-letter folder.
//
// A batch is owned by one capture worker until it is handed over through that
// worker's single-producer single-consumer queue; the sink never blocks a
// capture worker for long.
package sink
