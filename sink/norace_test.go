//go:build !race

package sink

// raceScale divides the row counts of the long server tests under the race
// detector, which makes them several times slower.
const raceScale = 1
