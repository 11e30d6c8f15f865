#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/NAME-fuzzer.c) with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer, and runs each for
# FUZZ_SECONDS (default 60) on a copy of its corpus, tests/fuzz/corpus/NAME
# (new inputs it finds stay in BUILDDIR/tests/fuzz/build/work/NAME; a crash
# leaves crash-* there and fails). `make fuzz` calls it:
#
#   fuzz.sh SRCDIR BUILDDIR "CFLAGS" "LIBS" LIBRARY_SOURCES...
#
# (the headers among the sources are skipped).
#
# FUZZ_SECONDS=0 only builds them. FUZZ_CC (default clang) must support
# -fsanitize=fuzzer: Debian's clang with libclang-rt-N-dev (contrib/setup.sh
# fuzz installs them).
# FUZZ_TARGETS (default all six) picks some.
set -u
srcdir=$1 builddir=$2 buildflags=$3 libs=$4
shift 4
# The build's CFLAGS carry the libraries' include folders; its warnings
# (for gcc) and sanitizers are not for this compiler.
cflags='-DORC_DATADIR="/usr/share/orchestrator"'
for f in $buildflags; do
	case "$f" in
	-W*|-fsanitize*|-fno-sanitize*) ;;
	*) cflags="$cflags $f" ;;
	esac
done
cc=${FUZZ_CC:-clang}
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-workflow schema template webhook script-json request}
out=$builddir/tests/fuzz/build
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
# The library's own include folders as -iquote, so that its headers never
# shadow a system header of the same name.
inc="-iquote $builddir -iquote $srcdir/orchestrator -iquote $srcdir/steps"

command -v "$cc" >/dev/null || {
	echo "fuzz: $cc is not installed (contrib/setup.sh fuzz)" >&2
	exit 1
}
mkdir -p "$out/obj" "$out/work"
printf 'int LLVMFuzzerTestOneInput(const char *d, long n) ' >"$out/probe.c"
printf '{ return 0; }\n' >>"$out/probe.c"
if ! "$cc" -fsanitize=fuzzer -o "$out/probe" "$out/probe.c" 2>/dev/null; then
	echo "fuzz: $cc cannot link -fsanitize=fuzzer" \
	    "(libclang-rt missing?)" >&2
	rm -f "$out/probe.c"
	exit 1
fi
rm -f "$out/probe.c" "$out/probe"

# The library, instrumented for coverage, once.
objs=()
for f in "$@"; do
	case "$f" in *.c) ;; *) continue ;; esac
	o=$out/obj/$(echo "$f" | tr / _).o
	objs+=("$o")
	[ "$o" -nt "$srcdir/$f" ] && continue
	"$cc" -g -O1 -DHAVE_CONFIG_H $inc $san -fsanitize=fuzzer-no-link \
	    $cflags -c -o "$o" "$srcdir/$f" || exit 1
done
rm -f "$out/libfuzz.a"
ar rcs "$out/libfuzz.a" "${objs[@]}" || exit 1

rc=0
for t in $targets; do
	bin=$out/$t-fuzzer
	"$cc" -g -O1 -DHAVE_CONFIG_H $inc $san -fsanitize=fuzzer $cflags \
	    -o "$bin" "$srcdir/tests/fuzz/$t-fuzzer.c" "$out/libfuzz.a" \
	    $libs || exit 1
	[ "$secs" = 0 ] && continue
	work=$out/work/$t
	mkdir -p "$work"
	echo "fuzz: $t for $secs s"
	( cd "$work" && ASAN_OPTIONS=detect_leaks=1 "$bin" \
	    -max_total_time="$secs" -max_len=65536 -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 . \
	    "$srcdir/tests/fuzz/corpus/$t" \
	    >"$out/$t.log" 2>&1 )
	r=$?
	tail -n 12 "$out/$t.log" | grep -E 'stat::|Done|ERROR|SUMMARY'
	if [ $r -ne 0 ]; then
		echo "fuzz: $t FAILED (exit $r); see $out/$t.log and" \
		    "the crash-* file in $work"
		rc=1
	fi
done
exit $rc
