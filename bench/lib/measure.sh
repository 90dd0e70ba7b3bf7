# bench/lib/measure.sh — one wrk run, its server CPU, and the raw record.
# shellcheck shell=bash
#
# Raw measurements go to $RAW as tab-separated lines
#   WORKLOAD  SERVER  ROUND  KEY  VALUE
# which bench/report.py reads (ROUND is "r" or "r.slice"); arithmetic on
# them is left to report.py. Uses the globals of run.sh: SCRIPT_DIR WORK RAW
# CLIENT_CPU WRK_THREADS SIZE_1M SIZE_100M PID PORT.

# record W SERVER ROUND KEY VALUE
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RAW"; }

# wrk_run OUTFILE CONNS DURATION URL [env assignments...]: runs wrk on the
# client CPU with LUA_SCRIPT (default lua/bench.lua), whole output to OUTFILE.
wrk_run() {
	local out=$1 c=$2 d=$3 url=$4
	shift 4
	local t=$WRK_THREADS
	((t <= c)) || t=$c
	env "$@" taskset -c "$CLIENT_CPU" timeout -k 5 $((d + 60)) \
		wrk -t"$t" -c"$c" -d"${d}s" --timeout 10s --latency \
		-s "${LUA_SCRIPT:-$SCRIPT_DIR/lua/bench.lua}" "$url" >"$out" 2>&1 || true
}

# bench_field FILE KEY: a value from the BENCH line of a wrk output.
bench_field() {
	sed -n 's/^BENCH .*\b'"$2"'=\([0-9]*\).*/\1/p' "$1" | head -1
}

# measure W SERVER ROUND CONNS DURATION PATH PREFIX [env...]: one wrk run
# with the server's CPU counted around it (lib/cpu.sh). Records PREFIX +
# requests, duration_us, bytes, p99_us, errors, cpu_ns (for mthttpd also
# cpu_ns_workers, its event-loop threads' share), and units (what CPU
# per request divides by: requests, or for the big files the bytes received
# in whole files, since a run ends with responses half sent whose CPU is
# spent but which wrk does not count); cpu_ticked when a process had to be
# counted in ticks. If MEASURE_HOOK names a
# function, it is called with "before" and "after" just inside the CPU
# window (so what it counts spans a little less than the CPU does).
measure() {
	local w=$1 s=$2 r=$3 c=$4 d=$5 path=$6 pre=$7
	shift 7
	local out=$WORK/logs/w${w}_${s}_r${r}_${pre}wrk.txt
	local s0=$WORK/logs/cpu0 s1=$WORK/logs/cpu1
	local req dur p99 bytes errs k v cpu ticked cpu_workers units
	cpu_snapshot "${PID[$s]}" "$s0"
	[[ -z ${MEASURE_HOOK:-} ]] || "$MEASURE_HOOK" before
	wrk_run "$out" "$c" "$d" "http://127.0.0.1:${PORT[$s]}$path" "$@"
	[[ -z ${MEASURE_HOOK:-} ]] || "$MEASURE_HOOK" after
	cpu_snapshot "${PID[$s]}" "$s1"
	read -r cpu ticked cpu_workers < <(cpu_delta "$s0" "$s1" worker-)
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
	case $path in
	/file_1m.txt) units=$(awk -v b="$bytes" -v z="$SIZE_1M" 'BEGIN { printf "%.3f", b / z }') ;;
	/file_100m.txt) units=$(awk -v b="$bytes" -v z="$SIZE_100M" 'BEGIN { printf "%.3f", b / z }') ;;
	*) units=$req ;;
	esac
	record "$w" "$s" "$r" "${pre}requests" "$req"
	record "$w" "$s" "$r" "${pre}duration_us" "$dur"
	record "$w" "$s" "$r" "${pre}bytes" "$bytes"
	record "$w" "$s" "$r" "${pre}p99_us" "$p99"
	record "$w" "$s" "$r" "${pre}errors" "$errs"
	record "$w" "$s" "$r" "${pre}cpu_ns" "$cpu"
	record "$w" "$s" "$r" "${pre}units" "$units"
	((ticked == 0)) || record "$w" "$s" "$r" "${pre}cpu_ticked" "$ticked"
	[[ $s != mthttpd* ]] || record "$w" "$s" "$r" "${pre}cpu_ns_workers" "$cpu_workers"
	log "w$w $s round $r${pre:+ ($pre)}: $req requests in $((dur / 1000)) ms, p99 $p99 us," \
		"$(awk -v c="$cpu" -v n="$units" 'BEGIN { printf "%.2f", (n > 0 ? c / 1000 / n : 0) }') us CPU/req, $errs errors"
	return 0
}
