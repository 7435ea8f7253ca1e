#!/usr/bin/env bash
# Runs every fuzz target (func FuzzXxx) of the packages under ./internal/... for a duration each.
# Usage: hack/fuzz.sh [duration]   (default 10m; any `go test -fuzztime` value, e.g. 60s or 10000x)
# The seed corpus of each target already runs in plain `go test`; this is the long run (`make fuzz`,
# FUZZTIME=10m by default: every target at least 10 minutes; see docs/fuzzing.md). FUZZPARALLEL sets
# go test's -parallel (default: GOMAXPROCS).
# A failing input is saved by Go under the package's testdata/fuzz/<FuzzXxx>/ and makes this script fail;
# commit it with the fix, so that plain `go test` replays it from then on.
set -euo pipefail

duration=${1:-10m}
parallel=()
if [ -n "${FUZZPARALLEL:-}" ]; then
	parallel=(-parallel "$FUZZPARALLEL")
fi
cd "$(dirname "$0")/.."

failed=()
ran=0
for pkg in $(go list ./internal/...); do
	targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for target in $targets; do
		ran=$((ran + 1))
		echo "fuzz: $pkg $target for $duration" >&2
		start=$(date +%s)
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" "${parallel[@]}" "$pkg"; then
			echo "fuzz: $pkg $target: ok after $(($(date +%s) - start)) s" >&2
		else
			echo "fuzz: $pkg $target: FAILED after $(($(date +%s) - start)) s" >&2
			failed+=("$pkg $target")
		fi
	done
done

echo "fuzz: $ran targets run" >&2
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAILED: %s\n' "${failed[@]}" >&2
	exit 1
fi
