#!/usr/bin/env bash
# Runs every fuzz target of the module for the given time each (default 30s),
# all of them even when one fails, and lists the failures at the end. A
# crasher is kept by go test under the package's testdata/fuzz/ folder.
set -uo pipefail
t=${1:-30s}
cd "$(dirname "$0")/.."
failed=()
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "fuzz: $pkg $target ($t)"
		# Shrinking each new interesting input may otherwise take up to 60 s,
		# which on the large capture seeds of FuzzPath ate most of a run.
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$t" -fuzzminimizetime=5s "$pkg" || failed+=("$pkg $target")
	done
done
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: failed: %s\n' "${failed[@]}"
	exit 1
fi
echo "fuzz: every target passed"
