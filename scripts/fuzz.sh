#!/usr/bin/env bash
# Runs every fuzz target of the module for the given time each (default 30s),
# all of them even when one fails, and lists the failures at the end. A
# crasher is kept by go test under the package's testdata/fuzz/ folder.
set -uo pipefail
t=${1:-30s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cd "$(dirname "$0")/.."
failed=()
flaked=()
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "fuzz: $pkg $target ($t)"
		corpus="$dir/testdata/fuzz/$target"
		before=$(ls "$corpus" 2>/dev/null | wc -l)
		# Shrinking each new interesting input may otherwise take up to 60 s,
		# which on the large capture seeds of FuzzPath ate most of a run.
		if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$t" -fuzzminimizetime=5s "$pkg" 2>&1 | tee "$log"; then
			# Go 1.26's fuzzing coordinator can end a run that found nothing
			# with "context deadline exceeded" (go.dev/issue/75804, fixed in
			# Go 1.27). That, with no new input in the corpus, is not a
			# failure of the target; anything else is (a failing seed too).
			if [ "$(ls "$corpus" 2>/dev/null | wc -l)" -eq "$before" ] &&
				grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'failure while testing seed corpus' "$log"; then
				flaked+=("$pkg $target")
			else
				failed+=("$pkg $target")
			fi
		fi
	done
done
if [ ${#flaked[@]} -gt 0 ]; then
	printf 'fuzz: ended with an error but no failing input (go.dev/issue/75804): %s\n' "${flaked[@]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: failed: %s\n' "${failed[@]}"
	exit 1
fi
echo "fuzz: every target passed"
