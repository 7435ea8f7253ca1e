#!/usr/bin/env bash
# Installs what the lab, runtime and node tiers need, idempotently:
#   - Debian `bird` (BIRD 1.6.8: bird, bird6, birdc, birdc6) installed normally, services not left running;
#   - `gobgpd` (gobgpd + gobgp) and iproute2;
#   - `runc` (the OCI runtime test/image runs the agent's image with) and `containerd` (the node test's
#     container runtime; its own instance with its own socket and state, the Debian service not enabled);
#   - Debian `bird2` (BIRD 2.0.x) unpacked, NOT installed (it conflicts with `bird`), into
#     $CNS_CACHE_DIR/bird2-<debian version>/ (usr/sbin/bird, usr/sbin/birdc), plus the libraries it needs
#     that bird 1.6 does not (libssh-gcrypt-4) installed through apt.
# As root it uses apt-get (apt-get update only when something is missing). As another user it prints what
# is missing and the command that installs it, and exits 1.
# At the end it prints where each binary is; test/lab/paths.sh finds the same paths for other scripts.
#
#   CNS_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status)
#   CNS_CALICO_BIRD a build of Calico's BIRD fork for the lab's calico flavour (test/lab/README.md; default:
#                   $CNS_CACHE_DIR/calico-bird when it exists). Nothing installs it; a build given here
#                   that is not usable fails, one merely found in the cache is reported and left out.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export CNS_CACHE_DIR=${CNS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status}

# Debian packages that must be installed, and a file each one provides (checked instead of dpkg state so a
# half-removed package is noticed).
declare -A want=(
	[bird]=/usr/sbin/bird6
	[gobgpd]=/usr/bin/gobgpd
	[iproute2]=/usr/sbin/ip
	[libssh-gcrypt-4]="" # a library: its path depends on the architecture, dpkg's state is enough
	[runc]=/usr/sbin/runc
	[containerd]=/usr/bin/containerd
)

missing=()
for pkg in "${!want[@]}"; do
	if { [ -n "${want[$pkg]}" ] && [ ! -e "${want[$pkg]}" ]; } || ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$pkg")
	fi
done

bird2_dir() { # the newest unpacked bird2 tree in the cache, or nothing
	local d
	for d in $(ls -d "$CNS_CACHE_DIR"/bird2-*/ 2>/dev/null | sort -rV); do
		if [ -x "$d/usr/sbin/bird" ] && [ -x "$d/usr/sbin/birdc" ]; then
			echo "${d%/}"
			return 0
		fi
	done
}
need_bird2=false
[ -n "$(bird2_dir)" ] || need_bird2=true

stop_services() {
	# Whatever the policy, make sure no Debian bird/gobgpd service stays enabled or running: the lab starts
	# its own daemons with their own sockets. systemctl can disable units even when systemd is not running.
	if command -v systemctl >/dev/null 2>&1; then
		if [ -d /run/systemd/system ]; then
			systemctl disable --now bird.service bird6.service gobgpd.service containerd.service >/dev/null 2>&1 || true
		else
			systemctl disable bird.service bird6.service gobgpd.service containerd.service >/dev/null 2>&1 || true
		fi
	fi
	# Never "/etc/init.d/bird stop": it stops by process name and binary without a pid file, which kills
	# every /usr/sbin/bird on the machine, the labs' node daemons included.
	for svc in bird bird6 gobgpd containerd; do
		if [ -x "/etc/init.d/$svc" ] && command -v update-rc.d >/dev/null 2>&1; then
			update-rc.d "$svc" disable >/dev/null 2>&1 || true
		fi
	done
	# The Debian units' daemons, if something started them anyway (only those: their pid file and binary).
	local pidfile pid
	for pidfile in /run/bird/bird.pid /run/bird/bird6.pid; do
		pid=$(cat "$pidfile" 2>/dev/null || true)
		case $(readlink "/proc/$pid/exe" 2>/dev/null) in
		/usr/sbin/bird | /usr/sbin/bird6) kill "$pid" 2>/dev/null || true ;;
		esac
	done
}

if [ "${#missing[@]}" -eq 0 ] && ! $need_bird2; then
	:
elif [ "$(id -u)" -ne 0 ]; then
	{
		echo "prereqs: missing for the lab tier:"
		[ "${#missing[@]}" -eq 0 ] || echo "  Debian packages: ${missing[*]}"
		$need_bird2 && echo "  BIRD 2 unpacked under $CNS_CACHE_DIR/bird2-<version>/"
		echo "prereqs: install them with:  sudo env CNS_CACHE_DIR=$CNS_CACHE_DIR $here/prereqs.sh"
	} >&2
	exit 1
else
	export DEBIAN_FRONTEND=noninteractive
	if [ "${#missing[@]}" -gt 0 ]; then
		# The bird package's postinst starts bird/bird6 through invoke-rc.d; a policy-rc.d that answers
		# 101 forbids that. Only install our own when none exists, and remove only ours.
		ours_policy=false
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\n# calico-node-status prereqs.sh: no service starts during install\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod 755 /usr/sbin/policy-rc.d
			ours_policy=true
		fi
		cleanup_policy() { if $ours_policy; then rm -f /usr/sbin/policy-rc.d; fi; }
		trap cleanup_policy EXIT
		echo "prereqs: installing ${missing[*]}" >&2
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
		cleanup_policy
		trap - EXIT
	fi
	if $need_bird2; then
		version=$(apt-cache show bird2 2>/dev/null | sed -n 's/^Version: //p' | sort -rV | head -n 1)
		if [ -z "$version" ]; then
			apt-get update -qq
			version=$(apt-cache show bird2 | sed -n 's/^Version: //p' | sort -rV | head -n 1)
		fi
		dest="$CNS_CACHE_DIR/bird2-$version"
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
		echo "prereqs: unpacking bird2 $version into $dest" >&2
		(cd "$tmp" && apt-get download -qq "bird2=$version" >&2 2>/dev/null) || {
			apt-get update -qq
			(cd "$tmp" && apt-get download -qq "bird2=$version" >&2)
		}
		rm -rf "$dest.tmp"
		mkdir -p "$dest.tmp"
		dpkg -x "$tmp"/bird2_*.deb "$dest.tmp"
		rm -rf "$dest"
		mv "$dest.tmp" "$dest"
		rm -rf "$tmp"
		trap - EXIT
	fi
fi

if [ "$(id -u)" -eq 0 ]; then stop_services; fi

# Check the binaries actually run (a missing shared library shows up here, not in the lab).
# shellcheck source=../test/lab/paths.sh
. "$here/../test/lab/paths.sh"
for b in "$BIRD1_BIRD" "$BIRD1_BIRD6" "$BIRD2_BIRD"; do
	if ! "$b" --version >/dev/null 2>&1 && ! "$b" -v 2>&1 | grep -qi 'bird'; then
		echo "prereqs: $b does not run: $("$b" --version 2>&1 | head -n 1)" >&2
		exit 1
	fi
done
if [ -n "$CALICO_BIRD_DIR" ]; then
	if problem=$(cns_calico_bird_check); then
		echo "prereqs: Calico BIRD build $CALICO_BIRD_DIR: $("$CALICO_BIRD_BIRD" --version 2>&1 | awk '{print $NF}') (the lab's calico flavour runs on it)" >&2
	elif [ -n "${CNS_CALICO_BIRD:-}" ]; then
		echo "prereqs: CNS_CALICO_BIRD: $problem" >&2
		exit 1
	else
		echo "prereqs: not using $CALICO_BIRD_DIR: $problem" >&2
	fi
fi
cns_lab_paths
