#!/usr/bin/env bash
# A survey, not a test: runs the same cgroup operations with tong and with runc
# on a pure cgroup v2 host and prints what each runtime left in the cgroup files
# (or its error), one line per probe, "DIFF" where tong differs from runc.
# It is the starting list for issue 15's v2 work; its output is not asserted.
# Usage: hack/vm run -- tests/vm/v2-survey.sh     (after cargo build --release)
set -uo pipefail
cd "$(dirname "$0")/../.."
tong=${TONG:-$(hack/tong-path release tong)}
runc=$(command -v runc)
work=$(mktemp -d /tmp/v2-survey.XXXXXX)
cg=/sys/fs/cgroup
trap 'for r in tong runc; do for id in $(ls $work/state-$r 2>/dev/null); do ${!r} --root $work/state-$r delete --force $id; done; done 2>/dev/null; rm -rf "$work"' EXIT
hack/mkbundle "$work/bundle" --args 'sleep 600' >/dev/null
cp "$work/bundle/config.json" "$work/base.json"

# with_config PYTHON: the bundle's config.json is base.json changed by PYTHON (c = the config)
with_config() {
	python3 - "$work/base.json" "$work/bundle/config.json" "$1" <<-'EOF'
	import json, sys
	c = json.load(open(sys.argv[1]))
	r = c["linux"].setdefault("resources", {})
	exec(sys.argv[3])
	json.dump(c, open(sys.argv[2], "w"))
	EOF
}

# probe NAME CONFIG-PYTHON CHECK-SHELL: for each runtime, run -d the container
# with cgroupsPath /survey-RT-NAME, then CHECK with $rt, $id and $dir (its cgroup).
probe() {
	local name=$1 conf=$2 check=$3 r
	declare -A res
	for r in tong runc; do
		local rt=${!r} id="survey-$r-$name" dir="$cg/survey-$r-$name"
		with_config "c['linux']['cgroupsPath'] = '/survey-$r-$name'; $conf"
		local out
		# The container's stdio must not be a pipe this shell waits on.
		if (cd "$work/bundle" && $rt --root "$work/state-$r" run -d "$id" </dev/null >/dev/null 2>"$work/err"); then
			out=$(rt=$rt id=$id dir=$dir root="$work/state-$r" bash -c "$check" 2>&1 | tr '\n' ' ')
		else
			out="run failed: $(cat "$work/err")"
		fi
		res[$r]=$out
		$rt --root "$work/state-$r" delete --force "$id" >/dev/null 2>&1
		[ -d "$dir" ] && res[$r]+=" [cgroup left after delete]"
	done
	local mark="    "
	[ "${res[tong]//tong/RT}" = "${res[runc]//runc/RT}" ] || mark="DIFF"
	printf '%s %-22s tong: %s\n%s %-22s runc: %s\n' "$mark" "$name" "${res[tong]}" "$mark" "" "${res[runc]}"
}

probe memory "r['memory'] = {'limit': 67108864, 'reservation': 33554432, 'swap': 134217728}" \
	'cat $dir/memory.max $dir/memory.low $dir/memory.swap.max'
probe memory-unlimited "r['memory'] = {'limit': -1}" 'cat $dir/memory.max'
probe cpu "r['cpu'] = {'shares': 512, 'quota': 50000, 'period': 100000}" 'cat $dir/cpu.weight $dir/cpu.max'
probe cpu-idle "r['cpu'] = {'idle': 1}" 'cat $dir/cpu.idle'
probe cpuset "r['cpu'] = {'cpus': '0', 'mems': '0'}" 'cat $dir/cpuset.cpus $dir/cpuset.mems; grep Cpus_allowed_list /proc/$($rt --root $root state $id | jq .pid)/status'
probe pids "r['pids'] = {'limit': 42}" 'cat $dir/pids.max'
probe io-weight "r['blockIO'] = {'weight': 500}" 'cat $dir/io.weight 2>&1 || cat $dir/io.bfq.weight'
probe io-max "r['blockIO'] = {'throttleReadBpsDevice': [{'major': 1, 'minor': 3, 'rate': 1048576}]}" 'cat $dir/io.max'
probe hugetlb "r['hugepageLimits'] = [{'pageSize': '2MB', 'limit': 4194304}]" 'cat $dir/hugetlb.2MB.max'
probe unified "c['linux']['resources']['unified'] = {'memory.high': '50000000', 'pids.max': '33'}" \
	'cat $dir/memory.high $dir/pids.max'
probe devices-deny "r['devices'] = [{'allow': False, 'access': 'rwm'}]" \
	'$rt --root $root exec $id sh -c "head -c1 /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null && echo zero-ok" 2>&1'
probe devices-default "" \
	'$rt --root $root exec $id sh -c "mknod /tmp/sda b 8 0 && head -c1 /tmp/sda >/dev/null && echo sda-readable || echo sda-denied" 2>&1'
probe pause-resume "" \
	'$rt --root $root pause $id; echo "paused: $(cat $dir/cgroup.freeze) $($rt --root $root state $id | jq -r .status)"; $rt --root $root resume $id; echo "resumed: $(cat $dir/cgroup.freeze) $($rt --root $root state $id | jq -r .status)"'
probe update "r['memory'] = {'limit': 67108864}" \
	'$rt --root $root update --memory 100000000 --pids-limit 50 --cpu-share 1024 $id; cat $dir/memory.max $dir/pids.max $dir/cpu.weight'
probe events-stats "r['memory'] = {'limit': 67108864}" \
	'$rt --root $root events --stats $id | jq -c "{mem: .data.memory.usage.limit, pids: .data.pids.current, cpu: (.data.cpu.usage.total > 0)}"'
probe ps "" '$rt --root $root exec -d $id sleep 500 </dev/null >/dev/null 2>&1; sleep 1; echo "pids: $($rt --root $root ps --format json $id | jq length)"' 
probe kill-all "" \
	'$rt --root $root exec -d $id sleep 500 </dev/null >/dev/null 2>&1; $rt --root $root kill --all $id KILL; sleep 1; echo "procs: $(cat $dir/cgroup.procs | wc -l)"'
probe exec-cgroup-sub "" \
	'mkdir -p $dir/sub; $rt --root $root exec --cgroup sub $id cat /proc/self/cgroup 2>&1'
probe nested-path "c['linux']['cgroupsPath'] = '/survey-nest/a/b'" \
	'cat /proc/$($rt --root $root state $id | jq .pid)/cgroup'
probe default-path "c['linux'].pop('cgroupsPath')" 'cat /proc/$($rt --root $root state $id | jq .pid)/cgroup'
probe cgroupns "c['linux']['namespaces'].append({'type': 'cgroup'})" \
	'$rt --root $root exec $id sh -c "cat /proc/self/cgroup; ls /sys/fs/cgroup | grep -c max"'
probe oom "r['memory'] = {'limit': 16777216}; c['process']['args'] = ['sh', '-c', 'sleep 2; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 600']" \
	'sleep 8; grep oom_kill $dir/memory.events; $rt --root $root events --stats $id | jq -cS ".data.memory | del(.raw)" 2>&1 | head -c 400'
rm -rf $cg/survey-nest 2>/dev/null
