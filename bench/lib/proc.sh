# bench/lib/proc.sh — process trees and memory, for run.sh and ab.sh.
# shellcheck shell=bash

# tree_pids PID: PID and all its descendants, space-separated.
tree_pids() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			n = 1; q[1] = root; out = root
			for (i = 1; i <= n; i++) {
				m = split(kids[q[i]], k, " ")
				for (j = 1; j <= m; j++) { q[++n] = k[j]; out = out " " k[j] }
			}
			print out
		}'
}

# rss_kib PID: VmRSS summed over the process tree, in KiB.
rss_kib() {
	local p total=0 v
	for p in $(tree_pids "$1"); do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# free_port: a TCP port free on 127.0.0.1 right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
