#!/usr/bin/env bash
# Stop the cluster of tools/slurm/up.sh: cancel its jobs, stop slurmd and slurmctld (munged, a
# system service, keeps running). Safe to run when nothing is up.
set -uo pipefail
STATE=${AFG_SLURM_DIR:-/tmp/afg-slurm}
export SLURM_CONF=$STATE/slurm.conf
[ -f "$SLURM_CONF" ] && scancel --full --quiet -u root 2>/dev/null
for d in slurmd slurmctld; do
    pidf=$STATE/$d.pid
    [ -s "$pidf" ] || continue
    pid=$(cat "$pidf")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    rm -f "$pidf"
done
echo "slurm-down: stopped (state kept in $STATE)"
