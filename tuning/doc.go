// Package tuning checks a capture host (ring geometry, IRQ and RPS affinity,
// offloads, socket buffers) and recommends settings. Its computations are pure
// functions; it changes the host only when asked to apply.
package tuning
