#!/bin/bash
# Run the client test scripts (podman, podman-rootless, containerd, docker, cri) one after the other
# against one runtime and print a combined closing line "N passed, M failed, K skipped";
# exit non-zero iff a script failed (or could not run).
#
#   tests/clients/run-all.sh [--runtime runc|/path/to/tong] [other options of the scripts]
#   CLIENT_TESTS="podman docker" tests/clients/run-all.sh ...   # a subset
HERE=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0 skip=0 rc=0
for s in ${CLIENT_TESTS:-podman podman-rootless containerd docker cri}; do
	echo "=== $s.sh $*"
	out=$(mktemp)
	"$HERE/$s.sh" "$@" 2>&1 | tee "$out"
	r=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	if [ -z "$line" ]; then
		echo "FAIL $s.sh (exit $r, no summary line)"
		fail=$((fail + 1)) rc=1
	else
		p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
		k=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")
		pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + ${k:-0}))
		[ "$r" = 0 ] || rc=1
	fi
	rm -f "$out"
done
echo "$pass passed, $fail failed, $skip skipped"
exit $rc
