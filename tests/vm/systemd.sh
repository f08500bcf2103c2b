#!/usr/bin/env bash
# Runs inside `hack/vm run --systemd` (systemd as PID 1, pure cgroup v2):
# tong's systemd cgroup driver (--systemd-cgroup), checked from the host side
# (systemctl show, the scope's cgroup files, nothing left after delete), and
# the same with runc as the oracle where it applies; rootless, through a
# user's systemd instance (tests/vm/rootless-systemd.sh).
# Usage: hack/vm run --systemd --timeout 600 -- tests/vm/systemd.sh
# TONG_PROFILE=debug to use the debug build (default: release);
# TONG_TEST_SYSTEMD_CLIENTS=0|1|full: the clients (Podman, containerd, Docker)
# with their systemd cgroup drivers: none, tong (default), tong and runc.
set -uo pipefail
cd "$(dirname "$0")/../.."
tong=$(hack/tong-path "${TONG_PROFILE:-release}" tong)
[ "$(cat /proc/1/comm)" = systemd ] || { echo "systemd.sh: needs systemd as PID 1 (hack/vm run --systemd)"; exit 1; }
work=$(mktemp -d /tmp/systemd-sh.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
# expect WHAT WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1 = $3"; else fail "$1: want '$2', got '$3'"; fi; }
prop() { systemctl show "$1" -p "$2" --value 2>&1; }
gone() { # UNIT DIR: no unit listed, no cgroup directory (systemd GCs within a moment)
	local i
	for i in $(seq 50); do
		systemctl list-units --all --no-legend "$1" | grep -q . || { [ -d "$2" ] || return 0; }
		sleep 0.1
	done
	return 1
}

hack/mkbundle "$work/bundle" --args 'sleep 600' >/dev/null
# config.json with cgroupsPath $1 and limits
mkcfg() {
	python3 - "$work/bundle/config.json" "$1" <<-'PY'
	import json, sys
	p, cp = sys.argv[1], sys.argv[2]
	c = json.load(open(p))
	c["linux"]["cgroupsPath"] = cp
	c["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "cpu": {"shares": 512, "quota": 50000, "period": 100000},
	                           "pids": {"limit": 77}}
	json.dump(c, open(p, "w"))
	PY
}

# lifecycle RT NAME CGROUPSPATH UNIT SLICEDIR
lifecycle() {
	local rt=$1 name=$2 cp=$3 unit=$4 dir=/sys/fs/cgroup/$5/$4 id="sd-$2-$$"
	local R=("$rt" --root "$work/state-$name" --systemd-cgroup)
	mkcfg "$cp"
	local t0=$SECONDS
	if ! (cd "$work/bundle" && "${R[@]}" create "$id" </dev/null >"$work/out" 2>&1); then
		fail "$name: create: $(cat "$work/out")"; return
	fi
	ok "$name: create ($((SECONDS - t0)) s)"
	expect "$name: $unit ActiveState" active "$(prop "$unit" ActiveState)"
	expect "$name: Delegate" yes "$(prop "$unit" Delegate)"
	expect "$name: MemoryMax" 67108864 "$(prop "$unit" MemoryMax)"
	expect "$name: TasksMax" 77 "$(prop "$unit" TasksMax)"
	expect "$name: CPUQuotaPerSecUSec" 500ms "$(prop "$unit" CPUQuotaPerSecUSec)"
	expect "$name: memory.max" 67108864 "$(cat "$dir/memory.max" 2>&1)"
	expect "$name: pids.max" 77 "$(cat "$dir/pids.max" 2>&1)"
	expect "$name: cpu.max" "50000 100000" "$(cat "$dir/cpu.max" 2>&1)"
	local pid; pid=$("${R[@]}" state "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	expect "$name: init's cgroup" "0::/$5/$unit" "$(cat /proc/$pid/cgroup)"
	"${R[@]}" start "$id" || fail "$name: start"
	"${R[@]}" exec "$id" true || fail "$name: exec"
	expect "$name: ps --format json" "[$pid]" "$("${R[@]}" ps --format json "$id" | tr -d ' ')"
	"${R[@]}" pause "$id" || fail "$name: pause"
	expect "$name: paused cgroup.freeze" 1 "$(cat "$dir/cgroup.freeze" 2>&1)"
	expect "$name: status paused" paused "$("${R[@]}" state "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
	"${R[@]}" resume "$id" || fail "$name: resume"
	expect "$name: resumed cgroup.freeze" 0 "$(cat "$dir/cgroup.freeze" 2>&1)"
	"${R[@]}" update --memory 96M --pids-limit 88 "$id" || fail "$name: update"
	expect "$name: updated MemoryMax" 100663296 "$(prop "$unit" MemoryMax)"
	expect "$name: updated TasksMax" 88 "$(prop "$unit" TasksMax)"
	expect "$name: updated memory.max" 100663296 "$(cat "$dir/memory.max" 2>&1)"
	expect "$name: CPU quota kept by update" "50000 100000" "$(cat "$dir/cpu.max" 2>&1)"
	"${R[@]}" kill "$id" KILL || fail "$name: kill"
	for _ in $(seq 50); do [ "$("${R[@]}" state "$id" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = stopped ] && break; sleep 0.1; done
	"${R[@]}" delete "$id" || fail "$name: delete"
	if gone "$unit" "$dir"; then ok "$name: unit and cgroup gone after delete"; else fail "$name: left $(systemctl list-units --all --no-legend "$unit") $(ls -d "$dir" 2>&1)"; fi
	# delete --force of a running container stops the scope too
	(cd "$work/bundle" && "${R[@]}" run -d "$id" </dev/null >"$work/out" 2>&1) || fail "$name: run -d: $(cat "$work/out")"
	expect "$name: run -d: ActiveState" active "$(prop "$unit" ActiveState)"
	"${R[@]}" delete --force "$id" || fail "$name: delete --force"
	if gone "$unit" "$dir"; then ok "$name: delete --force: unit and cgroup gone"; else fail "$name: delete --force left $unit"; fi
}

lifecycle "$tong" tong "system.slice:tongt:c$$" "tongt-c$$.scope" system.slice
lifecycle runc runc "system.slice:runct:c$$" "runct-c$$.scope" system.slice
# A nested slice (a-b.slice lives under a.slice) and the empty cgroupsPath.
lifecycle "$tong" tong-nested "tt-sd.slice:tongn:c$$" "tongn-c$$.scope" tt.slice/tt-sd.slice
mkcfg ""
id=sd-default-$$
(cd "$work/bundle" && "$tong" --root "$work/state-d" --systemd-cgroup run -d "$id" </dev/null >"$work/out" 2>&1) || fail "tong default path: $(cat "$work/out")"
expect "tong, no cgroupsPath: tong-$id.scope" active "$(prop "tong-$id.scope" ActiveState)"
"$tong" --root "$work/state-d" --systemd-cgroup delete --force "$id"
gone "tong-$id.scope" "/sys/fs/cgroup/system.slice/tong-$id.scope" && ok "default scope gone" || fail "default scope left"
# A bad cgroupsPath: runc's words, nothing left.
mkcfg /not/systemd
out=$(cd "$work/bundle" && "$tong" --root "$work/state-b" --systemd-cgroup run -d bad-$$ 2>&1)
grep -q 'expected cgroupsPath to be of format \\"slice:prefix:name\\" for systemd cgroups, got \\"/not/systemd\\" instead' <<<"$out" && ok "bad cgroupsPath refused as runc" || fail "bad cgroupsPath: $out"
[ -z "$(ls "$work/state-b" 2>/dev/null)" ] && ok "nothing left after the refusal" || fail "state left after the refusal"
# A failed create (a missing program) leaves no unit.
python3 - "$work/bundle/config.json" <<-'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["process"]["args"] = ["/no/such/program"]; c["linux"]["cgroupsPath"] = "system.slice:tongf:x"
json.dump(c, open(p, "w"))
PY
(cd "$work/bundle" && "$tong" --root "$work/state-f" --systemd-cgroup run fail-$$ </dev/null >/dev/null 2>&1) && fail "a missing program ran"
gone tongf-x.scope /sys/fs/cgroup/system.slice/tongf-x.scope && ok "failed run: no scope left" || fail "failed run left tongf-x.scope"

# Rootless: --systemd-cgroup through a user's own systemd instance (a user
# made for it, its user@UID.service), tong and runc, in its own script.
TONG="$tong" tests/vm/rootless-systemd.sh || fail "tests/vm/rootless-systemd.sh (the systemd user instance)"

# The conformance suite's systemd-only tests (they skip elsewhere), tong and runc.
conf=$(hack/tong-path "${TONG_PROFILE:-release}" tong-conformance)
for rt in "$tong" /usr/sbin/runc; do
	if out=$("$conf" --runtime "$rt" --filter 'cgroups-systemd|cgroups-v2' --jobs 1 2>&1); then
		ok "conformance (systemd and v2 tests) with $(basename "$rt"): $(echo "$out" | tail -1)"
	else
		fail "conformance (systemd and v2 tests) with $(basename "$rt"): $(echo "$out" | grep -v '^PASS' | tail -5)"
	fi
done

# The clients with their systemd cgroup drivers, each a subset of its
# tests/clients/*.sh that fits the TCG budget: Podman (cgroup_manager =
# "systemd"), containerd (ctr --runc-systemd-cgroup: the runc v2 shim's
# SystemdCgroup option) and Docker (native.cgroupdriver=systemd), checking the
# container's scope from the host (systemctl show: Delegate, limits; its
# cgroup files; gone after removal). TONG_TEST_SYSTEMD_CLIENTS: 0 (default)
# none; 1: tong (6.5-11.5 min more under TCG, by the machine's load: Podman
# 200-278 s, containerd 69-154 s, Docker 129-253 s; more than CI can give
# reliably, hence opt-in); full: runc too, as the oracle (twice that). CLIENTS (default "podman containerd docker") picks the
# clients. A command gets 60 s (CLIENT_TEST_CMD_TIMEOUT): a foreground
# `podman run --rm` takes 8-37 s in the guest, with runc as with tong.
client() { # TOOL RUNTIME ONLY
	local t0=$SECONDS log=$work/$1-$(basename "$2").log
	CLIENT_TEST_CMD_TIMEOUT=${CLIENT_TEST_CMD_TIMEOUT:-60} CLIENT_TEST_BUDGET=${CLIENT_TEST_BUDGET:-600} \
		tests/clients/$1.sh --runtime "$2" --systemd-cgroup --only "$3" -v >"$log" 2>&1
	local rc=$?
	grep -E '^(PASS|FAIL|SKIP) |^    |took [0-9]+s$' "$log"
	if [ $rc = 0 ]; then
		ok "$1 (systemd cgroup driver) with $(basename "$2"): $(tail -1 "$log") ($((SECONDS - t0)) s)"
	else
		fail "$1 (systemd cgroup driver) with $(basename "$2"): $(tail -1 "$log") ($((SECONDS - t0)) s)"
		grep -v '^  \(out\|err\): ' "$log" | tail -40 | sed 's/^/    | /'
	fi
}
declare -A only=(
	[podman]='run_foreground|run_detach_name|exec$|limits|pause_unpause|rm_force'
	[containerd]='run_foreground|run_detach_name|exec$|limits|pause_unpause|rm_force'
	[docker]='run_foreground|run_detach_name|exec$|limits|update|pause_unpause|rm_force'
)
case ${TONG_TEST_SYSTEMD_CLIENTS:-0} in
1) runtimes=("$tong") ;;
full) runtimes=("$tong" runc) ;;
*) runtimes=() ;;
esac
for tool in ${CLIENTS:-podman containerd docker}; do
	for rt in "${runtimes[@]}"; do client "$tool" "$rt" "${only[$tool]}"; done
done
echo
if [ $fails -eq 0 ]; then echo "systemd: all passed ($SECONDS s)"; else echo "systemd: $fails failed ($SECONDS s)"; fi
[ $fails -eq 0 ]
