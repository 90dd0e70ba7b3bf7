#!/usr/bin/env bash
# bench/ab.sh OLD_BIN NEW_BIN [PAIRS] [SECONDS]: is a change to mthttpd worth
# it? Runs workload 1 (1 KiB file, keep-alive, 64 connections, wrk) against
# two mthttpd binaries in alternation (A B, B A, A B, ...) and prints each
# run's server CPU time per request, then the medians and the median of the
# per-pair ratios NEW ÷ OLD.
#
# Single runs on this shared machine move by 10-20 %, mostly in slow swings
# that last longer than a run; a pair of back-to-back runs sees nearly the
# same machine, so the ratio within a pair is far steadier than either run.
# CPU time is counted as bench/run.sh counts it (bench/lib/cpu.sh): the
# scheduler's run time of every thread of the server, from
# /proc/PID/task/*/schedstat (nanoseconds, steal time excluded), snapshot
# before and after each run.
#
# Environment: SERVER_CPU / CLIENT_CPU (1 / 0), CONNS (64), PATH_ (the URL
# path, default /index.html), FILE_SIZE (1024), HEADER (one more request
# header, e.g. "Connection: close" for workload 2).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/proc.sh
. "$SCRIPT_DIR/lib/proc.sh"
# shellcheck source=lib/cpu.sh
. "$SCRIPT_DIR/lib/cpu.sh"

if (($# < 2)); then
	echo "usage: bench/ab.sh OLD_BIN NEW_BIN [PAIRS=10] [SECONDS=3]" >&2
	exit 2
fi
A=$(realpath "$1")
B=$(realpath "$2")
PAIRS=${3:-10}
SECS=${4:-3}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
CONNS=${CONNS:-64}
URL_PATH=${PATH_:-/index.html}
FILE_SIZE=${FILE_SIZE:-1024}
WRK_HDR=()
[[ -n ${HEADER:-} ]] && WRK_HDR=(-H "$HEADER")

for t in wrk taskset python3 ps; do
	command -v "$t" >/dev/null || { echo "ab.sh: needs $t (apt-get install -y wrk util-linux python3 procps)" >&2; exit 1; }
done
[[ -x $A && -x $B ]] || { echo "ab.sh: $1 and $2 must be executables" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mthttpd-ab.XXXXXX")
declare -a PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$TMP/root"
head -c "$FILE_SIZE" /dev/zero | tr '\0' 'x' >"$TMP/root/index.html"

# start NAME BIN: starts BIN pinned to SERVER_CPU; sets PORT_<NAME>, PID_<NAME>.
start() {
	local name=$1 bin=$2 port pid i
	port=$(free_port)
	mkdir -p "$TMP/up-$name"
	taskset -c "$SERVER_CPU" "$bin" --port "$port" --host 127.0.0.1 --threads 1 \
		--root "$TMP/root" --uploads "$TMP/up-$name" --access-log off \
		--keepalive-max 1000000 -q >"$TMP/$name.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for i in $(seq 1 100); do
		if curl -s --noproxy '*' -o /dev/null -m 2 "http://127.0.0.1:$port$URL_PATH"; then break; fi
		kill -0 "$pid" 2>/dev/null || { echo "ab.sh: $bin did not start:" >&2; cat "$TMP/$name.log" >&2; exit 1; }
		sleep 0.1
	done
	printf -v "PORT_$name" %s "$port"
	printf -v "PID_$name" %s "$pid"
}

# run NAME: one measured run; prints "cpu_us_per_req req_per_s".
run() {
	local name=$1 port pid out n d ticked
	port=PORT_$name
	pid=PID_$name
	cpu_snapshot "${!pid}" "$TMP/cpu0"
	out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${SECS}s" "${WRK_HDR[@]}" "http://127.0.0.1:${!port}$URL_PATH")
	cpu_snapshot "${!pid}" "$TMP/cpu1"
	read -r d ticked _ < <(cpu_delta "$TMP/cpu0" "$TMP/cpu1")
	((ticked == 0)) || echo "ab.sh: a thread of $name exited during a run; its CPU was counted in ticks" >&2
	n=$(awk '/requests in/ { print $1 }' <<<"$out")
	if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
		echo "ab.sh: errors in a run of $name:" >&2
		echo "$out" >&2
		exit 1
	fi
	awk -v d="$d" -v n="$n" -v s="$SECS" 'BEGIN { printf "%.3f %.0f\n", d / 1000 / n, n / s }'
}

start A "$A"
start B "$B"
# Warm both (page cache, file cache, TCP memory) before measuring.
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d1s "${WRK_HDR[@]}" "http://127.0.0.1:$PORT_A$URL_PATH" >/dev/null
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d1s "${WRK_HDR[@]}" "http://127.0.0.1:$PORT_B$URL_PATH" >/dev/null

printf "%-5s %12s %12s %12s %12s %8s\n" pair "A µs/req" "B µs/req" "A req/s" "B req/s" "B÷A"
: >"$TMP/rows"
for ((i = 1; i <= PAIRS; i++)); do
	if ((i % 2)); then
		ra=$(run A)
		rb=$(run B)
	else
		rb=$(run B)
		ra=$(run A)
	fi
	read -r ca qa <<<"$ra"
	read -r cb qb <<<"$rb"
	ratio=$(awk -v a="$ca" -v b="$cb" 'BEGIN { printf "%.3f", b / a }')
	printf "%-5s %12s %12s %12s %12s %8s\n" "$i" "$ca" "$cb" "$qa" "$qb" "$ratio"
	echo "$ca $cb $qa $qb $ratio" >>"$TMP/rows"
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "medians: A $(cut -d' ' -f1 "$TMP/rows" | median) µs/req, B $(cut -d' ' -f2 "$TMP/rows" | median) µs/req;" \
	"A $(cut -d' ' -f3 "$TMP/rows" | median) req/s, B $(cut -d' ' -f4 "$TMP/rows" | median) req/s"
echo "median of per-pair CPU/req ratios B÷A: $(cut -d' ' -f5 "$TMP/rows" | median)" \
	"(range $(cut -d' ' -f5 "$TMP/rows" | sort -g | head -1)–$(cut -d' ' -f5 "$TMP/rows" | sort -g | tail -1))"
