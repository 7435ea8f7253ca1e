#!/usr/bin/env bash
# Starts the local control plane (test/controlplane) in the background, waits until it serves the CRD, and
# prints the admin kubeconfig path. Idempotent: a running control plane is reused.
#   CNS_STATE_DIR  where the kubeconfig, pid and log live (default /tmp/cns-controlplane)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
state=${CNS_STATE_DIR:-/tmp/cns-controlplane}
mkdir -p "$state" "$root/bin"

if [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null && [ -f "$state/ready" ]; then
	cat "$state/ready"
	exit 0
fi
bin=$("$root/hack/controlplane/build.sh")
(cd "$root" && go build -o bin/cns-controlplane ./test/controlplane)
rm -f "$state/ready"
KUBEBUILDER_ASSETS=$bin setsid nohup "$root/bin/cns-controlplane" --state-dir "$state" >"$state/controlplane.log" 2>&1 &
echo $! >"$state/pid"
for _ in $(seq 1 240); do
	if [ -f "$state/ready" ]; then
		cat "$state/ready"
		exit 0
	fi
	if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
		echo "controlplane: failed to start; log: $state/controlplane.log" >&2
		tail -n 20 "$state/controlplane.log" >&2
		exit 1
	fi
	sleep 0.5
done
echo "controlplane: not ready after 120 s; log: $state/controlplane.log" >&2
exit 1
