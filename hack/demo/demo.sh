#!/usr/bin/env bash
# `make demo`: the whole feature on one machine, non-interactively, as root on Linux.
#
#   1 prerequisites (hack/prereqs.sh)            6 per-node agent identities (RBAC, Node-bound tokens,
#   2 control plane (kube-apiserver + etcd)        node isolation policy)
#   3 binaries (agent + CLI into bin/)           7 one agent per lab node
#   4 a 3-node BIRD lab (test/lab)               8 the contract's example object for node 1, wait for status
#   5 Node objects for the lab nodes             9 print it: kubectl -o wide, -o yaml, the CLI's view
#
# Everything stays running; hack/demo/demo-down.sh (`make demo-down`) removes it. Running it again reuses
# the control plane and a healthy lab, and restarts the agents with fresh tokens. Settings: see lib.sh.
# Each step logs to $CNS_DEMO_STATE_DIR/logs/<n>-<step>.log; a failing step says which and why.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source-path=SCRIPTDIR/../..
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

demo_require_root_linux demo
if ! why=$(demo_validate_settings); then
	echo "demo: $why" >&2
	exit 1
fi
if ! command -v go >/dev/null 2>&1; then
	echo "demo: go is not on PATH (as root, sudo may reset PATH: sudo env PATH=\"\$PATH\" make demo)" >&2
	exit 1
fi
if [ -d "$demo_state" ] && [ ! -e "$demo_state/$demo_marker" ] && [ -n "$(ls -A "$demo_state")" ]; then
	echo "demo: $demo_state exists and is not a demo state directory; set CNS_DEMO_STATE_DIR to another path" >&2
	exit 1
fi
mkdir -p "$demo_state/logs"
touch "$demo_state/$demo_marker"
# What demo-down needs to find everything again, even when run with other settings in its environment.
cat >"$demo_state/demo.env" <<EOF
CNS_DEMO_NAME=$demo_name
CNS_DEMO_BIRD=$demo_bird
CNS_DEMO_PORT_BASE=$demo_port_base
EOF

total=9
step_n=0 step_short="" step_log=""
# step N SHORT LINE: print the progress line; later output of the step goes to its log.
step() {
	step_n=$1 step_short=$2
	step_log=$demo_state/logs/$1-${2// /-}.log
	: >"$step_log"
	echo "[$1/$total] $3..."
}
# info LINE: a detail of the current step, indented under its progress line.
info() { echo "      $*"; }
# fail WHY: say which step failed and why, where its log is, and the end of that log.
fail() {
	{
		echo "demo: step $step_n ($step_short) failed: $*"
		echo "demo: log: $step_log"
		if [ -s "$step_log" ]; then
			echo "demo: last lines of the log:"
			tail -n 15 "$step_log" | sed 's/^/    /'
		fi
	} >&2
	exit 1
}
# logged CMD...: run CMD with stdin closed and its output appended to the step's log.
logged() { "$@" </dev/null >>"$step_log" 2>&1; }
# poll DEADLINE_SECONDS CMD...: run CMD every 0.5 s until it succeeds; 1 when the deadline passes.
poll() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.5
	done
}

# --- 1 ---------------------------------------------------------------------------------------------------
step 1 prerequisites "checking prerequisites (BIRD 1.6, BIRD 2, gobgpd, iproute2, curl, jq; installed with apt when missing)"
# hack/prereqs.sh runs only when something is missing (apt-get is slow even when it has nothing to do).
lab_binaries_present() (
	# shellcheck source=test/lab/paths.sh
	. "$demo_root/test/lab/paths.sh"
	for b in "$BIRD1_BIRD" "$BIRD1_BIRD6" "$BIRD1_BIRDC" "$BIRD1_BIRDC6" "$BIRD2_BIRD" "$BIRD2_BIRDC" "$GOBGPD" "$GOBGP"; do
		[ -x "$b" ] || { echo "missing $b" >>"$step_log"; return 1; }
	done
	command -v ip >/dev/null || { echo "missing ip (iproute2)" >>"$step_log"; return 1; }
)
if lab_binaries_present; then
	info "BIRD 1.6, BIRD 2, gobgpd, iproute2: present"
else
	info "installing the lab's packages with hack/prereqs.sh (apt-get)"
	logged "$demo_root/hack/prereqs.sh" || fail "hack/prereqs.sh exited with an error"
fi
tools=()
command -v curl >/dev/null || tools+=(curl)
command -v jq >/dev/null || tools+=(jq)
if [ "${#tools[@]}" -gt 0 ]; then
	info "installing ${tools[*]} (apt-get)"
	DEBIAN_FRONTEND=noninteractive logged apt-get update -qq || fail "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive logged apt-get install -y -qq --no-install-recommends "${tools[@]}" || fail "apt-get install ${tools[*]} failed"
fi

# --- 2 ---------------------------------------------------------------------------------------------------
step 2 "control plane" "starting the control plane (kube-apiserver + etcd, built once into the cache)"
# build.sh says on stderr when it builds (minutes, the first time only): show that as the step's details.
bindir=$("$demo_root/hack/controlplane/build.sh" 2> >(tee -a "$step_log" | sed 's/^/      /')) || fail "hack/controlplane/build.sh could not build kube-apiserver, etcd and kubectl"
kubectl_bin=$bindir/kubectl
[ -x "$kubectl_bin" ] || fail "no kubectl in $bindir"
kubeconfig=$(CNS_STATE_DIR=$demo_cp_state "$demo_root/hack/controlplane/up.sh" 2>>"$step_log") ||
	fail "hack/controlplane/up.sh could not start the control plane (its log: $demo_cp_state/controlplane.log)"
[ -f "$kubeconfig" ] || fail "hack/controlplane/up.sh printed '$kubeconfig', which is not a file"
k() { "$kubectl_bin" --kubeconfig "$kubeconfig" "$@"; }
server=$(k config view --minify -o jsonpath='{.clusters[0].cluster.server}' 2>>"$step_log") || fail "cannot read the API server address from $kubeconfig"
logged k get --raw /readyz || fail "the API server at $server is not ready"
info "API server $server: Kubernetes $(sed -n 's#.*/kube-\(v[^/]*\)-etcd-\(v[^/]*\)/bin$#\1, etcd \2#p' <<<"$bindir") (kubectl: $kubectl_bin)"

# --- 3 ---------------------------------------------------------------------------------------------------
step 3 build "building the agent and the CLI into bin/"
mkdir -p "$demo_root/bin"
(cd "$demo_root" && logged go build -o bin/ ./cmd/calico-node-status-agent ./cmd/calico-node-status) ||
	fail "go build ./cmd/calico-node-status-agent ./cmd/calico-node-status failed"
# A binary that cannot even parse its flags fails here, not as seven confusing agent logs later.
help=$("$agent_bin" --help 2>&1 </dev/null || true)
echo "$help" >>"$step_log"
grep -q -- '-node-name' <<<"$help" || fail "$agent_bin --help does not run: $(grep -m 1 -E 'panic|rror' <<<"$help" || head -n 1 <<<"$help")"
info "$agent_bin, $cli_bin"

# --- 4 ---------------------------------------------------------------------------------------------------
bird_label="BIRD 1.6"
[ "$demo_bird" = 1 ] || bird_label="BIRD 2"
step 4 "BIRD lab" "starting the BIRD lab $demo_name ($demo_nodes nodes, $bird_label)"
# A lab that is up with the same shape and every daemon alive is reused: its sessions keep their "since".
lab_healthy() {
	local f pid n=0
	[ -f "$demo_lab_run/lab.env" ] || return 1
	grep -qx "LAB_BIRD=$demo_bird" "$demo_lab_run/lab.env" && grep -qx "LAB_NODES=$demo_nodes" "$demo_lab_run/lab.env" || return 1
	for f in "$demo_lab_run"/*/*.pid; do
		[ -f "$f" ] || return 1
		pid=$(cat "$f" 2>/dev/null) && [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
		n=$((n + 1))
	done
	# ToR + gobgpd + one (BIRD 2) or two (BIRD 1.6) daemons per node
	[ "$n" -eq $((2 + demo_nodes * (3 - demo_bird))) ]
}
if lab_healthy; then
	info "reusing the running lab (every daemon alive; $demo_lab_run/lab.env)"
else
	if [ -d "$demo_lab_run" ]; then info "the lab $demo_name is not as wanted (a daemon is down, or another shape): restarting it"; fi
	logged "$demo_root/test/lab/lab.sh" up --name "$demo_name" --nodes "$demo_nodes" --bird "$demo_bird" ||
		fail "test/lab/lab.sh up did not bring every session up (lab logs: $demo_lab_run/*/*.log)"
fi
# shellcheck disable=SC1090,SC1091 # written by test/lab/lab.sh
. "$demo_lab_run/lab.env"
described=()
for ((i = 1; i <= demo_nodes; i++)); do
	v=NODE${i}_NAME w=NODE${i}_IP4 x=NODE${i}_IP6
	described+=("${!v} (${!w}, ${!x})")
done
info "BIRD $LAB_BIRD_VERSION; nodes: $(printf '%s, ' "${described[@]}" | sed 's/, $//')"
info "peers: node-to-node mesh, ToR $LAB_TOR_IP4/$LAB_TOR_IP6 (global peer, AS $LAB_TOR_AS, announces $LAB_ROUTES routes per family), gobgpd $LAB_PEER_IP4 port $LAB_PEER_PORT, $LAB_DEAD_IP4/$LAB_DEAD_IP6 never connects"
nodes=()
for ((i = 1; i <= demo_nodes; i++)); do
	v=NODE${i}_NAME
	nodes+=("${!v}")
done

# --- 5 ---------------------------------------------------------------------------------------------------
step 5 "Node objects" "creating Node objects for the lab nodes"
# No kubelet runs: the Nodes exist so tokens can be bound to them. Addresses as Calico annotates them.
for ((i = 1; i <= demo_nodes; i++)); do
	a=NODE${i}_IP4 b=NODE${i}_IP6
	cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: ${nodes[i - 1]}
  labels:
    kubernetes.io/hostname: ${nodes[i - 1]}
    kubernetes.io/os: linux
    calico-node-status.demo/lab: $demo_name
  annotations:
    projectcalico.org/IPv4Address: ${!a}/24
    projectcalico.org/IPv6Address: ${!b}/64
---
EOF
done >"$demo_state/nodes.yaml"
logged k apply -f "$demo_state/nodes.yaml" || fail "kubectl apply -f $demo_state/nodes.yaml failed"
info "$(k get nodes -l "calico-node-status.demo/lab=$demo_name" -o name 2>>"$step_log" | paste -sd ' ')"

# --- 6 ---------------------------------------------------------------------------------------------------
step 6 identities "giving each agent its node's identity (service account, RBAC, Node-bound token, node isolation)"
logged k apply -f "$demo_root/config/agent/namespace.yaml" || fail "kubectl apply -f config/agent/namespace.yaml failed"
logged k apply -k "$demo_root/config/rbac" || fail "kubectl apply -k config/rbac failed"
info "service account calico-node-status/calico-node-status-agent, ClusterRole calico-node-status-agent (config/rbac)"
ca_file=$demo_state/ca.crt
k config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' 2>>"$step_log" | base64 -d >"$ca_file" ||
	fail "cannot read the API server's CA from $kubeconfig"
sa_user=system:serviceaccount:calico-node-status:calico-node-status-agent
for ((i = 1; i <= demo_nodes; i++)); do
	n=${nodes[i - 1]} dir=$(node_dir "$i")
	mkdir -p "$dir"
	# TokenRequest bound to the Node object: the API server adds the node's name to the user's extra
	# (authentication.kubernetes.io/node-name), which the node isolation policy checks. 24 h: the demo
	# restarts the agents with fresh tokens on every run.
	token=$(k create token calico-node-status-agent -n calico-node-status --bound-object-kind Node \
		--bound-object-name "$n" --duration 24h 2>>"$step_log") || fail "kubectl create token bound to Node $n failed"
	kc=$dir/kubeconfig
	rm -f "$kc"
	(umask 077 && printf '%s' "$token" >"$dir/token")
	(
		umask 077
		logged "$kubectl_bin" --kubeconfig "$kc" config set-cluster demo --server "$server" --certificate-authority "$ca_file" --embed-certs &&
			logged "$kubectl_bin" --kubeconfig "$kc" config set-credentials "agent-$n" --token "$token" &&
			logged "$kubectl_bin" --kubeconfig "$kc" config set-context "agent-$n" --cluster demo --user "agent-$n" &&
			logged "$kubectl_bin" --kubeconfig "$kc" config use-context "agent-$n"
	) || fail "cannot write $kc"
	who=$("$kubectl_bin" --kubeconfig "$kc" auth whoami -o json 2>>"$step_log") || fail "kubectl auth whoami with $n's token failed"
	user=$(jq -r '.status.userInfo.username' <<<"$who")
	extra=$(jq -r '.status.userInfo.extra["authentication.kubernetes.io/node-name"] // [] | join(",")' <<<"$who")
	if [ "$user" != "$sa_user" ] || [ "$extra" != "$n" ]; then
		fail "$n's token authenticates as '$user' with node-name '$extra'; want $sa_user with $n"
	fi
	info "$n: kubectl auth whoami -> $user, extra authentication.kubernetes.io/node-name=[$extra] ($kc)"
done
logged k apply -k "$demo_root/config/admission" || fail "kubectl apply -k config/admission failed"
info "node isolation: ValidatingAdmissionPolicy calico-node-status-node-isolation (config/admission)"

# --- 7 ---------------------------------------------------------------------------------------------------
step 7 agents "starting one agent per node"
for ((i = 1; i <= demo_nodes; i++)); do
	dir=$(node_dir "$i")
	# Restart cleanly: the binary or the token may be new.
	demo_stop_pidfile "$dir/agent.pid" "$dir/kubeconfig"
done
for ((i = 1; i <= demo_nodes; i++)); do
	n=${nodes[i - 1]} dir=$(node_dir "$i") s4=NODE${i}_SOCKET4 s6=NODE${i}_SOCKET6
	for p in "$(metrics_port "$i")" "$(health_port "$i")"; do
		if (: <"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			fail "port 127.0.0.1:$p is taken by another process (set CNS_DEMO_PORT_BASE to free ports)"
		fi
	done
	# setsid: the agents outlive this script and the terminal; all their output goes to the log.
	setsid "$agent_bin" -v --node-name "$n" --kubeconfig "$dir/kubeconfig" \
		--bird-socket "${!s4}" --bird6-socket "${!s6}" \
		--metrics-bind-address "127.0.0.1:$(metrics_port "$i")" \
		--health-probe-bind-address "127.0.0.1:$(health_port "$i")" \
		</dev/null >"$dir/agent.log" 2>&1 &
	echo $! >"$dir/agent.pid"
	echo "started agent for $n: pid $!, log $dir/agent.log" >>"$step_log"
done
agent_ready() { # INDEX
	local dir
	dir=$(node_dir "$1")
	demo_pid_matches "$(cat "$dir/agent.pid")" "$dir/kubeconfig" || return 2
	curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$(health_port "$1")/readyz" 2>/dev/null
}
for ((i = 1; i <= demo_nodes; i++)); do
	n=${nodes[i - 1]} dir=$(node_dir "$i") s4=NODE${i}_SOCKET4 s6=NODE${i}_SOCKET6
	end=$((SECONDS + demo_timeout))
	while :; do
		rc=0
		agent_ready "$i" || rc=$?
		[ "$rc" -ne 0 ] || break
		if [ "$rc" -eq 2 ]; then
			step_log=$dir/agent.log
			fail "the agent for $n exited"
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			step_log=$dir/agent.log
			fail "the agent for $n is not ready (http://127.0.0.1:$(health_port "$i")/readyz) after ${demo_timeout}s"
		fi
		sleep 0.5
	done
	info "$n: pid $(cat "$dir/agent.pid"), sockets ${!s4} ${!s6}, metrics http://127.0.0.1:$(metrics_port "$i")/metrics, health :$(health_port "$i") ready"
done

# --- 8 ---------------------------------------------------------------------------------------------------
node1=${nodes[0]}
step 8 status "applying the contract's example for node $node1 and waiting for its status"
sed -e "s/^\([[:space:]]*node:[[:space:]]*\)my-kadm-node-0[[:space:]]*$/\1$node1/" \
	"$demo_root/config/samples/projectcalico_v3_caliconodestatus.yaml" >"$demo_state/caliconodestatus.yaml"
grep -q "node: $node1\$" "$demo_state/caliconodestatus.yaml" ||
	fail "config/samples/projectcalico_v3_caliconodestatus.yaml has no 'node: my-kadm-node-0' line to point at $node1"
# Server-side apply: no last-applied annotation, so the YAML below has the contract's shape.
logged k apply --server-side --field-manager=calico-node-status-demo -f "$demo_state/caliconodestatus.yaml" ||
	fail "kubectl apply -f $demo_state/caliconodestatus.yaml failed"
info "kubectl apply --server-side -f $demo_state/caliconodestatus.yaml (config/samples, node: $node1)"
# Filled: the agent collected for the current spec (observedGeneration), says whether it is Ready, and
# found the BGP peers.
filled() {
	local got
	got=$(k get caliconodestatus "$object" -o jsonpath='{.metadata.generation}/{.status.observedGeneration}/{.status.conditions[?(@.type=="Ready")].status}/{.status.bgp.peersV4[*].peerIP}' 2>>"$step_log") || return 1
	echo "$(date -u +%T) $got" >>"$step_log"
	IFS=/ read -r gen obs ready peers <<<"$got"
	[ -n "$gen" ] && [ "$gen" = "$obs" ] && [ -n "$ready" ] && [ -n "$peers" ]
}
poll "$demo_timeout" filled || fail "the status of $object was not filled within ${demo_timeout}s (agent log: $(node_dir 1)/agent.log)"
ready=$(k get caliconodestatus "$object" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}')
info "status filled: Ready=$ready"
# Node isolation, shown with the real identities and a server-side dry run (nothing is written): node 2's
# agent may not write node 1's status, node 1's may. A PUT of the status subresource, as the agent writes
# (its role has status update, no patch), of the object as it is now with another lastUpdated.
if [ "$demo_nodes" -ge 2 ]; then
	reply=$demo_state/logs/isolation-reply.json
	body=$demo_state/logs/isolation-body.json
	try_write() { # INDEX: prints the HTTP status code; the reply is in $reply
		k get caliconodestatus "$object" -o json 2>>"$step_log" | jq '.status.lastUpdated = "2000-01-01T00:00:00Z"' >"$body" || return 1
		curl -sS --max-time 10 --cacert "$ca_file" -H "Authorization: Bearer $(cat "$(node_dir "$1")/token")" \
			-X PUT -H 'Content-Type: application/json' --data-binary "@$body" \
			-o "$reply" -w '%{http_code}' "$server/apis/projectcalico.org/v3/caliconodestatuses/$object/status?dryRun=All" 2>>"$step_log"
	}
	# A new policy takes a moment to be enforced.
	refused() {
		code=$(try_write 2) || true
		echo "$code $(cat "$reply" 2>/dev/null)" >>"$step_log"
		[ "$code" = 403 ] && grep -q 'node isolation' "$reply"
	}
	poll "$demo_timeout" refused || fail "node isolation: ${nodes[1]}'s identity was not refused writing $node1's status: HTTP $code $(cat "$reply" 2>/dev/null)"
	info "node isolation: ${nodes[1]}'s identity writing $object's status (node $node1) -> 403: $(jq -r .message "$reply" | sed 's/.*denied request: //')"
	# The agent may write between the read and the PUT (409): read and try again.
	own_write() {
		code=$(try_write 1) || true
		echo "$code $(cat "$reply" 2>/dev/null)" >>"$step_log"
		[ "$code" = 200 ]
	}
	poll 30 own_write || fail "node isolation: $node1's own identity could not write its status: HTTP $code $(cat "$reply" 2>/dev/null)"
	info "node isolation: $node1's identity writing $object's status -> 200 OK (server-side dry run: nothing written)"
fi

# --- 9 ---------------------------------------------------------------------------------------------------
step 9 show "showing the status"
echo
echo "\$ kubectl get caliconodestatus -o wide"
k get caliconodestatus -o wide 2>>"$step_log" || fail "kubectl get caliconodestatus -o wide failed"
echo
echo "\$ kubectl get caliconodestatus $object -o yaml"
k get caliconodestatus "$object" -o yaml 2>>"$step_log" || fail "kubectl get caliconodestatus $object -o yaml failed"
if [ -x "$cli_bin" ]; then
	echo
	echo "\$ calico-node-status get $object"
	"$cli_bin" --kubeconfig "$kubeconfig" get "$object" 2>>"$step_log" || fail "calico-node-status get $object failed"
fi

# --- explore -----------------------------------------------------------------------------------------------
cat >"$demo_state/env" <<EOF
# source this file to use the demo's cluster: kubectl and the CLI on PATH, KUBECONFIG set
export KUBECONFIG=$kubeconfig
export PATH=$bindir:$demo_root/bin:\$PATH
EOF
down_env=""
[ -z "${CNS_DEMO_STATE_DIR:-}" ] || down_env="CNS_DEMO_STATE_DIR=$demo_state "
echo
echo "The demo is running (control plane, BIRD lab $demo_name, ${#nodes[@]} agents)."
echo "  kubeconfig (admin):  $kubeconfig"
echo "  shell setup:         source $demo_state/env     # KUBECONFIG, kubectl and calico-node-status on PATH"
echo "Explore:"
echo "  kubectl get caliconodestatus -o wide"
echo "  kubectl get caliconodestatus $object -o yaml"
echo "  calico-node-status get $object --watch"
echo "  calico-node-status create ${nodes[1]:-$node1}-status --node ${nodes[1]:-$node1} --period 5"
for ((i = 1; i <= demo_nodes; i++)); do
	echo "  curl -s http://127.0.0.1:$(metrics_port "$i")/metrics | grep ^calico_node_status    # ${nodes[i - 1]}'s agent"
done
echo "  $LAB_BIRDC -s $NODE1_SOCKET4 show protocols     # $node1's BIRD"
echo "  kill \$(cat $demo_lab_run/node2/*.pid)     # stop ${nodes[1]:-node2}'s BIRD: watch $node1's peers go down"
echo "  kubectl get events     # the agents' PeerDown/PeerUp events, one per peer state change"
echo "  agent logs: $demo_state/node<i>/agent.log; node identities: $demo_state/node<i>/kubeconfig (tokens valid 24 h: make demo again renews them)"
echo "Stop and remove everything:  ${down_env}make demo-down"
