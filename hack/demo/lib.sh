# shellcheck shell=bash disable=SC2034 # the settings are used by the scripts that source this file
# Sourced by demo.sh and demo-down.sh: the demo's settings and small helpers.
#
# Settings (environment):
#   CNS_DEMO_NAME        lab name, prefix of its network namespaces (default cnsdemo; 1-12 of [a-z0-9])
#   CNS_DEMO_STATE_DIR   kubeconfigs, logs, pid files, the control plane's state (default /tmp/cns-demo)
#   CNS_DEMO_BIRD        1 (BIRD 1.6: bird + bird6, as Calico ships) or 2 (BIRD 2) (default 1)
#   CNS_DEMO_PORT_BASE   node i's agent serves metrics on 127.0.0.1:BASE+2(i-1), health on the port after
#                        (default 9560)
#   CNS_DEMO_TIMEOUT     seconds to wait for each readiness (agents, the status) (default 90)
# A second demo beside the first (the e2e test does this) needs another name, state dir and port base.

demo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
demo_name=${CNS_DEMO_NAME:-cnsdemo}
demo_state=${CNS_DEMO_STATE_DIR:-/tmp/cns-demo}
demo_bird=${CNS_DEMO_BIRD:-1}
demo_port_base=${CNS_DEMO_PORT_BASE:-9560}
demo_timeout=${CNS_DEMO_TIMEOUT:-90}
demo_nodes=3
# Marks a state directory as the demo's own: demo-down deletes only a directory that has it, so a wrong
# CNS_DEMO_STATE_DIR never removes someone else's files.
demo_marker=.calico-node-status-demo
demo_cp_state=$demo_state/controlplane
demo_lab_run=/run/$demo_name
agent_bin=$demo_root/bin/calico-node-status-agent
cli_bin=$demo_root/bin/calico-node-status
object=my-caliconodestatus-1

demo_validate_settings() { # prints what is wrong, returns 1
	[[ $demo_name =~ ^[a-z][a-z0-9]{0,11}$ ]] || { echo "CNS_DEMO_NAME='$demo_name': use 1-12 characters [a-z0-9], starting with a letter"; return 1; }
	[[ $demo_bird =~ ^[12]$ ]] || { echo "CNS_DEMO_BIRD='$demo_bird': 1 (BIRD 1.6) or 2 (BIRD 2)"; return 1; }
	if ! [[ $demo_port_base =~ ^[0-9]+$ ]] || [ "$demo_port_base" -lt 1024 ] || [ "$demo_port_base" -gt 65000 ]; then
		echo "CNS_DEMO_PORT_BASE='$demo_port_base': a port in 1024..65000"
		return 1
	fi
	if ! [[ $demo_timeout =~ ^[0-9]+$ ]] || [ "$demo_timeout" -eq 0 ]; then
		echo "CNS_DEMO_TIMEOUT='$demo_timeout': seconds > 0"
		return 1
	fi
	case $demo_state in /* ) ;; *) echo "CNS_DEMO_STATE_DIR='$demo_state': an absolute path"; return 1 ;; esac
	[ "$demo_state" != / ] || { echo "CNS_DEMO_STATE_DIR: not /"; return 1; }
}

# The preconditions of both scripts: Linux (network namespaces) and root (namespaces, BIRD's sockets).
demo_require_root_linux() { # PROGRAM
	if [ "$(uname -s)" != Linux ]; then
		echo "$1: the demo needs Linux (network namespaces for the BIRD lab); this is $(uname -s)" >&2
		exit 1
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "$1: the demo needs root (network namespaces, BIRD, /run): run it as root, e.g. sudo env PATH=\"\$PATH\" make $1" >&2
		exit 1
	fi
}

metrics_port() { echo $((demo_port_base + 2 * ($1 - 1))); } # node index -> port
health_port() { echo $((demo_port_base + 2 * ($1 - 1) + 1)); }
node_dir() { echo "$demo_state/node$1"; }

# demo_pid_matches PID PATTERN: the process exists and its command line contains PATTERN (so a pid file
# left behind never makes us signal an unrelated process that reused the number).
demo_pid_matches() {
	local pid=$1 pattern=$2 cmdline
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"$pattern"* ]]
}

# demo_stop_pidfile PIDFILE PATTERN: TERM the process if it is ours, KILL it after 10 s, remove the file.
demo_stop_pidfile() {
	local f=$1 pattern=$2 pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f" 2>/dev/null || true)
	if demo_pid_matches "$pid" "$pattern"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			demo_pid_matches "$pid" "$pattern" || break
			sleep 0.1
		done
		if demo_pid_matches "$pid" "$pattern"; then
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				demo_pid_matches "$pid" "$pattern" || break
				sleep 0.1
			done
		fi
	fi
	rm -f "$f"
}

demo_lab_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$demo_name-" || true; }
