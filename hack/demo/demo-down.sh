#!/usr/bin/env bash
# `make demo-down`: stops and removes everything `make demo` started, then checks that nothing is left:
# the agents (pid files), the BIRD lab (its network namespaces with every link and process in them: BIRD,
# gobgpd), the control plane (kube-apiserver, etcd) and the state directory. Safe to run twice.
# Same settings as demo.sh (lib.sh); the lab name is read back from the state directory when it is there.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

demo_require_root_linux demo-down
if ! why=$(demo_validate_settings); then
	echo "demo-down: $why" >&2
	exit 1
fi
if [ -f "$demo_state/demo.env" ]; then
	saved=$(sed -n 's/^CNS_DEMO_NAME=\([a-z][a-z0-9]*\)$/\1/p' "$demo_state/demo.env")
	if [ -n "$saved" ]; then
		demo_name=$saved
		demo_lab_run=/run/$demo_name
	fi
fi

# Every process we are about to stop, to check afterwards that none survived.
pids=()
for f in "$demo_state"/node*/agent.pid "$demo_cp_state/pid" "$demo_lab_run"/*/*.pid; do
	[ -f "$f" ] || continue
	pid=$(cat "$f" 2>/dev/null || true)
	if ! [[ $pid =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then continue; fi
	pids+=("$pid")
	# The control plane's children: etcd and kube-apiserver.
	if [ "$f" = "$demo_cp_state/pid" ]; then
		for c in $(pgrep -P "$pid" || true); do pids+=("$c"); done
	fi
done
for ns in $(demo_lab_namespaces); do
	for p in $(ip netns pids "$ns" 2>/dev/null || true); do pids+=("$p"); done
done

# Unique (a BIRD is both in a pid file and in its namespace).
mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un | grep .)

echo "demo-down: stopping the agents"
for f in "$demo_state"/node*/agent.pid; do
	[ -f "$f" ] || continue
	demo_stop_pidfile "$f" "$(dirname "$f")/kubeconfig"
done

if [ -n "$(demo_lab_namespaces)" ] || [ -d "$demo_lab_run" ]; then
	echo "demo-down: removing the BIRD lab $demo_name (namespaces $demo_name-*, BIRD, gobgpd)"
	if ! out=$("$demo_root/test/lab/lab.sh" down --name "$demo_name" 2>&1); then
		echo "$out" >&2
		echo "demo-down: test/lab/lab.sh down --name $demo_name failed" >&2
		exit 1
	fi
fi

if [ -f "$demo_cp_state/pid" ]; then
	echo "demo-down: stopping the control plane"
	CNS_STATE_DIR=$demo_cp_state "$demo_root/hack/controlplane/down.sh"
fi

if [ -d "$demo_state" ]; then
	if [ -e "$demo_state/$demo_marker" ]; then
		echo "demo-down: removing $demo_state"
		rm -rf "$demo_state"
	else
		echo "demo-down: $demo_state is not a demo state directory (no $demo_marker): left alone" >&2
	fi
fi

# Check: no namespace, no process.
left=()
ns_left=$(demo_lab_namespaces | tr '\n' ' ')
[ -z "$ns_left" ] || left+=("network namespaces: $ns_left")
alive=()
for pid in "${pids[@]}"; do
	# A zombie is gone for our purposes; anything else with that pid is still running.
	state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
	if [ -n "$state" ] && [ "$state" != Z ]; then alive+=("$pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"); fi
done
[ "${#alive[@]}" -eq 0 ] || left+=("processes: ${alive[*]}")
[ ! -d "$demo_lab_run" ] || left+=("directory $demo_lab_run")
if [ "${#left[@]}" -gt 0 ]; then
	printf 'demo-down: left behind: %s\n' "${left[@]}" >&2
	exit 1
fi
echo "demo-down: nothing left (no namespace $demo_name-*, none of the ${#pids[@]} processes, no $demo_state)"
