#!/usr/bin/env bash
# Runs inside a plain hack/vm guest (pure cgroup v2, every controller): the
# cgroup-related integration test binaries built on the host (tests/cgroup_v2.rs
# is the v2 one; ops and config_fields are layout-agnostic), then the
# conformance suite against tong (no unexpected failure) and runc (its
# expected list), then tests/vm/rootless-v2.sh (rootless tong with and
# without a delegated cgroup subtree). A test that skips without a reason fails (TONG_TEST_FULL=1).
#   cargo test --release --no-run --test cgroup_v2 --test ops --test config_fields \
#     --test mounts --test namespaces --test resources --test rootless
#   cargo build --release --workspace
#   hack/vm run --timeout 600 -e TONG_TEST_FULL=1 -- tests/vm/v2.sh [PROFILE]
# PROFILE: release (default, what hack/test builds) or debug.
set -uo pipefail
cd "$(dirname "$0")/../.."
profile=${1:-release}
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && ! grep -q ' cgroup ' /proc/mounts || {
	echo "v2.sh: not a pure cgroup v2 host"; exit 2; }
deps=$(dirname "$(hack/tong-path "$profile" tong)")/deps
export TONG_TEST_FULL=${TONG_TEST_FULL:-1}
rc=0
t00=$SECONDS
# The newest build of each test binary (cargo keeps old ones beside it).
newest() { ls -t "$deps"/"$1"-* 2>/dev/null | grep -v '\.d$' | head -1; }
# NAME FILTER...: the test binary NAME, only the tests matching FILTER
# (substring, as cargo test takes them; none = all).
run_tests() {
	local name=$1; shift
	local bin; bin=$(newest "$name")
	[ -x "$bin" ] || { echo "FAIL $name: no test binary in $deps (cargo test --$profile --no-run --test $name)"; rc=1; return; }
	local t0=$SECONDS filter
	if [ $# = 0 ]; then set -- ""; fi
	for filter in "$@"; do
		if ! "$bin" --test-threads=2 $filter 2>&1 | grep -Ev '^(test .* \.\.\. ok|running [0-9]+ tests?|)$'; then :; fi
		[ "${PIPESTATUS[0]}" = 0 ] || { echo "FAIL $name $filter"; rc=1; }
	done
	echo "---- $name: $((SECONDS - t0))s"
}
run_tests cgroup_v2
run_tests ops exec_cgroup_sub_path ps_ pause_ kill_all events_
# Layout-aware tests whose v2 branch only runs here (cgroup files, the cgroup
# namespace of `spec` and of rootless containers, the mounts a v2 host gives).
for t in config_fields mounts namespaces resources rootless; do run_tests $t; done
# crates/seccomp's NOTIFY round trip on the guest's older kernel (6.1 reports
# a notify fd's POLLHUP later than this host's 6.18).
run_tests notify
tong=$(hack/tong-path "$profile" tong)
conf=$(hack/tong-path "$profile" tong-conformance)
for rt in tong runc; do
	t0=$SECONDS
	bin=$tong; [ $rt = runc ] && bin=$(command -v runc)
	"$conf" --runtime "$bin" --jobs 2 --expected conformance/expected/$rt.txt >/tmp/conf-$rt.log 2>&1 || {
		echo "FAIL conformance $rt:"; grep -Ev '^(PASS|SKIP) ' /tmp/conf-$rt.log | tail -40; rc=1; }
	echo "---- conformance $rt: $(grep -c '^PASS ' /tmp/conf-$rt.log) passed, $(grep -c '^SKIP ' /tmp/conf-$rt.log) skipped, $((SECONDS - t0))s"
done
# Rootless on pure v2 (issue 19): tong as a throw-away user with a delegated
# cgroup subtree applies the limits; without delegation it makes no cgroup
# and refuses limits (~80 s in the guest).
t0=$SECONDS
if TONG=$tong tests/vm/rootless-v2.sh >/tmp/rootless-v2.log 2>&1; then
	grep -c '^ok ' /tmp/rootless-v2.log | sed 's/^/---- rootless-v2: /; s/$/ checks passed/'
else
	echo "FAIL rootless-v2:"; cat /tmp/rootless-v2.log; rc=1
fi
echo "---- rootless-v2: $((SECONDS - t0))s"
echo "---- v2.sh: $((SECONDS - t00))s"
[ $rc = 0 ] && echo "v2: all passed" || echo "v2: FAILED"
exit $rc
