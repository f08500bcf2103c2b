#!/usr/bin/env bash
# Runs inside a hack/vm guest (as root): a busybox container with tong and with
# runc on the guest's pure cgroup v2; in the systemd guest also runc with the
# systemd cgroup driver (a transient runc-test.scope with MemoryMax), and what
# tong does with --systemd-cgroup (reported, not asserted: issue 15 adds it).
# Usage: hack/vm run [--systemd] -- tests/vm/containers.sh
# Needs `cargo build --release --workspace` first (hack/tong-path release tong).
set -uo pipefail
cd "$(dirname "$0")/../.."
tong=$(hack/tong-path release tong)
runc=$(command -v runc)
work=$(mktemp -d /tmp/containers.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
systemd=0; [ "$(cat /proc/1/comm)" = systemd ] && systemd=1

# A container that says where it runs: its cgroup file system and its cgroup.
hack/mkbundle "$work/bundle" --args 'sh -c "grep \" /sys/fs/cgroup \" /proc/mounts; cat /proc/self/cgroup; echo hello"' >/dev/null

# run_busybox NAME RUNTIME [GLOBAL FLAGS...]: run the bundle, check its output.
run_busybox() {
	local name=$1 rt=$2; shift 2
	local id="vmtest-$name-$$" out
	out=$(cd "$work/bundle" && "$rt" --root "$work/state-$name" "$@" run "$id" 2>&1)
	local rc=$?
	if [ $rc -eq 0 ] && grep -q '^hello$' <<<"$out" && grep -q ' /sys/fs/cgroup cgroup2 ' <<<"$out"; then
		ok "$name: busybox container on cgroup v2 ($(grep '^0::' <<<"$out"))"
	else
		fail "$name: busybox container (exit $rc): $out"
	fi
	"$rt" --root "$work/state-$name" "$@" delete --force "$id" >/dev/null 2>&1
}

run_busybox tong "$tong"
run_busybox runc "$runc"

if [ $systemd = 1 ]; then
	# runc's systemd driver: cgroupsPath slice:prefix:name, limits as unit properties.
	python3 - "$work/bundle/config.json" <<-'EOF'
	import json, sys
	p = sys.argv[1]
	c = json.load(open(p))
	c["process"]["args"] = ["sleep", "600"]
	c["linux"]["cgroupsPath"] = "system.slice:runc:test"
	c["linux"].setdefault("resources", {})["memory"] = {"limit": 64 * 1024 * 1024}
	json.dump(c, open(p, "w"))
	EOF
	id=vmtest-sd-$$
	if (cd "$work/bundle" && runc --root "$work/state-sd" --systemd-cgroup run -d "$id" </dev/null >/dev/null 2>"$work/err"); then
		state=$(systemctl show runc-test.scope -p ActiveState --value)
		max=$(systemctl show runc-test.scope -p MemoryMax --value)
		file=$(cat /sys/fs/cgroup/system.slice/runc-test.scope/memory.max 2>&1)
		if [ "$state" = active ] && [ "$max" = 67108864 ] && [ "$file" = 67108864 ]; then
			ok "runc --systemd-cgroup: runc-test.scope active, MemoryMax=$max, memory.max=$file"
		else
			fail "runc --systemd-cgroup: scope state=$state MemoryMax=$max memory.max=$file"
		fi
		runc --root "$work/state-sd" --systemd-cgroup delete --force "$id"
		if systemctl is-active -q runc-test.scope; then fail "runc delete left runc-test.scope"; else ok "runc delete stopped the scope"; fi
	else
		fail "runc --systemd-cgroup run: $(cat "$work/err")"
	fi
	# tong: report what it does today.
	id=vmtest-tongsd-$$
	(cd "$work/bundle" && "$tong" --root "$work/state-tsd" --systemd-cgroup run -d "$id" </dev/null >"$work/out" 2>&1)
	rc=$?
	echo "info tong --systemd-cgroup run (cgroupsPath system.slice:runc:test): exit $rc: $(cat "$work/out")"
	if [ $rc -eq 0 ]; then
		echo "info   scope: $(systemctl show runc-test.scope -p ActiveState -p MemoryMax 2>&1 | tr '\n' ' ')"
		"$tong" --root "$work/state-tsd" --systemd-cgroup delete --force "$id" 2>&1
	fi
fi
echo
if [ $fails -eq 0 ]; then echo "containers: all passed"; else echo "containers: $fails failed"; fi
[ $fails -eq 0 ]
