# bench/lib/servers.sh — configure, start, check and stop the servers.
# shellcheck shell=bash disable=SC2004 # PID, PORT, DEAD: associative arrays of run.sh
#
# Uses the globals of run.sh: SCRIPT_DIR WORK ROOT RAW NOFILE MAXCONN
# SERVER_CPU MTHTTPD_BIN UPLOAD_BODY SIZE_SMALL SIZE_1M SIZE_100M and the
# arrays PID PORT DEAD. Server names: mthttpd (--threads 1), mthttpd-default
# (its default thread count; only for the threads workload), nginx, h2o,
# lighttpd.

# render TEMPLATE OUT NAME=VALUE...: OUT is TEMPLATE with every @NAME@
# replaced by VALUE; a placeholder left over is an error.
render() {
	local in=$1 out=$2 kv name val
	shift 2
	local -a expr=()
	for kv in "$@"; do
		name=${kv%%=*}
		val=${kv#*=}
		val=${val//\\/\\\\}
		val=${val//|/\\|}
		val=${val//&/\\&}
		expr+=(-e "s|@${name}@|${val}|g")
	done
	sed "${expr[@]}" "$in" >"$out"
	if grep -q '@[A-Z_]*@' "$out"; then
		die "render: $in: placeholders left: $(grep -o '@[A-Z_]*@' "$out" | sort -u | tr '\n' ' ')"
	fi
}

# server_cmd NAME DIR PORT: sets CMD to the argv that runs the server in the
# foreground.
server_cmd() {
	local s=$1 d=$2 p=$3
	case $s in
	nginx) CMD=(nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf") ;;
	h2o) CMD=(h2o -m worker -c "$d/h2o.conf") ;;
	lighttpd) CMD=(lighttpd -D -f "$d/lighttpd.conf") ;;
	mthttpd | mthttpd-default)
		# --max-conns/--keepalive-timeout: room for workload 5's idle set,
		# the same as the other servers get.
		CMD=("$MTHTTPD_BIN" --port "$p" --host 127.0.0.1 --root "$ROOT"
			--access-log off --keepalive-max 1000000
			--keepalive-timeout 300 --max-conns "$MAXCONN" -q)
		# Two servers cannot share an uploads directory (it is locked).
		if [[ $s == mthttpd ]]; then
			CMD+=(--threads 1 --uploads "$UPLOADS")
		else
			CMD+=(--uploads "$d/uploads")
		fi
		# MTHTTPD_WATCHES=N: mthttpd in a user namespace of its own whose
		# inotify watch limit is N (issue 17 item 5: the cost of serving
		# past the limit; 1 watches the root only, so nothing is cached).
		if [[ -n ${MTHTTPD_WATCHES:-} ]]; then
			CMD=(unshare --user --map-root-user sh -c
				'echo "$0" >/proc/sys/user/max_inotify_watches && exec "$@"'
				"$MTHTTPD_WATCHES" "${CMD[@]}")
		fi
		;;
	esac
}

server_version() {
	case $1 in
	nginx) nginx -v 2>&1 | head -1 ;;
	h2o) h2o --version 2>&1 | head -1 ;;
	lighttpd) lighttpd -v 2>&1 | head -1 ;;
	mthttpd) "$MTHTTPD_BIN" --version 2>&1 | head -1 ;;
	mthttpd-default) echo "$("$MTHTTPD_BIN" --version 2>&1 | head -1), default --threads" ;;
	esac
}

http_code() { # url [curl args...]
	local url=$1
	shift
	curl -s --noproxy '*' -o /dev/null -m 10 -w '%{http_code} %{size_download}' "$@" "$url" 2>/dev/null || echo "000 0"
}

start_server() { # name
	local s=$1 d=$WORK/$1 p
	mkdir -p "$d"
	chmod 777 "$d" # h2o writes its pid file after dropping to nobody
	p=$(free_port)
	local -a vars=("DIR=$d" "PORT=$p" "ROOT=$ROOT" "NOFILE=$NOFILE" "MAXCONN=$MAXCONN")
	case $s in
	nginx) mkdir -p "$d/tmp" && render "$SCRIPT_DIR/conf/nginx.conf.in" "$d/nginx.conf" "${vars[@]}" ;;
	h2o) render "$SCRIPT_DIR/conf/h2o.conf.in" "$d/h2o.conf" "${vars[@]}" ;;
	lighttpd) mkdir -p "$d/deflate" && render "$SCRIPT_DIR/conf/lighttpd.conf.in" "$d/lighttpd.conf" "${vars[@]}" ;;
	esac
	server_cmd "$s" "$d" "$p"
	echo "${CMD[*]}" >"$d/command"
	# exec: $! is the server itself, not a subshell waiting for it.
	(exec taskset -c "$SERVER_CPU" "${CMD[@]}") >"$d/stdout.log" 2>"$d/stderr.log" </dev/null &
	PID[$s]=$!
	PORT[$s]=$p
	local code
	for _ in $(seq 1 100); do
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

# stop_server NAME: TERM, up to 5 s, then KILL for the whole tree.
stop_server() {
	local p=${PID[$1]:-} tree
	[[ -n $p ]] || return 0
	tree=$(tree_pids "$p" 2>/dev/null || true)
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	for p in $tree; do kill -KILL "$p" 2>/dev/null || true; done
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
		[[ $s == mthttpd* ]] || [[ $rc != 0 ]] || how="exit status 0"
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
	if [[ $s == mthttpd* ]]; then
		r=$(http_code "$base/upload" -X POST -H 'Content-Type: application/json' --data-binary "@$UPLOAD_BODY")
		[[ ${r%% *} == 201 ]] || { echo "POST /upload -> $r" >"$WORK/$s/check.err"; return 1; }
	fi
	return 0
}

alive_or_mark() { # name: 0 if usable for the next run
	local s=$1
	[[ -n ${PID[$s]:-} ]] || return 1
	[[ -z ${DEAD[$s]:-} ]] || return 1
	if ! check_server "$s"; then
		mark_dead "$s" "failed its health check before a run ($(cat "$WORK/$s/check.err" 2>/dev/null))"
		return 1
	fi
	return 0
}
