#!/usr/bin/env bash
# bench/run.sh — mthttpd side by side with nginx, h2o and lighttpd.
#
# Every server gets the same generated document root, one worker, tuned
# settings, and is pinned to one CPU while the client (wrk) is pinned to the
# other. Each workload is run against the servers alternately over ROUNDS
# rounds; bench/report.py turns the raw per-run measurements into medians,
# ratios and target checks. See bench/README.md.
#
# Layout: this file orchestrates; lib/*.sh hold the helpers (proc, cpu,
# servers, measure, workloads), conf/*.conf.in the server configurations,
# lua/*.lua the wrk scripts, gen.py the generated inputs, report.py the
# report.
#
# Environment (all optional):
#   ROUNDS=3  DURATION=5 (seconds per run)
#   WORKLOADS="1 2 3 4 5 6 7 files1k files20k files200k hotup threads gzip"
#     ("files" stands for the three file trees)
#   SLICE=1 (workloads 1, 2, files*, threads: each server's DURATION per
#   round is run as slices of SLICE seconds, interleaved across the servers)
#   SERVERS="mthttpd nginx h2o lighttpd"  SKIP_MTHTTPD=1 (drop mthttpd)
#   MTHTTPD_BIN=./mthttpd  IDLE_CONNS=10000  W4_DURATION=$DURATION
#   HOT_CONNS=8 (GET connections of workloads 7 and hotup)
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
WORKLOADS=${WORKLOADS:-"1 2 3 4 5 6 7 files1k files20k files200k hotup threads gzip"}
SERVERS=${SERVERS:-"mthttpd nginx h2o lighttpd"}
SKIP_MTHTTPD=${SKIP_MTHTTPD:-0}
IDLE_CONNS=${IDLE_CONNS:-10000}
HOT_CONNS=${HOT_CONNS:-8}
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

# shellcheck source=lib/proc.sh
. "$SCRIPT_DIR/lib/proc.sh"
# shellcheck source=lib/cpu.sh
. "$SCRIPT_DIR/lib/cpu.sh"
# shellcheck source=lib/servers.sh
. "$SCRIPT_DIR/lib/servers.sh"
# shellcheck source=lib/measure.sh
. "$SCRIPT_DIR/lib/measure.sh"
# shellcheck source=lib/workloads.sh
. "$SCRIPT_DIR/lib/workloads.sh"

for v in ROUNDS DURATION W4_DURATION SLICE IDLE_CONNS HOT_CONNS SERVER_CPU CLIENT_CPU WRK_THREADS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
((ROUNDS >= 1 && ROUNDS <= 50)) || die "ROUNDS must be 1..50"
((DURATION >= 1 && DURATION <= 600)) || die "DURATION must be 1..600 seconds"
((W4_DURATION >= 1 && W4_DURATION <= 600)) || die "W4_DURATION must be 1..600 seconds"
((SLICE >= 1 && SLICE <= DURATION)) || die "SLICE must be 1..DURATION seconds"
((HOT_CONNS >= 1 && HOT_CONNS <= 1000)) || die "HOT_CONNS must be 1..1000"
WL=()
for w in $WORKLOADS; do
	case $w in
	[1-7] | files1k | files20k | files200k | hotup | threads | gzip) WL+=("$w") ;;
	files) WL+=(files1k files20k files200k) ;;
	*) die "WORKLOADS: unknown workload '$w' (1..7, files1k, files20k, files200k, files, hotup, threads, gzip)" ;;
	esac
done
WORKLOADS=${WL[*]}
wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }
wants_any() { local x; for x; do wants "$x" && return 0; done; return 1; }

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
# The threads workload adds mthttpd at its default thread count.
EXTRA_SERVERS=()
if wants threads && has_server mthttpd; then EXTRA_SERVERS=(mthttpd-default); fi
ALL_SERVERS=("${SERVER_LIST[@]}" "${EXTRA_SERVERS[@]}")

# ------------------------------------------------------------ dependencies --
# command -> Debian package
declare -A PKG_OF=([wrk]=wrk [curl]=curl [taskset]=util-linux [python3]=python3
	[cc]=gcc [ps]=procps [nginx]=nginx [h2o]=h2o [lighttpd]=lighttpd)
need=(wrk curl taskset python3 ps)
wants_any 6 7 hotup && need+=(cc)
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
UPLOADS=$ROOT/uploads
PROBE=$WORK/fsync_probe
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
	for s in "${!PID[@]}"; do stop_server "$s"; done
	wait 2>/dev/null || true
	if [[ $KEEP_TMP == 1 ]]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
		# Written back now, the freed inodes stop slowing the next run's
		# creations after 5 s instead of 300 (see settle_disk).
		sync -f "$BENCH_TMPDIR" 2>/dev/null || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ inputs --
log "document root in $ROOT"
python3 "$SCRIPT_DIR/gen.py" page "$ROOT/index.html"
python3 "$SCRIPT_DIR/gen.py" page "$ROOT/page20k.html" 20480
head -c $((1024 * 1024)) /dev/urandom >"$ROOT/file_1m.txt"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$ROOT/file_100m.txt"
chmod 644 "$ROOT"/*
cat "$ROOT"/* >/dev/null # into the page cache
SIZE_SMALL=$(stat -c %s "$ROOT/index.html")
SIZE_1M=$(stat -c %s "$ROOT/file_1m.txt")
SIZE_100M=$(stat -c %s "$ROOT/file_100m.txt")
# The ~200-byte JSON body of the upload workloads.
UPLOAD_BODY=$WORK/upload.json
python3 "$SCRIPT_DIR/gen.py" upload "$UPLOAD_BODY"
UPLOAD_ENV=(WRK_METHOD=POST "WRK_BODY_FILE=$UPLOAD_BODY" WRK_CONTENT_TYPE=application/json)
# The file trees, generated once and reused by every round.
for w in $WORKLOADS; do
	[[ $w != files* ]] || make_tree "$w"
done

# ------------------------------------------------------------------- main --
log "servers: ${ALL_SERVERS[*]}; workloads: $WORKLOADS; rounds $ROUNDS x ${DURATION}s;" \
	"server CPU $SERVER_CPU, client CPU $CLIENT_CPU; ulimit -n $NOFILE"
for s in "${ALL_SERVERS[@]}"; do start_server "$s"; done

if wants_any 6 7 hotup; then
	if ! has_server mthttpd || [[ -n ${DEAD[mthttpd]:-} ]]; then
		log "the upload workloads (6, 7, hotup) need mthttpd: skipped"
	else
		cc -O2 -pthread -o "$PROBE" "$SCRIPT_DIR/fsync_probe.c" || die "cannot build fsync_probe"
	fi
fi

# Warm-up of the uploads directory (not recorded): the first runs after
# files were deleted anywhere on the file system are slow (see settle_disk);
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
for s in "${ALL_SERVERS[@]}"; do
	[[ -z ${DEAD[$s]:-} ]] || continue
	wrk_run "$WORK/logs/warmup_$s.txt" 64 2 "http://127.0.0.1:${PORT[$s]}/index.html"
	wrk_run "$WORK/logs/warmup1m_$s.txt" 4 1 "http://127.0.0.1:${PORT[$s]}/file_1m.txt"
	for w in $WORKLOADS; do
		[[ $w != files* || $s == mthttpd-default ]] || warm_tree "$w" "$s"
	done
done

# rotate ROUND NAME...: the names rotated by ROUND - 1, so no server always
# runs first or last.
rotate() {
	local r=$1
	shift
	local -a a=("$@")
	local i n=${#a[@]}
	ROTATED=()
	for ((i = 0; i < n; i++)); do ROTATED+=("${a[$(((i + r - 1) % n))]}"); done
}

THREADS_SET=()
for s in mthttpd-default mthttpd h2o; do
	[[ -z ${PID[$s]:-} ]] || THREADS_SET+=("$s")
done

for ((r = 1; r <= ROUNDS; r++)); do
	rotate "$r" "${SERVER_LIST[@]}"
	order=("${ROTATED[@]}")
	log "round $r/$ROUNDS: ${order[*]}"
	for w in $WORKLOADS; do
		case $w in
		1 | 2 | files* | gzip) run_sliced "$w" "$r" "${order[@]}" ;;
		threads)
			if ((${#THREADS_SET[@]} < 2)) || [[ -z ${PID[mthttpd-default]:-} ]]; then
				((r > 1)) || log "threads: needs mthttpd (and h2o): skipped"
				continue
			fi
			rotate "$r" "${THREADS_SET[@]}"
			run_sliced threads "$r" "${ROTATED[@]}"
			;;
		3 | 4 | 5)
			for s in "${order[@]}"; do
				alive_or_mark "$s" || continue
				case $w in
				3) measure 3 "$s" "$r" 16 "$DURATION" /file_1m.txt "" || true ;;
				4) measure 4 "$s" "$r" 4 "$W4_DURATION" /file_100m.txt "" || true ;;
				5) run_idle "$s" "$r" ;;
				esac
			done
			;;
		6) [[ ! -x $PROBE ]] || run_w6 "$r" ;;
		7) [[ ! -x $PROBE ]] || run_w7 "$r" ;;
		hotup) [[ ! -x $PROBE ]] || run_hotup "$r" ;;
		esac
	done
done

# Last health check: a server that crashed during the final run shows here.
for s in "${ALL_SERVERS[@]}"; do alive_or_mark "$s" || true; done

# ----------------------------------------------------------------- report --
{
	printf 'sysinfo\tservers\t%s\n' "${ALL_SERVERS[*]}"
	printf 'sysinfo\tkernel\t%s\n' "$(uname -r)"
	printf 'sysinfo\tcpu\t%s\n' "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	printf 'sysinfo\tncpu\t%s\n' "$NCPU"
	printf 'sysinfo\tfs\t%s\n' "$(df -T "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')"
	printf 'sysinfo\tsettings\t%s\n' "ROUNDS=$ROUNDS DURATION=${DURATION}s SLICE=${SLICE}s W4_DURATION=${W4_DURATION}s WORKLOADS=\"$WORKLOADS\" IDLE_CONNS=$IDLE_CONNS HOT_CONNS=$HOT_CONNS WRK_THREADS=$WRK_THREADS; servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; ulimit -n $NOFILE"
	printf 'sysinfo\twrk\t%s\n' "$(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')"
	printf 'sysinfo\tinotify_watches\t%s\n' "$(cat /proc/sys/fs/inotify/max_user_watches 2>/dev/null || echo '?')"
	printf 'sysinfo\tidle_conns\t%s\n' "$IDLE_CONNS"
	for s in "${ALL_SERVERS[@]}"; do printf 'version\t%s\t%s\n' "$s" "$(server_version "$s")"; done
	printf 'sysinfo\tdate\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	# What the servers said on stderr / in their error logs (warnings and errors).
	for s in "${ALL_SERVERS[@]}"; do
		for f in "$WORK/$s/stderr.log" "$WORK/$s/error.log"; do
			[[ -s $f ]] || continue
			grep -aiE "warn|error|crit|emerg|alert|can't|cannot|fail|abort|sanitizer|fault" "$f" |
				sed -E 's/^\[?[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}[ T][0-9:]+\]?:? *//' |
				sort | uniq -c | sort -rn | head -n 8 |
				awk -v s="$s" '{ n = $1; sub(/^ *[0-9]+ /, ""); printf "serverlog\t%s\t%d× %s\n", s, n, $0 }' || true
		done
	done
} >>"$RAW"

cp "$RAW" "$OUT_DIR/raw.tsv"
python3 "$SCRIPT_DIR/report.py" "$RAW" >"$OUT_DIR/results.md"
cat "$OUT_DIR/results.md"
log "saved $OUT_DIR/results.md and $OUT_DIR/raw.tsv (python3 bench/report.py $OUT_DIR/raw.tsv prints it again)"
