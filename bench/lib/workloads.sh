# bench/lib/workloads.sh — the workloads: each function runs one workload's
# share of one round against the servers given and writes raw records.
# shellcheck shell=bash
#
# Uses the globals of run.sh (see there) and lib/measure.sh's measure.

UPLOAD_ENV=() # set by run.sh once UPLOAD_BODY exists

# --------------------------------------------------------- sliced workloads --
# The cheapest workloads per request are the ones the machine's drifts
# weigh most on: each server's DURATION per round is cut into slices of
# SLICE seconds run in turn (A B C D, B C D A, ...), so a slow spell of the
# machine falls on every server alike; each slice is one sample of the
# medians.
#
# run_sliced W ROUND SERVER...: the servers in the round's order.
run_sliced() {
	local w=$1 r=$2
	shift 2
	local -a order=("$@")
	local n=${#order[@]} k i s
	for ((k = 0; k < DURATION / SLICE; k++)); do
		for ((i = 0; i < n; i++)); do
			s=${order[$(((i + k) % n))]}
			alive_or_mark "$s" || continue
			case $w in
			1 | threads) measure "$w" "$s" "$r.$k" 64 "$SLICE" /index.html "" || true ;;
			2) measure 2 "$s" "$r.$k" 64 "$SLICE" /index.html "" WRK_CLOSE=1 || true ;;
			gzip)
				gzip_check "$s" "$r"
				measure gzip "$s" "$r.$k" 64 "$SLICE" /page20k.html "" "WRK_ACCEPT_ENCODING=gzip, br" || true
				measure gzip "$s" "$r.$k" 64 "$SLICE" /page20k.html id_ || true
				;;
			files*)
				tree_ok "$w" "$s" || continue
				LUA_SCRIPT=$SCRIPT_DIR/lua/random_paths.lua \
					measure "$w" "$s" "$r.$k" 64 "$SLICE" / "" "WRK_PATHS=$WORK/paths_$w.txt" || true
				;;
			esac
		done
	done
}

# ------------------------------------------------------- workload gzip --
# Issue 16: the 20 KiB page with "Accept-Encoding: gzip, br" (and, prefix
# id_, without: the identity figure of the same page). gzip_check records
# once per server and round what it sends: the coding (0 identity, 1 gzip,
# 2 br) and the body's bytes; wrk's bytes / requests give the bytes on the
# wire per response, head included.
declare -A GZIP_CHECKED=()
gzip_check() { # server round
	local s=$1 r=$2 out enc code size
	[[ -z ${GZIP_CHECKED[$s.$r]:-} ]] || return 0
	GZIP_CHECKED[$s.$r]=1
	out=$(curl -s --noproxy '*' -o /dev/null -m 10 -H 'Accept-Encoding: gzip, br' \
		-w '%{http_code} %{size_download} %header{content-encoding}' \
		"http://127.0.0.1:${PORT[$s]}/page20k.html" 2>/dev/null) || out="000 0"
	read -r code size enc <<<"$out"
	case $enc in gzip) enc=1 ;; br) enc=2 ;; *) enc=0 ;; esac
	record gzip "$s" "$r" check_status "$code"
	record gzip "$s" "$r" body_bytes "$size"
	record gzip "$s" "$r" coding "$enc"
}

# ------------------------------------------------------ file-tree workloads --
# files1k, files20k, files200k: NFILES pages of 2 KiB in NDIRS directories.
tree_shape() { # workload -> "NFILES NDIRS"
	case $1 in
	files1k) echo "1000 5" ;;
	files20k) echo "20000 100" ;;
	files200k) echo "200000 2000" ;;
	*) return 1 ;;
	esac
}

# make_tree W: the tree under ROOT/W and its path list, once per run.
make_tree() {
	local w=$1 shape t0
	shape=$(tree_shape "$w")
	t0=$SECONDS
	log "$w: generating ${shape% *} files in ${shape#* } directories"
	# shellcheck disable=SC2086 # two numbers
	python3 "$SCRIPT_DIR/gen.py" tree "$ROOT/$w" $shape "/$w" "$WORK/paths_$w.txt" >/dev/null ||
		die "cannot generate the tree of $w"
	sync -f "$ROOT" 2>/dev/null || sync # its write-back out of the runs
	log "$w: ready in $((SECONDS - t0)) s"
}

declare -A TREE_CHECKED=()
# tree_ok W SERVER: the server serves the tree (its first and last page are
# 200 with 2,048 bytes); checked once, a failure recorded and the server
# left out of this workload only.
tree_ok() {
	local w=$1 s=$2 first last r p
	if [[ -z ${TREE_CHECKED[$w.$s]:-} ]]; then
		first=$(head -1 "$WORK/paths_$w.txt")
		last=$(tail -1 "$WORK/paths_$w.txt")
		TREE_CHECKED[$w.$s]=ok
		for p in "$first" "$last"; do
			r=$(http_code "http://127.0.0.1:${PORT[$s]}$p")
			if [[ $r != "200 2048" ]]; then
				TREE_CHECKED[$w.$s]=bad
				printf 'dead\t%s\t%s\n' "$s" "$w: GET $p -> $r; left out of $w" >>"$RAW"
				log "$s: GET $p -> $r; left out of $w"
			fi
		done
	fi
	[[ ${TREE_CHECKED[$w.$s]} == ok ]]
}

# warm_tree W SERVER: random GETs over the tree, not recorded, for 1 s per
# 15,000 files (at least 1 s; 13 s for files200k): about two requests per
# file at these rates, so that a server's file cache is measured full, in
# its steady state, not while it fills. The same for every server.
warm_tree() {
	tree_ok "$1" "$2" || return 0
	local shape d
	shape=$(tree_shape "$1")
	d=$((${shape% *} / 15000))
	((d >= 1)) || d=1
	LUA_SCRIPT=$SCRIPT_DIR/lua/random_paths.lua \
		wrk_run "$WORK/logs/warmup_$1_$2.txt" 64 "$d" "http://127.0.0.1:${PORT[$2]}/" "WRK_PATHS=$WORK/paths_$1.txt"
}

# ------------------------------------------------- workload 5: idle conns --
# Workload 1 without, then with IDLE_CONNS idle keep-alive connections held
# by bench/idle_conns.py.
run_idle() { # server round
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

# ------------------------------------------------------ upload workloads --
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
	local r=$1 out ops
	settle_disk
	out=$(taskset -c "$SERVER_CPU" timeout -k 5 $((DURATION + 60)) "$PROBE" "$UPLOADS" 32 "$DURATION" 200 2>&1) || true
	ops=$(sed -n 's/.*ops_per_s=\([0-9.]*\).*/\1/p' <<<"$out")
	if [[ -z $ops ]]; then
		log "fsync probe failed: $out"
		return 0
	fi
	record 6 disk "$r" probe_ops_s "$ops"
	record 6 disk "$r" probe_cpu_us_op "$(sed -n 's/.*cpu_us_per_op=\([0-9.]*\).*/\1/p' <<<"$out")"
	log "w6 disk limit (32 threads create+write+fsync+rename+fsync dir): $ops ops/s"
}

# Workload 6: the uploads, bracketed by two probe runs (the disk is shared
# and its speed drifts; report.py takes each round's ratio against the mean
# of the two).
run_w6() { # round
	local r=$1 n0 n1
	run_probe "$r"
	if alive_or_mark mthttpd; then
		settle_disk
		n0=$(count_uploads)
		if measure 6 mthttpd "$r" 32 "$DURATION" /upload "" "${UPLOAD_ENV[@]}"; then
			sleep 0.5
			n1=$(count_uploads)
			record 6 mthttpd "$r" stored $((n1 - n0))
			record 6 mthttpd "$r" tmp_left "$(count_tmp)"
		fi
	fi
	run_probe "$r"
}

# bg_uploads_start OUT SECONDS: 32 uploading connections in the background
# against mthttpd; bg_uploads_wait: until they end.
bg_uploads_start() {
	wrk_run "$1" 32 "$2" "http://127.0.0.1:${PORT[mthttpd]}/upload" "${UPLOAD_ENV[@]}" &
	BG_PIDS+=($!)
	sleep 1 # the uploads are in full swing before the measured run starts
}
bg_uploads_wait() {
	wait "${BG_PIDS[-1]}" 2>/dev/null || true
	unset 'BG_PIDS[-1]'
}
record_bg_uploads() { # w round file
	local f=$3
	[[ -n $(bench_field "$f" requests) ]] || return 0
	record "$1" mthttpd "$2" bg_requests "$(bench_field "$f" requests)"
	record "$1" mthttpd "$2" bg_duration_us "$(bench_field "$f" duration_us)"
	record "$1" mthttpd "$2" bg_p99_us "$(bench_field "$f" p99_us)"
}

# Workload 7: GETs with 8 connections, alone, then while 32 connections
# upload.
run_w7() { # round
	local r=$1 up=$WORK/logs/w7_r$1_uploads_wrk.txt
	alive_or_mark mthttpd || return 0
	measure 7 mthttpd "$r" 8 "$DURATION" /index.html alone_ || return 0
	alive_or_mark mthttpd || return 0
	settle_disk
	bg_uploads_start "$up" $((DURATION + 2))
	measure 7 mthttpd "$r" 8 "$DURATION" /index.html during_ || true
	bg_uploads_wait
	record_bg_uploads 7 "$r" "$up"
}

# Workload hotup (issue 17): a hot page's GET cost and p99 with and without
# uploads running at full speed, mthttpd only. Three runs a round: the GETs
# alone; the uploads alone (their CPU per upload); the GETs while the
# uploads run. The GETs' share of the third run's CPU is the whole minus
# the uploads completed in its window times the second run's CPU per
# upload.
HOTUP_N0=0 HOTUP_N1=0
hotup_hook() { # before|after: uploads stored so far, at the CPU window's edges
	if [[ $1 == before ]]; then HOTUP_N0=$(count_uploads); else HOTUP_N1=$(count_uploads); fi
}
run_hotup() { # round
	local r=$1 up=$WORK/logs/whotup_r$1_uploads_wrk.txt n0 n1
	alive_or_mark mthttpd || return 0
	measure hotup mthttpd "$r" "$HOT_CONNS" "$DURATION" /index.html alone_ || return 0
	alive_or_mark mthttpd || return 0
	settle_disk
	n0=$(count_uploads)
	measure hotup mthttpd "$r" 32 "$DURATION" /upload up_ "${UPLOAD_ENV[@]}" || return 0
	sleep 0.5
	n1=$(count_uploads)
	record hotup mthttpd "$r" up_stored $((n1 - n0))
	alive_or_mark mthttpd || return 0
	settle_disk
	bg_uploads_start "$up" $((DURATION + 2))
	if MEASURE_HOOK=hotup_hook measure hotup mthttpd "$r" "$HOT_CONNS" "$DURATION" /index.html during_; then
		record hotup mthttpd "$r" during_uploads $((HOTUP_N1 - HOTUP_N0))
	fi
	bg_uploads_wait
	record_bg_uploads hotup "$r" "$up"
	record hotup mthttpd "$r" tmp_left "$(count_tmp)"
}
