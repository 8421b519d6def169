// Package bench holds end-to-end benchmarks of the pipeline (capture file
// through decode, batch and compression) and the baselines they are compared
// with. Nothing here is needed at run time. Results are in RESULTS.md.
package bench
