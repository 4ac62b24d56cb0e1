#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine: munged (as the munge user), slurmctld, slurmd.
# Needs root (a container is fine: no cgroups, no systemd). Installs Debian's slurm-wlm and munge
# when they are missing. Everything it writes goes under $AFG_SLURM_DIR (default /tmp/afg-slurm);
# clients find the cluster through SLURM_CONF=$AFG_SLURM_DIR/slurm.conf (`make slurm-test` and the
# tests set it). Stop it with tools/slurm/down.sh.
set -euo pipefail
STATE=${AFG_SLURM_DIR:-/tmp/afg-slurm}
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "slurm-up: $*"; }

if [ "$(id -u)" != 0 ]; then
    echo "slurm-up: needs root (it installs packages and runs the daemons as root)" >&2; exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# munge: a key, its folders owned by the munge user, the daemon running as that user
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null; then mungekey --create --force >/dev/null
    else dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; fi
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
chmod 400 /etc/munge/munge.key
chmod 755 /run/munge
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n </dev/null | unmunge >/dev/null || { echo "slurm-up: munged does not answer" >&2; exit 1; }

# slurm.conf for this machine: its hostname, CPU count and memory
mkdir -p "$STATE"/ctld "$STATE"/d "$STATE"/log
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/^MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))   # MB, 90% of the RAM
sed -e "s|@HOST@|$host|g" -e "s|@STATE@|$STATE|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM@|$mem|g" \
    -e "s|@DEF_MEM@|$(( mem / cpus / 2 ))|g" \
    -e "s|@CTLD_PORT@|${AFG_SLURMCTLD_PORT:-6817}|g" -e "s|@D_PORT@|${AFG_SLURMD_PORT:-6818}|g" \
    "$here/slurm.conf.in" > "$STATE/slurm.conf"
printf 'ConstrainCores=no\nConstrainRAMSpace=no\n' > "$STATE/cgroup.conf"
export SLURM_CONF=$STATE/slurm.conf

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
alive "$STATE/slurmctld.pid" || slurmctld -f "$SLURM_CONF" || {
    tail -n 5 "$STATE/log/slurmctld.log" >&2; echo "slurm-up: slurmctld did not start" >&2; exit 1; }
alive "$STATE/slurmd.pid" || slurmd -f "$SLURM_CONF" || {
    tail -n 5 "$STATE/log/slurmd.log" >&2; echo "slurm-up: slurmd did not start" >&2; exit 1; }

# wait until the node takes jobs
for _ in $(seq 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    case "$state" in idle*|mixed*|allocated*) break ;; esac
    sleep 0.5
done
case "$state" in
    idle*|mixed*|allocated*) ;;
    *) scontrol update nodename="$host" state=resume 2>/dev/null || true; sleep 1
       state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true) ;;
esac
sinfo
case "$state" in
    idle*|mixed*|allocated*) say "up: SLURM_CONF=$SLURM_CONF" ;;
    *) echo "slurm-up: node $host is '$state'" >&2; tail -n 5 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2; exit 1 ;;
esac
