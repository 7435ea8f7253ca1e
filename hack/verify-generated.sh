#!/usr/bin/env bash
# Regenerates (make generate) deepcopy and the CRD from api/v3, the ClusterRoles in config/rbac from the
# +kubebuilder:rbac markers in internal/agent, and the chart's copies of them, and fails when the result
# differs from the files in the working tree, naming them. Works with uncommitted changes: it compares
# against the tree, not git.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
cp -a api config charts "$before/"
make -s generate >/dev/null
if ! diff -r "$before/api" api >/dev/null || ! diff -r "$before/config" config >/dev/null || ! diff -r "$before/charts" charts >/dev/null; then
	echo "verify: generated files were out of date with api/v3 or the RBAC markers and have now been regenerated:" >&2
	diff -rq "$before/api" api >&2 || true
	diff -rq "$before/config" config >&2 || true
	diff -rq "$before/charts" charts >&2 || true
	echo "verify: review and commit them" >&2
	exit 1
fi
