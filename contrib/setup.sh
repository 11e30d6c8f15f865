#!/usr/bin/env bash
# Sets up a Debian machine to build and test the orchestrator, then builds.
#
#   contrib/setup.sh            install what is missing, build
#   contrib/setup.sh run        ... then serve the example workflows on 127.0.0.1:8080
#   contrib/setup.sh check      ... then run the whole test suite
#   contrib/setup.sh asan       ... build with ASan+UBSan in build-asan/, run the suite
#   contrib/setup.sh bench      ... also install wrk, then run the benchmark (make bench)
#   contrib/setup.sh fuzz       ... also install clang and libFuzzer, then make fuzz
#
# Packages are installed with apt-get only when missing; nothing else is
# downloaded but s3rver from npm (for the S3 test, when npm is there). The
# build happens in the source tree (or build-asan/).
set -euo pipefail

cd "$(dirname "$0")/.."
top=$(pwd)

# Build and test dependencies, by Debian package name.
packages=(build-essential autoconf automake libtool pkg-config
	libevent-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev
	liblua5.4-dev libssl-dev libncurses-dev libseccomp-dev zlib1g-dev
	valgrind sqlite3 curl python3
	tmux
	# The daemon's allocator (configure --without-jemalloc does without).
	libjemalloc-dev
	# The PostgreSQL store: libpq to build it, the server for its tests
	# (they start a throwaway cluster of their own).
	libpq-dev postgresql)
# The benchmark's load generator, only for "bench".
[ "${1:-}" = bench ] && packages+=(wrk)
# clang with libFuzzer's runtime, only for "fuzz".
[ "${1:-}" = fuzz ] && packages+=(clang-14 libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends "${missing[@]}"
fi

# s3rver (npm), an S3 server the S3 test also runs against, into
# tests/.npm; only when node and npm are there and it is missing.
if command -v npm >/dev/null && command -v node >/dev/null &&
    [ ! -x "$top/tests/.npm/node_modules/.bin/s3rver" ]; then
	echo "setup: installing s3rver into tests/.npm"
	npm install --silent --no-audit --no-fund --prefix "$top/tests/.npm" \
	    s3rver@3 || echo "setup: s3rver not installed" \
	    "(tests/integration/s3.sh uses its own server)"
fi

jobs=$(nproc 2>/dev/null || echo 2)

build_tree() {	# build_tree DIR [configure args...]
	local dir=$1; shift
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
	mkdir -p "$dir"
	cd "$dir"
	if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ]; then
		"$top/configure" -q "$@"
	fi
	make -s -j"$jobs"
}

case "${1:-build}" in
build)
	build_tree "$top"
	;;
run)
	build_tree "$top"
	echo "setup: serving workflows/ on ${ORCH_LISTEN:-127.0.0.1:8080}" \
	    "with ./orchestrator.db (Ctrl-C stops)"
	exec ./orchestrator/orchestrator serve --workflows workflows
	;;
check)
	build_tree "$top"
	make -s -j"$jobs" check
	;;
asan)
	# A separate tree: the source tree must stay unconfigured for VPATH,
	# so the sanitizer build copies the sources.
	rm -rf "$top/build-asan"
	mkdir -p "$top/build-asan"
	git -C "$top" ls-files -z | (cd "$top" && xargs -0 cp --parents -t build-asan)
	cd "$top/build-asan"
	autoreconf -fi >/dev/null 2>&1
	./configure -q --enable-asan
	make -s -j"$jobs"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		make -s -j"$jobs" check
	;;
bench)
	build_tree "$top"
	make -s bench
	;;
fuzz)
	build_tree "$top"
	make -s fuzz FUZZ_CC=clang-14
	;;
*)
	echo "usage: contrib/setup.sh [build|run|check|asan|bench|fuzz]" >&2
	exit 2
	;;
esac
