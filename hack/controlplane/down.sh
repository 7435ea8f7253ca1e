#!/usr/bin/env bash
# Stops the control plane started by up.sh (it stops kube-apiserver before etcd) and waits for it to exit.
set -euo pipefail
state=${CNS_STATE_DIR:-/tmp/cns-controlplane}
[ -f "$state/pid" ] || exit 0
pid=$(cat "$state/pid")
if kill -0 "$pid" 2>/dev/null; then
	kill -TERM "$pid"
	for _ in $(seq 1 120); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "controlplane: pid $pid did not stop in 60 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
fi
rm -f "$state/pid" "$state/ready"
