#!/bin/sh
# Runs every unit test program in $UNIT_DIR, then the integration suite
# against $MTHTTPD_BIN, and prints the sum as "N passed, N failed".
set -u
passed=0
failed=0
tally() { # $1: the output file of one suite
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "   (no summary line: counted as 1 failure)"
		failed=$((failed + 1))
		return
	fi
	p=${line%% passed*}
	f=${line#*passed, }; f=${f%% failed*}
	passed=$((passed + p))
	failed=$((failed + f))
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Structure: no include upwards between layers, no function over 150 lines.
for lint in tools/layers.py tools/fnlen.py; do
	echo "== lint: $lint"
	if python3 "$lint"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
for t in "$UNIT_DIR"/test_*; do
	[ -x "$t" ] || continue
	echo "== unit: $(basename "$t")"
	"$t" >"$out" 2>&1
	rc=$?
	tail -n 30 "$out"
	tally "$out"
	[ $rc -ne 0 ] && grep -qE '^[0-9]+ passed, 0 failed' "$out" && failed=$((failed + 1))
done
echo "== integration"
python3 tests/integration/run.py 2>&1 | tee "$out"
tally "$out"
echo "== total"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
