#!/usr/bin/env bash
# Prints the build's version and commit, one per line, for -ldflags -X (Makefile, hack/image/build.sh,
# hack/release): the version is the nearest v* tag (git describe), or v0.0.0-<short commit> without one,
# with -dirty when the work tree has changes; both are overridable with VERSION and COMMIT.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
version=${VERSION:-}
if [ -z "$version" ]; then
	if ! version=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
		version="v0.0.0-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
		if ! git diff --quiet HEAD 2>/dev/null; then version="$version-dirty"; fi
	fi
fi
echo "$version"
echo "$commit"
