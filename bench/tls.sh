#!/usr/bin/env bash
# bench/tls.sh — HTTPS side by side (issue 15): mthttpd, nginx, h2o and
# lighttpd with TLS, one worker each, the server pinned to SERVER_CPU and
# the client to CLIENT_CPU, as bench/run.sh does. Four workloads:
#   small      wrk, 64 keep-alive connections of GET /index.html
#   handshake  wrk, 16 connections, Connection: close: a new connection per
#              request. wrk offers the ticket of its last connection, so
#              with a server that renews TLS 1.3 tickets (all four do) this
#              is a resumption with a fresh X25519 exchange (psk_dhe_ke)
#   full       2 x openssl s_time -new: a full handshake per connection
#              (TLS 1.3, X25519, ECDSA P-256 certificate, no resumption)
#              and one HTTP/1.0 GET /index.html
#   1m         wrk, 16 keep-alive connections of GET /file_1m.txt
# For each: server CPU per request (per connection for full, per whole
# file for 1m), the figure the issue compares. The servers run in turn,
# ROUNDS times; the median is printed, then the median of the per-round
# ratios.
#
# Environment: ROUNDS=3 DURATION=3 SERVERS="mthttpd nginx h2o lighttpd"
#   WORKLOADS="small handshake full 1m" SERVER_CPU=1 CLIENT_CPU=0
#   MTHTTPD_BIN=./mthttpd
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
SERVERS=${SERVERS:-"mthttpd nginx h2o lighttpd"}
WORKLOADS=${WORKLOADS:-"small handshake full 1m"}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
MTHTTPD_BIN=${MTHTTPD_BIN:-$SCRIPT_DIR/../mthttpd}
MTHTTPD_BIN=$(cd "$(dirname "$MTHTTPD_BIN")" && pwd)/$(basename "$MTHTTPD_BIN")
export PATH=$PATH:/usr/sbin:/sbin

log() { printf '[tls-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=lib/proc.sh
. "$SCRIPT_DIR/lib/proc.sh"
# shellcheck source=lib/cpu.sh
. "$SCRIPT_DIR/lib/cpu.sh"
# shellcheck source=lib/servers.sh
. "$SCRIPT_DIR/lib/servers.sh" # render, free_port's neighbours

for c in wrk curl taskset openssl python3; do
	command -v "$c" >/dev/null || die "missing $c"
done
if ! declare -F free_port >/dev/null; then
	free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mthttpd-tlsbench.XXXXXX")
chmod 755 "$WORK"
declare -A PID=() PORT=()
cleanup() {
	local s
	for s in "${!PID[@]}"; do stop_server "$s"; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/logs"
python3 "$SCRIPT_DIR/gen.py" page "$ROOT/index.html"
head -c $((1024 * 1024)) /dev/urandom >"$ROOT/file_1m.txt"
chmod 644 "$ROOT"/*
SIZE_1M=$(stat -c %s "$ROOT/file_1m.txt")
CERT=$WORK/cert.pem
KEY=$WORK/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$KEY" -out "$CERT" \
	-days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
chmod 644 "$KEY" "$CERT" # h2o/nginx workers may drop to nobody
NOFILE=$(ulimit -n)
MAXCONN=4096

start_tls() { # name
	local s=$1 d=$WORK/$1 p
	mkdir -p "$d/tmp"
	chmod 777 "$d"
	p=$(free_port)
	local -a vars=("DIR=$d" "PORT=$p" "ROOT=$ROOT" "NOFILE=$NOFILE" "MAXCONN=$MAXCONN" "CERT=$CERT" "KEY=$KEY")
	case $s in
	nginx) render "$SCRIPT_DIR/conf/nginx-tls.conf.in" "$d/nginx.conf" "${vars[@]}"
		CMD=(nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf") ;;
	h2o) render "$SCRIPT_DIR/conf/h2o-tls.conf.in" "$d/h2o.conf" "${vars[@]}"
		CMD=(h2o -m worker -c "$d/h2o.conf") ;;
	lighttpd) render "$SCRIPT_DIR/conf/lighttpd-tls.conf.in" "$d/lighttpd.conf" "${vars[@]}"
		CMD=(lighttpd -D -f "$d/lighttpd.conf") ;;
	mthttpd) CMD=("$MTHTTPD_BIN" --port 0 --tls-port "$p" --tls-cert "$CERT" --tls-key "$KEY"
		--root "$ROOT" --threads 1 --access-log off --keepalive-max 1000000
		--keepalive-timeout 300 --uploads "$d/uploads" -q) ;;
	esac
	(exec taskset -c "$SERVER_CPU" "${CMD[@]}") >"$d/stdout.log" 2>"$d/stderr.log" </dev/null &
	PID[$s]=$!
	PORT[$s]=$p
	local code=
	for _ in $(seq 1 100); do
		kill -0 "${PID[$s]}" 2>/dev/null || break
		code=$(curl -sk -o /dev/null -m 5 -w '%{http_code}' "https://127.0.0.1:$p/index.html" || true)
		[[ $code == 200 ]] && break
		sleep 0.1
	done
	[[ $code == 200 ]] || { tail -5 "$d"/*.log >&2; die "$s did not serve HTTPS"; }
	log "$s: pid ${PID[$s]}, https port $p"
}

# one_full SERVER: prints the server CPU in microseconds per connection of
# two s_time -new clients running side by side for DURATION seconds.
one_full() {
	local s=$1 j conns cpu _t _w
	local -a pids=()
	cpu_snapshot "${PID[$s]}" "$WORK/cpu0"
	for j in 1 2; do
		taskset -c "$CLIENT_CPU" timeout -k 5 $((DURATION + 60)) openssl s_time \
			-connect "127.0.0.1:${PORT[$s]}" -new -time "$DURATION" -www /index.html \
			>"$WORK/logs/full_${s}_$j.txt" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}" 2>/dev/null || true
	cpu_snapshot "${PID[$s]}" "$WORK/cpu1"
	read -r cpu _t _w < <(cpu_delta "$WORK/cpu0" "$WORK/cpu1" worker-)
	conns=$(sed -n 's/^\([0-9]*\) connections in [0-9.]* real.*/\1/p' "$WORK"/logs/full_"$s"_[12].txt |
		awk '{ n += $1 } END { print n + 0 }')
	[[ $conns -gt 0 ]] || { log "full $s: s_time failed: $(tail -2 "$WORK/logs/full_${s}_1.txt")"; echo 0; return; }
	awk -v c="$cpu" -v n="$conns" 'BEGIN { printf "%.1f\n", c / 1000 / n }'
}

# one_run W SERVER: prints the server CPU in microseconds per unit.
one_run() {
	local w=$1 s=$2 out=$WORK/logs/$1_$2.txt c=64 path=/index.html
	local -a env=()
	case $w in
	handshake) c=16 env=(WRK_CLOSE=1) ;;
	1m) c=16 path=/file_1m.txt ;;
	esac
	if [[ $w == full ]]; then
		one_full "$s"
		return
	fi
	cpu_snapshot "${PID[$s]}" "$WORK/cpu0"
	env "${env[@]}" taskset -c "$CLIENT_CPU" timeout -k 5 $((DURATION + 60)) \
		wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s -s "$SCRIPT_DIR/lua/bench.lua" \
		"https://127.0.0.1:${PORT[$s]}$path" >"$out" 2>&1 || true
	cpu_snapshot "${PID[$s]}" "$WORK/cpu1"
	local cpu _t _w req bytes units
	read -r cpu _t _w < <(cpu_delta "$WORK/cpu0" "$WORK/cpu1" worker-)
	req=$(sed -n 's/^BENCH .*requests=\([0-9]*\).*/\1/p' "$out")
	bytes=$(sed -n 's/^BENCH .*bytes=\([0-9]*\).*/\1/p' "$out")
	[[ -n $req && $req -gt 0 ]] || { log "$w $s: wrk failed: $(tail -2 "$out")"; echo 0; return; }
	units=$req
	[[ $w != 1m ]] || units=$(awk -v b="$bytes" -v z="$SIZE_1M" 'BEGIN { printf "%.3f", b / z }')
	awk -v c="$cpu" -v n="$units" 'BEGIN { printf "%.1f\n", c / 1000 / n }'
}

read -r -a LIST <<<"$SERVERS"
for s in "${LIST[@]}"; do start_tls "$s"; done
for s in "${LIST[@]}"; do # warm-up, not counted
	taskset -c "$CLIENT_CPU" wrk -t1 -c16 -d1s "https://127.0.0.1:${PORT[$s]}/index.html" >/dev/null 2>&1 || true
done
declare -A RES=()
for ((r = 1; r <= ROUNDS; r++)); do
	for w in $WORKLOADS; do
		for ((i = 0; i < ${#LIST[@]}; i++)); do
			s=${LIST[$(((i + r - 1) % ${#LIST[@]}))]}
			v=$(one_run "$w" "$s")
			RES[$w.$s]+="$v "
			log "round $r $w $s: $v us CPU/request"
		done
	done
done
printf '\n| workload | %s |\n|---|%s\n' "$(sed 's/ / | /g' <<<"${LIST[*]}")" "$(printf -- '---|%.0s' "${LIST[@]}")"
for w in $WORKLOADS; do
	row="| $w (server CPU us/request, median of $ROUNDS) |"
	for s in "${LIST[@]}"; do
		row+=" $(tr ' ' '\n' <<<"${RES[$w.$s]}" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }') |"
	done
	echo "$row"
done

# Paired ratios: within a round the servers run back to back, so a pair
# sees nearly the same machine; the median over the rounds of mthttpd ÷ x
# is steadier than the ratio of the medians above (the VM's slow swings
# move both runs of a pair alike). The target is judged on these.
if [[ " ${LIST[*]} " == *" mthttpd "* && ${#LIST[@]} -gt 1 ]]; then
	printf '\n| workload | %s |\n|---|%s\n' "$(for s in "${LIST[@]}"; do [[ $s == mthttpd ]] || printf 'mthttpd ÷ %s | ' "$s"; done | sed 's/ | $//')" \
		"$(for s in "${LIST[@]}"; do [[ $s == mthttpd ]] || printf -- '---|'; done)"
	for w in $WORKLOADS; do
		row="| $w (median of per-round ratios) |"
		read -r -a mv <<<"${RES[$w.mthttpd]}"
		for s in "${LIST[@]}"; do
			[[ $s != mthttpd ]] || continue
			read -r -a xv <<<"${RES[$w.$s]}"
			row+=" $(for ((i = 0; i < ${#mv[@]} && i < ${#xv[@]}; i++)); do
				awk -v a="${mv[$i]}" -v b="${xv[$i]}" 'BEGIN { if (a > 0 && b > 0) printf "%.3f\n", a / b }'
			done | sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%.2f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }') |"
		done
		echo "$row"
	done
fi
