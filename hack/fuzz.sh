#!/usr/bin/env bash
# Runs every fuzz target (func FuzzXxx) of the packages under ./internal/... for a duration each.
# Usage: hack/fuzz.sh [duration]   (default 30s; any `go test -fuzztime` value, e.g. 5m or 10000x)
# The seed corpus of each target already runs in plain `go test`; this is the long run (`make fuzz`).
# A failing input is saved by Go under the package's testdata/fuzz/<FuzzXxx>/ and makes this script fail.
set -euo pipefail

duration=${1:-30s}
cd "$(dirname "$0")/.."

failed=()
ran=0
for pkg in $(go list ./internal/...); do
	targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for target in $targets; do
		ran=$((ran + 1))
		echo "fuzz: $pkg $target for $duration" >&2
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" "$pkg"; then
			failed+=("$pkg $target")
		fi
	done
done

echo "fuzz: $ran targets run" >&2
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAILED: %s\n' "${failed[@]}" >&2
	exit 1
fi
