#!/usr/bin/env bash
# bench/run.sh — mthttpd side by side with nginx, h2o and lighttpd.
#
# Every server gets the same generated document root, one worker, tuned
# settings, and is pinned to one CPU while the client (wrk) is pinned to the
# other. Each workload is run against the servers alternately over ROUNDS
# rounds; the report gives medians and ratios. See bench/README.md.
#
# Environment (all optional):
#   ROUNDS=3  DURATION=5 (seconds per run)  WORKLOADS="1 2 3 4 5 6 7"
#   SLICE=1 (workloads 1-2: each server's DURATION per round is run as
#   slices of SLICE seconds, interleaved across the servers)
#   SERVERS="mthttpd nginx h2o lighttpd"  SKIP_MTHTTPD=1 (drop mthttpd)
#   MTHTTPD_BIN=./mthttpd  IDLE_CONNS=10000  W4_DURATION=$DURATION
#   SERVER_CPU=1  CLIENT_CPU=0  WRK_THREADS=1
#   BENCH_TMPDIR=${TMPDIR:-/tmp} (must be a real disk for workload 6)
#   OUT_DIR=bench/out  KEEP_TMP=1 (keep the temp dir for inspection)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
W4_DURATION=${W4_DURATION:-$DURATION}
SLICE=${SLICE:-1}
WORKLOADS=${WORKLOADS:-"1 2 3 4 5 6 7"}
SERVERS=${SERVERS:-"mthttpd nginx h2o lighttpd"}
SKIP_MTHTTPD=${SKIP_MTHTTPD:-0}
IDLE_CONNS=${IDLE_CONNS:-10000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
WRK_THREADS=${WRK_THREADS:-1}
BENCH_TMPDIR=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
OUT_DIR=${OUT_DIR:-$SCRIPT_DIR/out}
KEEP_TMP=${KEEP_TMP:-0}
if [[ -z ${MTHTTPD_BIN:-} ]]; then
	if [[ -x ./mthttpd ]]; then MTHTTPD_BIN=./mthttpd; else MTHTTPD_BIN=$REPO_ROOT/mthttpd; fi
fi

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

for v in ROUNDS DURATION W4_DURATION SLICE IDLE_CONNS SERVER_CPU CLIENT_CPU WRK_THREADS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
((ROUNDS >= 1 && ROUNDS <= 50)) || die "ROUNDS must be 1..50"
((DURATION >= 1 && DURATION <= 600)) || die "DURATION must be 1..600 seconds"
((W4_DURATION >= 1 && W4_DURATION <= 600)) || die "W4_DURATION must be 1..600 seconds"
((SLICE >= 1 && SLICE <= DURATION)) || die "SLICE must be 1..DURATION seconds"
for w in $WORKLOADS; do
	[[ $w =~ ^[1-7]$ ]] || die "WORKLOADS: unknown workload '$w' (1..7)"
done

# ---------------------------------------------------------------- servers --
declare -a SERVER_LIST=()
for s in $SERVERS; do
	case $s in
	mthttpd) [[ $SKIP_MTHTTPD == 1 ]] || SERVER_LIST+=(mthttpd) ;;
	nginx | h2o | lighttpd) SERVER_LIST+=("$s") ;;
	*) die "SERVERS: unknown server '$s' (mthttpd nginx h2o lighttpd)" ;;
	esac
done
((${#SERVER_LIST[@]} > 0)) || die "no server selected"
has_server() { local x; for x in "${SERVER_LIST[@]}"; do [[ $x == "$1" ]] && return 0; done; return 1; }

# ------------------------------------------------------------ dependencies --
# command -> Debian package
declare -A PKG_OF=([wrk]=wrk [curl]=curl [taskset]=util-linux [python3]=python3
	[cc]=gcc [ps]=procps [nginx]=nginx [h2o]=h2o [lighttpd]=lighttpd)
need=(wrk curl taskset python3 ps)
for w in $WORKLOADS; do [[ $w == 6 || $w == 7 ]] && need+=(cc); done
for s in "${SERVER_LIST[@]}"; do [[ $s == mthttpd ]] || need+=("$s"); done
have_cmd() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]; }
missing_pkgs=()
for c in "${need[@]}"; do
	have_cmd "$c" || missing_pkgs+=("${PKG_OF[$c]}")
done
if ((${#missing_pkgs[@]} > 0)); then
	mapfile -t missing_pkgs < <(printf '%s\n' "${missing_pkgs[@]}" | sort -u)
	line="apt-get install -y ${missing_pkgs[*]}"
	if [[ $(id -u) != 0 ]]; then
		echo "bench/run.sh: missing tools. Install them as root with:" >&2
		echo "  $line" >&2
		exit 1
	fi
	log "installing: ${missing_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "${missing_pkgs[@]}" >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q "${missing_pkgs[@]}" >/dev/null; } ||
		die "'$line' failed"
fi
export PATH=$PATH:/usr/sbin:/sbin

if has_server mthttpd; then
	if [[ ! -x $MTHTTPD_BIN ]]; then
		die "mthttpd binary '$MTHTTPD_BIN' not found: run 'make' first, set MTHTTPD_BIN, or SKIP_MTHTTPD=1"
	fi
	MTHTTPD_BIN=$(cd "$(dirname "$MTHTTPD_BIN")" && pwd)/$(basename "$MTHTTPD_BIN")
fi

# ------------------------------------------------------------- CPU pinning --
NCPU=$(nproc)
if ((NCPU < 2)); then
	log "warning: only $NCPU CPU: client and server share it (no pinning)"
	SERVER_CPU=0 CLIENT_CPU=0
elif ((SERVER_CPU >= NCPU || CLIENT_CPU >= NCPU)); then
	die "SERVER_CPU/CLIENT_CPU must be < $NCPU"
fi

# ------------------------------------------------------- file descriptors --
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
want=$((IDLE_CONNS + 4096))
if ((hard < want)) && ulimit -Hn "$want" 2>/dev/null; then hard=$want; fi
ulimit -n "$hard" 2>/dev/null || true
NOFILE=$(ulimit -n)
if ((NOFILE < IDLE_CONNS + 1024)); then
	new=$((NOFILE - 1024))
	((new > 0)) || new=0
	log "warning: ulimit -n is $NOFILE (hard limit); IDLE_CONNS lowered from $IDLE_CONNS to $new"
	IDLE_CONNS=$new
fi
# The per-server connection limits: the idle set plus the load plus slack.
MAXCONN=$((IDLE_CONNS + 1024))
((MAXCONN < NOFILE - 64)) || MAXCONN=$((NOFILE - 64))

# --------------------------------------------------------------- temp dir --
mkdir -p "$BENCH_TMPDIR"
WORK=$(mktemp -d "$BENCH_TMPDIR/mthttpd-bench.XXXXXX")
chmod 755 "$WORK" # nginx/h2o workers drop to nobody when started as root
ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/logs" "$OUT_DIR"
RAW=$WORK/raw.tsv
: >"$RAW"

declare -A PID=() PORT=() DEAD=()
declare -a CMD=()
IDLE_PID=
BG_PIDS=()

cleanup() {
	local rc=$? p s
	trap - EXIT INT TERM
	if [[ -n $IDLE_PID ]]; then kill "$IDLE_PID" 2>/dev/null || true; fi
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for s in "${!PID[@]}"; do
		p=${PID[$s]}
		local tree
		tree=$(tree_pids "$p" 2>/dev/null || true)
		kill -TERM "$p" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		for p in $tree; do kill -KILL "$p" 2>/dev/null || true; done
	done
	wait 2>/dev/null || true
	if [[ $KEEP_TMP == 1 ]]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
		# Written back now, the freed inodes stop slowing the next run's
		# creations after 5 s instead of 300 (see run_probe).
		sync -f "$BENCH_TMPDIR" 2>/dev/null || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------- process stats --
# tree_pids PID: PID and all its descendants.
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
CLK_TCK=$(getconf CLK_TCK)
# cpu_ticks PID: utime+stime (fields 14+15 of /proc/PID/stat, all threads)
# summed over the process tree.
cpu_ticks() {
	local p total=0 line rest
	for p in $(tree_pids "$1"); do
		line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		rest=${line##*) } # fields from 3 (state) on; comm may contain spaces
		read -r -a f <<<"$rest"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
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

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------ document root --
log "document root in $ROOT"
python3 - "$ROOT" <<'EOF'
import os, sys
root = sys.argv[1]
head = ('<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        '<title>bench</title></head>\n<body>\n<h1>Benchmark page</h1>\n')
tail = '</body>\n</html>\n'
para = '<p>The quick brown fox jumps over the lazy dog.</p>\n'
body = ''
while len(head) + len(body) + len(para) + len(tail) <= 1024 - 16:
    body += para
page = head + body + tail
page = page.replace('</body>', '<!--' + 'x' * (1024 - len(page) - 7) + '--></body>', 1)
assert len(page) == 1024, len(page)
open(os.path.join(root, 'index.html'), 'w').write(page)
EOF
head -c $((1024 * 1024)) /dev/urandom >"$ROOT/file_1m.txt"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$ROOT/file_100m.txt"
chmod 644 "$ROOT"/*
cat "$ROOT"/* >/dev/null # into the page cache
SIZE_SMALL=$(stat -c %s "$ROOT/index.html")
SIZE_1M=$(stat -c %s "$ROOT/file_1m.txt")
SIZE_100M=$(stat -c %s "$ROOT/file_100m.txt")

# The ~200-byte JSON body of workloads 6 and 7.
UPLOAD_BODY=$WORK/upload.json
python3 - "$UPLOAD_BODY" <<'EOF'
import json, sys
doc = {"type": "bench", "id": 12345, "ok": True, "tags": ["a", "b", "c"], "note": ""}
doc["note"] = "x" * (200 - len(json.dumps(doc, separators=(",", ":"))))
s = json.dumps(doc, separators=(",", ":"))
assert len(s) == 200
open(sys.argv[1], "w").write(s)
EOF

# One wrk script for every run: optional method/body/headers from the
# environment, and a machine-readable summary line at the end.
LUA=$WORK/bench.lua
cat >"$LUA" <<'EOF'
local m = os.getenv("WRK_METHOD")
if m and m ~= "" then wrk.method = m end
local bf = os.getenv("WRK_BODY_FILE")
if bf and bf ~= "" then
  local f = assert(io.open(bf, "rb")); wrk.body = f:read("*a"); f:close()
end
local ct = os.getenv("WRK_CONTENT_TYPE")
if ct and ct ~= "" then wrk.headers["Content-Type"] = ct end
if os.getenv("WRK_CLOSE") == "1" then wrk.headers["Connection"] = "close" end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d max_us=%d " ..
    "connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
EOF

# ---------------------------------------------------------- configurations --
write_nginx_conf() { # dir port
	local d=$1 p=$2
	mkdir -p "$d/tmp"
	cat >"$d/nginx.conf" <<EOF
# 1 worker (the server CPU is one core); master + worker are both measured.
worker_processes 1;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log warn;
worker_rlimit_nofile $NOFILE;
events {
    worker_connections $MAXCONN;
    use epoll;
    multi_accept on;
    accept_mutex off;
}
http {
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    access_log off;
    log_not_found off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_min_uses 1;
    open_file_cache_errors on;
    types {
        text/html html htm;
        application/octet-stream txt png jpg jpeg;
    }
    default_type application/octet-stream;
    charset utf-8;
    server {
        listen 127.0.0.1:$p backlog=4096;
        server_name localhost;
        root $ROOT;
        index index.html;
    }
}
EOF
}

write_h2o_conf() { # dir port
	local d=$1 p=$2
	cat >"$d/h2o.conf" <<EOF
# 1 thread (the server CPU is one core). h2o has no per-connection request
# limit; it reads files with pread (no sendfile) through its internal
# open-file cache; no access-log directive = no access log.
listen:
  host: 127.0.0.1
  port: $p
num-threads: 1
max-connections: $MAXCONN
pid-file: $d/h2o.pid
error-log: $d/error.log
http1-request-timeout: 300
http1-upgrade-to-http2: OFF
send-server-name: ON
file.send-compressed: OFF
file.dirlisting: OFF
file.mime.settypes:
  text/html: [".html", ".htm"]
  application/octet-stream: [".txt", ".png", ".jpg", ".jpeg"]
hosts:
  default:
    paths:
      /:
        file.dir: $ROOT
EOF
}

write_lighttpd_conf() { # dir port
	local d=$1 p=$2
	cat >"$d/lighttpd.conf" <<EOF
# One process (server.max-worker = 0); no mod_accesslog = no access log.
server.modules = ( "mod_indexfile", "mod_staticfile" )
server.document-root = "$ROOT"
server.bind = "127.0.0.1"
server.port = $p
server.pid-file = "$d/lighttpd.pid"
server.errorlog = "$d/error.log"
server.tag = "lighttpd"
server.max-worker = 0
server.max-fds = $NOFILE
server.max-connections = $MAXCONN
server.listen-backlog = 4096
server.event-handler = "linux-sysepoll"
server.network-backend = "sendfile"
server.stat-cache-engine = "simple"
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 300
server.max-read-idle = 300
index-file.names = ( "index.html" )
mimetype.assign = (
  ".html" => "text/html; charset=utf-8",
  ".htm"  => "text/html; charset=utf-8",
  ".txt"  => "application/octet-stream",
  ".png"  => "application/octet-stream",
  ".jpg"  => "application/octet-stream",
  ".jpeg" => "application/octet-stream",
)
EOF
}

# server_cmd NAME DIR PORT: sets CMD to the argv that runs the server in the
# foreground.
server_cmd() {
	local s=$1 d=$2 p=$3
	case $s in
	nginx) CMD=(nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf") ;;
	h2o) CMD=(h2o -m worker -c "$d/h2o.conf") ;;
	lighttpd) CMD=(lighttpd -D -f "$d/lighttpd.conf") ;;
	mthttpd)
		# --max-conns/--keepalive-timeout: room for workload 5's idle set,
		# the same as the other servers get.
		CMD=("$MTHTTPD_BIN" --port "$p" --host 127.0.0.1 --threads 1 --root "$ROOT"
			--uploads "$ROOT/uploads" --access-log off --keepalive-max 1000000
			--keepalive-timeout 300 --max-conns "$MAXCONN" -q)
		;;
	esac
}

server_version() {
	case $1 in
	nginx) nginx -v 2>&1 | head -1 ;;
	h2o) h2o --version 2>&1 | head -1 ;;
	lighttpd) lighttpd -v 2>&1 | head -1 ;;
	mthttpd) "$MTHTTPD_BIN" --version 2>&1 | head -1 ;;
	esac
}

http_code() { # url [curl args...]
	local url=$1
	shift
	curl -s --noproxy '*' -o /dev/null -m 10 -w '%{http_code} %{size_download}' "$@" "$url" 2>/dev/null || echo "000 0"
}

start_server() {
	local s=$1 d=$WORK/$1 p
	mkdir -p "$d"
	chmod 777 "$d" # h2o writes its pid file after dropping to nobody
	p=$(free_port)
	case $s in
	nginx) write_nginx_conf "$d" "$p" ;;
	h2o) write_h2o_conf "$d" "$p" ;;
	lighttpd) write_lighttpd_conf "$d" "$p" ;;
	esac
	server_cmd "$s" "$d" "$p"
	echo "${CMD[*]}" >"$d/command"
	# exec: $! is the server itself, not a subshell waiting for it.
	(exec taskset -c "$SERVER_CPU" "${CMD[@]}") >"$d/stdout.log" 2>"$d/stderr.log" </dev/null &
	PID[$s]=$!
	PORT[$s]=$p
	local i code
	for i in $(seq 1 100); do
		if ! kill -0 "${PID[$s]}" 2>/dev/null; then break; fi
		code=$(http_code "http://127.0.0.1:$p/index.html")
		[[ ${code%% *} == 200 ]] && break
		sleep 0.1
	done
	if ! check_server "$s" full; then
		mark_dead "$s" "did not start or answered wrongly"
		return 0
	fi
	log "$s: pid ${PID[$s]}, port $p, $(server_version "$s")"
}

server_log_tail() {
	local d=$WORK/$1 f
	for f in "$d"/stderr.log "$d"/stdout.log "$d"/error.log; do
		[[ -s $f ]] && { echo "--- $f"; tail -n 15 "$f"; }
	done
	return 0
}

mark_dead() { # name reason
	local s=$1
	DEAD[$s]=$2
	log "$s: SKIPPED from now on: $2"
	server_log_tail "$s" >&2
	printf 'dead\t%s\t%s\n' "$s" "$2" >>"$RAW"
	if [[ -n ${PID[$s]:-} ]] && ! kill -0 "${PID[$s]}" 2>/dev/null; then
		local rc=0 how
		wait "${PID[$s]}" 2>/dev/null || rc=$?
		how="exit status $rc"
		((rc <= 128)) || how="killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null))"
		((rc != 0)) || how="exit status 0 (mthttpd exits 0 only after SIGTERM/SIGINT)"
		[[ $s == mthttpd ]] || [[ $rc != 0 ]] || how="exit status 0"
		printf 'dead\t%s\t%s\n' "$s" "$how" >>"$RAW"
	fi
}

# check_server NAME [full]: the server is alive and answers 200 with the
# right sizes (full: every file, and 201 for an upload on mthttpd).
check_server() {
	local s=$1 mode=${2:-quick} base="http://127.0.0.1:${PORT[$1]}" r
	kill -0 "${PID[$s]}" 2>/dev/null || { echo "process exited" >"$WORK/$s/check.err"; return 1; }
	r=$(http_code "$base/index.html")
	[[ $r == "200 $SIZE_SMALL" ]] || { echo "GET /index.html -> $r" >"$WORK/$s/check.err"; return 1; }
	[[ $mode == full ]] || return 0
	r=$(http_code "$base/")
	[[ $r == "200 $SIZE_SMALL" ]] || { echo "GET / -> $r" >"$WORK/$s/check.err"; return 1; }
	r=$(http_code "$base/file_1m.txt")
	[[ $r == "200 $SIZE_1M" ]] || { echo "GET /file_1m.txt -> $r" >"$WORK/$s/check.err"; return 1; }
	r=$(http_code "$base/file_100m.txt")
	[[ $r == "200 $SIZE_100M" ]] || { echo "GET /file_100m.txt -> $r" >"$WORK/$s/check.err"; return 1; }
	if [[ $s == mthttpd ]]; then
		r=$(http_code "$base/upload" -X POST -H 'Content-Type: application/json' --data-binary "@$UPLOAD_BODY")
		[[ ${r%% *} == 201 ]] || { echo "POST /upload -> $r" >"$WORK/$s/check.err"; return 1; }
	fi
	return 0
}

alive_or_mark() { # name: 0 if usable for the next run
	local s=$1
	[[ -z ${DEAD[$s]:-} ]] || return 1
	if ! check_server "$s"; then
		mark_dead "$s" "failed its health check before a run ($(cat "$WORK/$s/check.err" 2>/dev/null))"
		return 1
	fi
	return 0
}

# ---------------------------------------------------------------- running --
# wrk_run OUTFILE CONNS DURATION URL [env assignments...]: runs wrk on the
# client CPU, writes its whole output to OUTFILE.
wrk_run() {
	local out=$1 c=$2 d=$3 url=$4
	shift 4
	local t=$WRK_THREADS
	((t <= c)) || t=$c
	env "$@" taskset -c "$CLIENT_CPU" timeout -k 5 $((d + 60)) \
		wrk -t"$t" -c"$c" -d"${d}s" --timeout 10s --latency -s "$LUA" "$url" >"$out" 2>&1 || true
}

# bench_field FILE KEY: a value from the BENCH line of a wrk output.
bench_field() {
	sed -n 's/^BENCH .*\b'"$2"'=\([0-9]*\).*/\1/p' "$1" | head -1
}

# record W SERVER ROUND KEY VALUE
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RAW"; }

# measure W SERVER ROUND CONNS DURATION PATH PREFIX [env...]: one wrk run with
# server CPU accounting. Records PREFIXrps, PREFIXp99_us, PREFIXcpu_us_req,
# PREFIXerrors, PREFIXmib_s, PREFIXrequests, and sets LAST_RPS.
measure() {
	local w=$1 s=$2 r=$3 c=$4 d=$5 path=$6 pre=$7
	shift 7
	local out=$WORK/logs/w${w}_${s}_r${r}_${pre}wrk.txt
	local t0 t1 req dur p99 bytes errs k v
	t0=$(cpu_ticks "${PID[$s]}")
	wrk_run "$out" "$c" "$d" "http://127.0.0.1:${PORT[$s]}$path" "$@"
	t1=$(cpu_ticks "${PID[$s]}")
	req=$(bench_field "$out" requests)
	if [[ -z $req ]]; then
		log "w$w $s: wrk gave no result:"
		tail -n 5 "$out" >&2
		record "$w" "$s" "$r" "${pre}failed" 1
		return 1
	fi
	dur=$(bench_field "$out" duration_us)
	p99=$(bench_field "$out" p99_us)
	bytes=$(bench_field "$out" bytes)
	errs=0
	for k in connect read write status timeout; do
		v=$(bench_field "$out" $k)
		errs=$((errs + ${v:-0}))
	done
	local rps cpu mib
	rps=$(awk -v n="$req" -v d="$dur" 'BEGIN { printf "%.1f", (d > 0 ? n * 1e6 / d : 0) }')
	mib=$(awk -v b="$bytes" -v d="$dur" 'BEGIN { printf "%.1f", (d > 0 ? b * 1e6 / d / 1048576 : 0) }')
	# Large files: runs end with responses half sent, which cost CPU but are
	# not counted by wrk; count the bytes received in whole files instead.
	local nreq=$req
	case $path in
	/file_1m.txt) nreq=$(awk -v b="$bytes" -v z="$SIZE_1M" 'BEGIN { printf "%.3f", b / z }') ;;
	/file_100m.txt) nreq=$(awk -v b="$bytes" -v z="$SIZE_100M" 'BEGIN { printf "%.3f", b / z }') ;;
	esac
	cpu=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$nreq" 'BEGIN { printf "%.2f", (n > 0 ? t * 1e6 / hz / n : 0) }')
	LAST_RPS=$rps
	record "$w" "$s" "$r" "${pre}rps" "$rps"
	record "$w" "$s" "$r" "${pre}p99_us" "$p99"
	record "$w" "$s" "$r" "${pre}cpu_us_req" "$cpu"
	record "$w" "$s" "$r" "${pre}errors" "$errs"
	record "$w" "$s" "$r" "${pre}mib_s" "$mib"
	record "$w" "$s" "$r" "${pre}requests" "$req"
	log "w$w $s round $r ${pre:+($pre) }: $rps req/s, p99 ${p99} us, $cpu us CPU/req, $errs errors"
	return 0
}

# Workload 5: idle keep-alive connections held by bench/idle_conns.py.
run_idle() {
	local s=$1 r=$2
	measure 5 "$s" "$r" 64 "$DURATION" /index.html base_ || return 0
	alive_or_mark "$s" || return 0
	local rss0 rss1 line ok failed
	sleep 0.5
	rss0=$(rss_kib "${PID[$s]}")
	coproc IDLEC { exec taskset -c "$CLIENT_CPU" python3 "$SCRIPT_DIR/idle_conns.py" 127.0.0.1 "${PORT[$s]}" "$IDLE_CONNS" /index.html --timeout 120 2>&1; }
	# shellcheck disable=SC2153 # set by coproc
	IDLE_PID=$IDLEC_PID
	local in_fd=${IDLEC[0]} out_fd=${IDLEC[1]}
	line=
	read -r -t 180 -u "$in_fd" line || true
	if [[ $line != READY* ]]; then
		log "w5 $s: idle helper did not get ready: '$line'"
		record 5 "$s" "$r" idle_failed 1
		kill "$IDLE_PID" 2>/dev/null || true
		wait "$IDLE_PID" 2>/dev/null || true
		IDLE_PID=
		return 0
	fi
	ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$line")
	failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$line")
	sleep 0.5
	rss1=$(rss_kib "${PID[$s]}")
	log "w5 $s: $line; RSS ${rss0} -> ${rss1} KiB"
	record 5 "$s" "$r" idle_ok "$ok"
	record 5 "$s" "$r" idle_failed "$failed"
	record 5 "$s" "$r" rss0_kib "$rss0"
	record 5 "$s" "$r" rss1_kib "$rss1"
	if ((ok > 0)); then
		record 5 "$s" "$r" rss_b_per_conn "$(awk -v a="$rss0" -v b="$rss1" -v n="$ok" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')"
	fi
	measure 5 "$s" "$r" 64 "$DURATION" /index.html idle_ || true
	# Are the idle connections still open and served after the load?
	echo check >&"$out_fd"
	line=
	read -r -t 180 -u "$in_fd" line || true
	log "w5 $s: after the load: $line"
	record 5 "$s" "$r" check_ok "$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$line")"
	echo quit >&"$out_fd" || true
	for _ in $(seq 1 100); do kill -0 "$IDLE_PID" 2>/dev/null || break; sleep 0.1; done
	kill "$IDLE_PID" 2>/dev/null || true
	wait "$IDLE_PID" 2>/dev/null || true
	IDLE_PID=
	sleep 1 # let the server tear the connections down before the next run
}

PROBE=$WORK/fsync_probe
UPLOADS=$ROOT/uploads
count_uploads() { find "$UPLOADS" -maxdepth 1 -type f -name 'upload_*.json' 2>/dev/null | wc -l; }
count_tmp() { find "$UPLOADS" -maxdepth 1 -type f -name '.upload-*' 2>/dev/null | wc -l; }

# The probe runs in the uploads directory itself, and nothing written there
# is deleted until the end. On this machine's ext4, creating files in space
# freed by a deletion costs up to three times the CPU of creating them in
# space never used (measured: 150 µs per probe operation against 430-550
# right after deleting ~9,000 files, for some 15,000 creations), so clearing
# the directory between runs made the disk's speed depend on who ran first.
# (perf: without a journal, ext4's inode allocator skips every inode freed
# in the last 5 s — 300 s while its inode-table block is dirty — testing
# them one by one: recently_deleted() in find_inode_bit().)
# Files accumulate like a real uploads directory's; the probe names its own
# per process so no run replaces another's. A sync before each run keeps one
# run's write-back out of the next.
settle_disk() { sync -f "$UPLOADS" 2>/dev/null || sync; }

run_probe() { # round
	local r=$1 d=$UPLOADS out
	settle_disk
	out=$(taskset -c "$SERVER_CPU" timeout -k 5 $((DURATION + 60)) "$PROBE" "$d" 32 "$DURATION" 200 2>&1) || true
	local ops
	ops=$(sed -n 's/.*ops_per_s=\([0-9.]*\).*/\1/p' <<<"$out")
	if [[ -z $ops ]]; then
		log "fsync probe failed: $out"
		return 0
	fi
	record 6 disk "$r" probe_ops_s "$ops"
	PROBE_OPS+=("$ops")
	record 6 disk "$r" probe_cpu_us_op "$(sed -n 's/.*cpu_us_per_op=\([0-9.]*\).*/\1/p' <<<"$out")"
	log "w6 disk limit (32 threads create+write+fsync+rename+fsync dir): $ops ops/s"
}

UPLOAD_ENV=(WRK_METHOD=POST "WRK_BODY_FILE=$UPLOAD_BODY" WRK_CONTENT_TYPE=application/json)

run_uploads() { # round
	local r=$1 n0 n1
	settle_disk
	n0=$(count_uploads)
	measure 6 mthttpd "$r" 32 "$DURATION" /upload "" "${UPLOAD_ENV[@]}" || return 0
	UPLOAD_RPS=$LAST_RPS
	sleep 0.5
	n1=$(count_uploads)
	record 6 mthttpd "$r" stored $((n1 - n0))
	record 6 mthttpd "$r" tmp_left "$(count_tmp)"
}

run_gets_during_uploads() { # round
	local r=$1
	measure 7 mthttpd "$r" 8 "$DURATION" /index.html alone_ || return 0
	alive_or_mark mthttpd || return 0
	settle_disk
	local up=$WORK/logs/w7_mthttpd_r${r}_uploads_wrk.txt
	wrk_run "$up" 32 $((DURATION + 2)) "http://127.0.0.1:${PORT[mthttpd]}/upload" "${UPLOAD_ENV[@]}" &
	BG_PIDS+=($!)
	sleep 1 # the uploads are in full swing before the GETs start
	measure 7 mthttpd "$r" 8 "$DURATION" /index.html during_ || true
	wait "${BG_PIDS[-1]}" 2>/dev/null || true
	unset 'BG_PIDS[-1]'
	local req dur
	req=$(bench_field "$up" requests)
	dur=$(bench_field "$up" duration_us)
	if [[ -n $req ]]; then
		record 7 mthttpd "$r" uploads_s "$(awk -v n="$req" -v d="$dur" 'BEGIN { printf "%.1f", (d > 0 ? n * 1e6 / d : 0) }')"
		record 7 mthttpd "$r" upload_p99_us "$(bench_field "$up" p99_us)"
	fi
}

# ------------------------------------------------------------------- main --
log "servers: ${SERVER_LIST[*]}; workloads: $WORKLOADS; rounds $ROUNDS x ${DURATION}s;" \
	"server CPU $SERVER_CPU, client CPU $CLIENT_CPU; ulimit -n $NOFILE"
for s in "${SERVER_LIST[@]}"; do start_server "$s"; done

needs_upload=0
for w in $WORKLOADS; do [[ $w == 6 || $w == 7 ]] && needs_upload=1; done
if ((needs_upload)); then
	if ! has_server mthttpd || [[ -n ${DEAD[mthttpd]:-} ]]; then
		log "workloads 6 and 7 need mthttpd: skipped"
	else
		cc -O2 -pthread -o "$PROBE" "$SCRIPT_DIR/fsync_probe.c" || die "cannot build fsync_probe"
	fi
fi

# Warm-up of the uploads directory (not recorded): the first runs after
# files were deleted anywhere on the file system are slow (see run_probe);
# two probe runs get past that before anything is measured. They go first,
# and the disk is synced after them: their writeback once fell into the
# first measured run (workload 1, mthttpd's in round 1: 8.3 us CPU/request
# against 6.6 in round 2).
if [[ -x $PROBE ]]; then
	for _ in 1 2; do
		taskset -c "$SERVER_CPU" timeout -k 5 $((DURATION + 60)) "$PROBE" "$UPLOADS" 32 "$DURATION" 200 >/dev/null 2>&1 || true
	done
	settle_disk
fi
# Warm-up of the servers (not recorded): caches, lazy allocations, page
# cache, TCP memory.
for s in "${SERVER_LIST[@]}"; do
	[[ -z ${DEAD[$s]:-} ]] || continue
	wrk_run "$WORK/logs/warmup_$s.txt" 64 2 "http://127.0.0.1:${PORT[$s]}/index.html"
	wrk_run "$WORK/logs/warmup1m_$s.txt" 4 1 "http://127.0.0.1:${PORT[$s]}/file_1m.txt"
done

n=${#SERVER_LIST[@]}
for ((r = 1; r <= ROUNDS; r++)); do
	# Rotate the order each round so no server always runs first or last.
	order=()
	for ((i = 0; i < n; i++)); do order+=("${SERVER_LIST[$(((i + r - 1) % n))]}"); done
	log "round $r/$ROUNDS: ${order[*]}"
	for w in $WORKLOADS; do
		case $w in
		6)
			[[ -x $PROBE ]] || continue
			# The disk is shared and its speed drifts: each server run
			# is bracketed by two probe runs, and the round's ratio is
			# taken against their mean.
			PROBE_OPS=() UPLOAD_RPS=
			run_probe "$r"
			alive_or_mark mthttpd && run_uploads "$r"
			run_probe "$r"
			if [[ -n $UPLOAD_RPS && ${#PROBE_OPS[@]} -eq 2 ]]; then
				record 6 mthttpd "$r" ratio_to_probe "$(awk -v u="$UPLOAD_RPS" -v a="${PROBE_OPS[0]}" -v b="${PROBE_OPS[1]}" \
					'BEGIN { printf "%.3f", (a + b > 0 ? 2 * u / (a + b) : 0) }')"
			fi
			continue
			;;
		7)
			[[ -x $PROBE ]] || continue
			alive_or_mark mthttpd && run_gets_during_uploads "$r"
			continue
			;;
		esac
		if [[ $w == 1 || $w == 2 ]]; then
			# The small-file workloads are the cheapest per request, so
			# the machine's drifts weigh most on them: each server's
			# DURATION is cut into slices run in turn (A B C D, B C D A,
			# ...), so a slow spell of the machine falls on every server
			# alike; each slice is one sample of the medians.
			for ((k = 0; k < DURATION / SLICE; k++)); do
				for ((i = 0; i < n; i++)); do
					s=${order[$(((i + k) % n))]}
					alive_or_mark "$s" || continue
					if [[ $w == 1 ]]; then
						measure 1 "$s" "$r.$k" 64 "$SLICE" /index.html "" || true
					else
						measure 2 "$s" "$r.$k" 64 "$SLICE" /index.html "" WRK_CLOSE=1 || true
					fi
				done
			done
			continue
		fi
		for s in "${order[@]}"; do
			alive_or_mark "$s" || continue
			case $w in
			3) measure 3 "$s" "$r" 16 "$DURATION" /file_1m.txt "" || true ;;
			4) measure 4 "$s" "$r" 4 "$W4_DURATION" /file_100m.txt "" || true ;;
			5) run_idle "$s" "$r" ;;
			esac
		done
	done
done

# Last health check: a server that crashed during the final run shows here.
for s in "${SERVER_LIST[@]}"; do alive_or_mark "$s" || true; done

# ----------------------------------------------------------------- report --
{
	echo "sysinfo	kernel	$(uname -r)"
	echo "sysinfo	cpu	$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "sysinfo	ncpu	$NCPU"
	echo "sysinfo	fs	$(df -T "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')"
	echo "sysinfo	settings	ROUNDS=$ROUNDS DURATION=${DURATION}s SLICE=${SLICE}s W4_DURATION=${W4_DURATION}s WORKLOADS=\"$WORKLOADS\" IDLE_CONNS=$IDLE_CONNS WRK_THREADS=$WRK_THREADS; servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; ulimit -n $NOFILE"
	echo "sysinfo	wrk	$(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')"
	for s in "${SERVER_LIST[@]}"; do echo "version	$s	$(server_version "$s")"; done
	echo "sysinfo	date	$(date -u '+%Y-%m-%d %H:%M UTC')"
} >>"$RAW"

cp "$RAW" "$OUT_DIR/raw.tsv"
echo "sysinfo	idle_conns	$IDLE_CONNS" >>"$RAW"
# What the servers said on stderr / in their error logs (warnings and errors).
for s in "${SERVER_LIST[@]}"; do
	for f in "$WORK/$s/stderr.log" "$WORK/$s/error.log"; do
		[[ -s $f ]] || continue
		grep -aiE "warn|error|crit|emerg|alert|can't|cannot|fail|abort|sanitizer|fault" "$f" |
			sed -E 's/^\[?[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}[ T][0-9:]+\]?:? *//' |
			sort | uniq -c | sort -rn | head -n 8 |
			awk -v s="$s" '{ n = $1; sub(/^ *[0-9]+ /, ""); printf "serverlog\t%s\t%d× %s\n", s, n, $0 }' >>"$RAW" || true
	done
done
python3 - "$RAW" "${SERVER_LIST[*]}" >"$OUT_DIR/results.md" <<'EOF'
# Medians over the rounds, ratios against mthttpd, Markdown out.
import statistics, sys
from collections import defaultdict

raw, servers = sys.argv[1], sys.argv[2].split()
vals = defaultdict(list)
sysinfo, versions, dead, serverlog = {}, {}, defaultdict(list), defaultdict(list)
for line in open(raw):
    f = line.rstrip("\n").split("\t")
    if f[0] == "sysinfo":
        sysinfo[f[1]] = f[2]
    elif f[0] == "version":
        versions[f[1]] = f[2]
    elif f[0] == "serverlog":
        serverlog[f[1]].append(f[2])
    elif f[0] == "dead":
        dead[f[1]].append(f[2])
    elif len(f) == 5:
        try:
            vals[(f[0], f[1], f[3])].append(float(f[4]))
        except ValueError:
            pass

def med(w, s, k):
    v = vals.get((str(w), s, k))
    return statistics.median(v) if v else None

def has(w, s, k):
    return (str(w), s, k) in vals

def num(x, nd=0):
    if x is None:
        return "—"
    return f"{x:,.{nd}f}"

def lat(us):
    if us is None:
        return "—"
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"

def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"

def pct(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{100 * a / b:.0f} %"

M = "mthttpd"
out = []
w = out.append
w("# mthttpd benchmark results")
w("")
w(f"{sysinfo.get('date', '')}; kernel {sysinfo.get('kernel', '?')}; "
  f"{sysinfo.get('ncpu', '?')} × {sysinfo.get('cpu', '?')}; bench dir on {sysinfo.get('fs', '?')}.  ")
w(f"{sysinfo.get('settings', '')}; {sysinfo.get('wrk', 'wrk')}.  ")
w("Servers: " + "; ".join(f"{s}: {versions.get(s, '?')}" for s in servers) + ".")
w("")
w("Every figure is the median over the rounds (workloads 1 and 2: over the "
  "SLICE-second slices of every round, run in turn across the servers). "
  "\"mthttpd ÷ x\" is mthttpd's "
  "median divided by server x's: for req/s above 1 means mthttpd is faster; "
  "for CPU per request and p99 below 1 means mthttpd is cheaper/quicker.")
w("")

names = {1: "1 KiB, keep-alive, 64 conns", 2: "1 KiB, Connection: close, 64 conns",
         3: "1 MiB file, 16 conns", 4: "100 MiB file, 4 conns"}
rows = [(n, s) for n in (1, 2, 3, 4) for s in servers if has(n, s, "rps")]
if rows:
    w("## Static files (workloads 1–4)")
    w("")
    w("| # | workload | server | req/s | mthttpd ÷ x | p99 | mthttpd ÷ x | CPU µs/req | mthttpd ÷ x | MiB/s | errors |")
    w("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for n, s in rows:
        rps, p99, cpu = med(n, s, "rps"), med(n, s, "p99_us"), med(n, s, "cpu_us_req")
        w(f"| {n} | {names[n]} | {s} | {num(rps)} | {ratio(med(n, M, 'rps'), rps)} | {lat(p99)} | "
          f"{ratio(med(n, M, 'p99_us'), p99)} | {num(cpu, 2)} | {ratio(med(n, M, 'cpu_us_req'), cpu)} | "
          f"{num(med(n, s, 'mib_s'), 1)} | {num(med(n, s, 'errors'))} |")
    w("")

idle = sysinfo.get("idle_conns", "?")
rows = [s for s in servers if has(5, s, "base_rps") or has(5, s, "idle_ok")]
if rows:
    w(f"## {idle} idle keep-alive connections while workload 1 runs (workload 5)")
    w("")
    w("| server | idle conns served | still served after load | RSS before | RSS Δ per idle conn | mthttpd ÷ x | "
      "req/s without | req/s with idle | retained | CPU µs/req with idle | p99 with idle | errors with idle |")
    w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for s in rows:
        rss = med(5, s, "rss_b_per_conn")
        r0 = med(5, s, "rss0_kib")
        base, idl = med(5, s, "base_rps"), med(5, s, "idle_rps")
        w(f"| {s} | {num(med(5, s, 'idle_ok'))} | {num(med(5, s, 'check_ok'))} | "
          f"{num(r0 / 1024 if r0 is not None else None, 1)} MiB | {num(rss)} B | "
          f"{ratio(med(5, M, 'rss_b_per_conn'), rss)} | {num(base)} | {num(idl)} | {pct(idl, base)} | "
          f"{num(med(5, s, 'idle_cpu_us_req'), 2)} | {lat(med(5, s, 'idle_p99_us'))} | {num(med(5, s, 'idle_errors'))} |")
    w("")

def w6_ratio_value():
    # Each round's uploads/s against the mean of the probe runs just before
    # and after it; the median over rounds.
    r = med(6, M, "ratio_to_probe")
    if r is None:
        up, lim = med(6, M, "rps"), med(6, "disk", "probe_ops_s")
        r = up / lim if up is not None and lim else None
    return r

def w6_ratio():
    r = w6_ratio_value()
    return "—" if r is None else f"{r:.2f}"

if has(6, M, "rps") or has(6, "disk", "probe_ops_s"):
    w("## Durable uploads, 32 connections, 200-byte JSON (workload 6)")
    w("")
    w("| disk limit (probe, 32 threads) | probe CPU µs/op | mthttpd uploads/s | uploads ÷ limit (median of rounds) | p99 | CPU µs/upload | "
      "files stored / 201s counted | temp files left | errors |")
    w("|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    lim, up = med(6, "disk", "probe_ops_s"), med(6, M, "rps")
    w(f"| {num(lim)} ops/s | {num(med(6, 'disk', 'probe_cpu_us_op'), 1)} | {num(up)} | {w6_ratio()} | {lat(med(6, M, 'p99_us'))} | "
      f"{num(med(6, M, 'cpu_us_req'), 2)} | {num(med(6, M, 'stored'))} / {num(med(6, M, 'requests'))} | "
      f"{num(med(6, M, 'tmp_left'))} | {num(med(6, M, 'errors'))} |")
    w("")

if has(7, M, "during_rps") or has(7, M, "alone_rps"):
    w("## Small GETs (8 conns) while 32 connections upload (workload 7)")
    w("")
    w("| GET p99 alone | GET p99 during uploads | GET req/s alone | GET req/s during | uploads/s during | upload p99 | errors |")
    w("|--:|--:|--:|--:|--:|--:|--:|")
    w(f"| {lat(med(7, M, 'alone_p99_us'))} | {lat(med(7, M, 'during_p99_us'))} | {num(med(7, M, 'alone_rps'))} | "
      f"{num(med(7, M, 'during_rps'))} | {num(med(7, M, 'uploads_s'))} | {lat(med(7, M, 'upload_p99_us'))} | "
      f"{num(med(7, M, 'during_errors'))} |")
    w("")

# The targets of issue 4, where the data to judge them exists.
checks = []
def target(name, ok):
    if ok is not None:
        checks.append((name, ok))
def le(a, b, f=1.0):
    return None if a is None or b is None else a <= f * b
def ge(a, b, f=1.0):
    return None if a is None or b is None else a >= f * b
if M in servers:
    target("W1 CPU/req ≤ 0.9 × h2o", le(med(1, M, "cpu_us_req"), med(1, "h2o", "cpu_us_req"), 0.9))
    target("W1 req/s ≥ h2o", ge(med(1, M, "rps"), med(1, "h2o", "rps")))
    target("W2 CPU/req ≤ h2o", le(med(2, M, "cpu_us_req"), med(2, "h2o", "cpu_us_req")))
    target("W3 CPU/req ≤ lighttpd", le(med(3, M, "cpu_us_req"), med(3, "lighttpd", "cpu_us_req")))
    if has(5, M, "idle_ok"):
        try:
            n = float(idle)
            target(f"W5 all {idle} idle conns served, before and after the load",
                   med(5, M, "idle_ok") == n and med(5, M, "check_ok") == n)
        except (ValueError, TypeError):
            pass
    target("W5 RSS ≤ 1 KiB per idle conn", le(med(5, M, "rss_b_per_conn"), 1024))
    target("W5 req/s with idle ≥ 90 % of without", ge(med(5, M, "idle_rps"), med(5, M, "base_rps"), 0.9))
    target("W6 uploads ≥ 0.8 × disk limit", ge(w6_ratio_value(), 1.0, 0.8))
    target("W7 GET p99 during uploads < 5 ms", le(med(7, M, "during_p99_us"), 4999))
if checks:
    w("## Targets of issue 4")
    w("")
    for name, ok in checks:
        w(f"- {'PASS' if ok else 'FAIL'}: {name}")
    w("")

problems = []
for s, reasons in dead.items():
    problems.append(f"- {s}: " + "; ".join(reasons))
for (wk, s, k), v in sorted(vals.items()):
    if k.endswith("errors") and statistics.median(v) > 0:
        problems.append(f"- workload {wk}, {s}: {k} median {statistics.median(v):.0f} (non-2xx/3xx or socket errors)")
    if k.endswith("failed") and k != "idle_failed" and max(v) > 0:
        problems.append(f"- workload {wk}, {s}: a run produced no result")
    if k.endswith("requests") and min(v) == 0:
        problems.append(f"- workload {wk}, {s}: a run completed no request at all "
                        f"({k}; a connection limit or a stall? see the server log lines below)")
    if k == "idle_failed" and max(v) > 0:
        problems.append(f"- workload {wk}, {s}: {max(v):.0f} idle connections were not served")
if problems:
    w("## Problems seen")
    w("")
    out.extend(problems)
    w("")
if serverlog:
    w("## Server log lines (warnings and errors, with their counts)")
    w("")
    for s, lines in serverlog.items():
        for l in lines:
            w(f"- {s}: `{l.strip()[:300].replace('`', chr(39))}`")
    w("")
print("\n".join(out))
EOF
cat "$OUT_DIR/results.md"
log "saved $OUT_DIR/results.md and $OUT_DIR/raw.tsv"
