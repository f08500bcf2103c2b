#!/usr/bin/env bash
# Everything of checkpoint/restore, in a hack/vm guest (where `criu check`
# passes): tests/vm/criu.sh (tong and runc by hand), then Podman's
# `container checkpoint/restore` and containerd's `ctr task checkpoint` /
# `ctr containers checkpoint --task` + `restore --live` (the runc v2 shim),
# with tong (add runc, the oracle, with --client-runtimes "tong runc": ~10
# more minutes of TCG, so CI runs the clients with tong only; the by-hand
# cases always run with both). A client test that does not PASS (a skip
# included) fails the run.
#   hack/vm run -e TONG_TEST_FULL=1 -- tests/vm/criu-all.sh [--client-runtimes "tong runc"]
set -uo pipefail
cd "$(dirname "$0")/../.."
tong=$(hack/tong-path release tong)
clients="tong"
[ "${1:-}" = --client-runtimes ] && { clients=$2; shift 2; }
rc=0
t0=$SECONDS
# One retry of each part (criu.sh, each client): CRIU under TCG has had
# one-off failures with either runtime; a failure that comes back is real.
if ! tests/vm/criu.sh; then
	echo "---- criu.sh failed; once more (CRIU under TCG)"
	tests/vm/criu.sh || rc=1
fi
echo "---- criu.sh: $((SECONDS - t0))s"
# TCG is slow and CRIU's dumps are not quick: give each client command time.
export CLIENT_TEST_CMD_TIMEOUT=300
for tool in podman containerd; do
	for name in $clients; do
		rt=$name; [ "$name" = tong ] && rt=$tong
		t0=$SECONDS
		for try in 1 2; do
			out=$(tests/clients/$tool.sh --runtime "$rt" --only '^checkpoint$' 2>&1)
			printf '%s\n' "$out" | grep -Ev '^(PASS|SKIP) (image_import|cleanup)' | sed "s|^|$tool/$(basename "$rt"): |"
			printf '%s\n' "$out" | grep -q '^PASS checkpoint' && break
			if [ $try = 1 ]; then
				echo "---- $tool checkpoint/restore with $(basename "$rt") failed; once more (CRIU under TCG)"
			else
				echo "FAIL $tool checkpoint/restore with $(basename "$rt")"; rc=1
			fi
		done
		echo "---- $tool checkpoint with $(basename "$rt"): $((SECONDS - t0))s"
	done
done
[ $rc = 0 ] && echo "criu-all: all passed" || echo "criu-all: FAILED"
exit $rc
