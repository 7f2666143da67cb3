#!/usr/bin/env bash
# A real single-node Slurm on localhost, for the integration tests and for
# trying `crossover sweep --executor slurm` on one machine.
#
#   scripts/slurm_local.sh start DIR   install slurm-wlm + munge if missing (Debian),
#                                      start munged (unless running), slurmctld and
#                                      slurmd with a minimal slurm.conf in DIR, wait
#                                      for the node, print SLURM_CONF=DIR/slurm.conf
#   scripts/slurm_local.sh stop DIR    stop every daemon this script started (by pid)
#
# Then: SLURM_CONF=DIR/slurm.conf crossover sweep --executor slurm ...
set -euo pipefail
cmd=${1:?usage: slurm_local.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: slurm_local.sh start|stop DIR}" && cd "$2" && pwd)
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

stop_pid() {
    local f=$1
    [ -f "$f" ] || return 0
    local pid
    pid=$(cat "$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        $SUDO kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && $SUDO kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

case "$cmd" in
stop)
    stop_pid "$dir/slurmd.pid"
    stop_pid "$dir/slurmctld.pid"
    stop_pid "$dir/munged.pid.ours"
    exit 0
    ;;
start) ;;
*) echo "usage: slurm_local.sh start|stop DIR" >&2; exit 2 ;;
esac

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    echo "slurm_local: installing slurm-wlm and munge (Debian packages)" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -q slurm-wlm munge >&2; then
        $SUDO apt-get update -q >&2
        $SUDO apt-get install -y -q slurm-wlm munge >&2 || {
            echo "slurm_local: cannot install slurm-wlm and munge with apt-get; install them (Debian bookworm: slurm-wlm 22.05, munge) and rerun" >&2
            exit 1
        }
    fi
fi
PATH=$PATH:/usr/sbin:/sbin

# munge: the authentication every Slurm daemon and client uses.
if ! pgrep -x munged >/dev/null; then
    if [ ! -s /etc/munge/munge.key ]; then
        $SUDO mkdir -p /etc/munge
        if command -v mungekey >/dev/null; then $SUDO mungekey --create --force; else
            $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
        $SUDO chown munge:munge /etc/munge/munge.key 2>/dev/null || true
        $SUDO chmod 400 /etc/munge/munge.key
    fi
    $SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
    $SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    if id munge >/dev/null 2>&1; then
        $SUDO runuser -u munge -- munged
    else
        $SUDO munged --force
    fi
    for _ in $(seq 50); do pgrep -x munged >/dev/null && break; sleep 0.1; done
    pgrep -x munged > "$dir/munged.pid.ours"
fi

# A free pair of ports, so a test's Slurm never meets another one.
port=$(( 20000 + ($$ % 20000) ))
while (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null || (echo >/dev/tcp/127.0.0.1/$((port + 1))) 2>/dev/null; do
    port=$((port + 2))
done
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p "$dir/state" "$dir/spool"
cat > "$dir/slurm.conf" <<CONF
# Written by scripts/slurm_local.sh: one node, this machine, for tests.
ClusterName=crossover-local
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
$SUDO slurmctld -f "$SLURM_CONF"
$SUDO slurmd -f "$SLURM_CONF" -N localhost
for _ in $(seq 120); do
    state=$(sinfo -h -o %T 2>/dev/null | head -1 || true)
    [ "$state" = idle ] && break
    sleep 0.5
done
if [ "${state:-}" != idle ]; then
    echo "slurm_local: the node did not come up (sinfo: '${state:-}'); logs: $dir/slurmctld.log $dir/slurmd.log" >&2
    tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
    exit 1
fi
sinfo >&2
echo "SLURM_CONF=$SLURM_CONF"
