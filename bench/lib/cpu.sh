# bench/lib/cpu.sh — server CPU time, the one way run.sh and ab.sh count it.
# shellcheck shell=bash
#
# CPU time is the run time the scheduler charged each thread: the first
# field of /proc/PID/task/TID/schedstat, in nanoseconds (user + system,
# steal time excluded), summed over every thread of every process in the
# server's tree (nginx master and worker; mthttpd's workers and I/O pool).
# /proc/PID/schedstat alone covers only a process's main thread, hence the
# per-task sum. The tick counts of /proc/PID/stat (utime, stime) resolve
# only 10 ms, ~1 % of a 1-second slice of workload 1.
#
# A thread that exits takes its schedstat with it, and /proc offers no
# nanosecond total that keeps it. So a run is a snapshot before and one
# after (cpu_snapshot), compared thread by thread (cpu_delta): a thread
# born during the run counts from zero. Each process's utime + stime ticks,
# which the kernel keeps for exited threads too, check the sum: when a
# thread of the first snapshot is gone, or the ticks grew by more than the
# threads' nanoseconds plus 3 ticks of rounding (a thread born and gone
# within the run), that process is counted in ticks instead, and the delta
# says how many processes were, so the caller can flag the run.
# Needs tree_pids from lib/proc.sh.

CPU_CLK_TCK=$(getconf CLK_TCK)

# cpu_snapshot PID FILE: writes one line per thread, "T pid tid ns comm",
# and one per process, "P pid ticks" (utime + stime of all its threads, live
# and exited), for the tree under PID. Builtins only inside the loops: a
# snapshot costs the client CPU little, and a thread that exits meanwhile
# is just left out.
cpu_snapshot() {
	local p t ns comm line rest
	local -a f
	{
		for p in $(tree_pids "$1"); do
			for t in /proc/"$p"/task/*; do
				read -r ns _ <"$t/schedstat" 2>/dev/null || continue
				read -r comm <"$t/comm" 2>/dev/null || comm='?'
				echo "T $p ${t##*/} $ns $comm"
			done
			line=$(<"/proc/$p/stat") 2>/dev/null || continue
			rest=${line##*) } # fields from 3 (state) on; comm may hold spaces
			read -r -a f <<<"$rest"
			echo "P $p $((f[11] + f[12]))"
		done
	} >"$2"
}

# cpu_delta SNAP0 SNAP1 [COMM_PREFIX]: prints "NS TICKED PART": the tree's
# CPU time between the two snapshots in nanoseconds; how many of its
# processes had a thread exit and were counted in ticks (0 when all were in
# nanoseconds); and the nanoseconds of the threads whose name starts with
# COMM_PREFIX (mthttpd's event loops are "worker-N"), from the threads
# alone (0 without a prefix).
cpu_delta() {
	awk -v hz="$CPU_CLK_TCK" -v want="${3:-}" '
		FNR == NR {
			if ($1 == "T") t0[$2 " " $3] = $4
			else if ($1 == "P") p0[$2] = $3
			next
		}
		$1 == "T" { t1[$2 " " $3] = $4; comm[$2 " " $3] = $5 }
		$1 == "P" { p1[$2] = $3 }
		END {
			for (k in t1) {
				split(k, a, " ")
				d = t1[k] - (k in t0 ? t0[k] : 0)
				live[a[1]] += d
				if (want != "" && index(comm[k], want) == 1) part += d
			}
			for (k in t0) if (!(k in t1)) {
				split(k, a, " ")
				gone[a[1]] = 1
			}
			for (p in p1) {
				tick = (p1[p] - (p in p0 ? p0[p] : 0)) * 1e9 / hz
				if ((p in p0 && gone[p]) || tick > live[p] + 3 * 1e9 / hz) {
					ns += tick; ticked++
				} else {
					ns += live[p]
				}
			}
			printf "%.0f %d %.0f\n", ns, ticked, part
		}' "$1" "$2"
}

# cpu_ns PID: the tree's CPU time so far, in nanoseconds (live threads only;
# for one-off readings, a run is measured with cpu_snapshot/cpu_delta).
cpu_ns() {
	local f
	f=$(mktemp)
	cpu_snapshot "$1" "$f"
	awk '$1 == "T" { s += $4 } END { printf "%.0f\n", s }' "$f"
	rm -f "$f"
}
