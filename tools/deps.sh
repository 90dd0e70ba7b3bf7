#!/bin/sh
# Checks the Debian packages the build and tests need: installs them when
# run as root, else prints the exact apt-get line and fails.
# Usage: tools/deps.sh COMMAND:PACKAGE ... (a COMMAND starting with '/' is
# a file that must exist instead, e.g. /usr/include/zlib.h:zlib1g-dev)
missing=""
for pair in "$@"; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	case $cmd in
	/*) [ -e "$cmd" ] || missing="$missing $pkg" ;;
	*) command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg" ;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing:$missing"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing && exit 0
fi
echo "missing packages; run: apt-get install -y$missing" >&2
exit 1
