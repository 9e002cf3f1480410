#!/bin/sh
# A one-node Slurm on this machine, for SoupLab's cluster tests and for trying `souplab search
# --launcher slurm` without a cluster. Debian's slurm-wlm and munge; munged with its own key and socket,
# slurmctld and slurmd for this host, every file (config, state, logs, pids) in one folder; no systemd.
# Run as root (the packages are installed when missing; the daemons run as root).
#
#   scripts/slurm/localSlurm.sh start <folder> [port]   writes <folder>/slurm.conf, starts the daemons,
#                                                       waits until the node is idle; then use it with
#                                                       SLURM_CONF=<folder>/slurm.conf sbatch …
#   scripts/slurm/localSlurm.sh stop <folder>           stops the daemons it started there (by their pid files)
set -eu

cmd=${1:-}
dir=${2:-}
port=${3:-6817}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop <folder> [port]" >&2
  exit 2
fi

# Whether a process runs: a zombie (exited, not yet reaped: a container's init may never reap it) has
# stopped writing, so it counts as gone.
running() {
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Waits up to $2 tenths of a second for process $1 to end; fails if it still runs.
wait_gone() {
  i=0
  while running "$1"; do
    [ $i -ge "$2" ] && return 1
    sleep 0.1
    i=$((i + 1))
  done
}

# Stops the daemons and returns only once none of them runs, so that the caller may remove the folder:
# a daemon still exiting writes its log, seed or socket there (munged's seed file on SIGTERM).
stop() {
  if [ -f "$dir/slurm.conf" ]; then
    SLURM_CONF="$dir/slurm.conf" scontrol shutdown >/dev/null 2>&1 || true
  fi
  for name in slurmd slurmctld munged; do
    if [ -f "$dir/$name.pid" ]; then
      pid=$(cat "$dir/$name.pid")
      # slurmd and slurmctld exit on scontrol shutdown; munged only on a signal. Each by its own pid only.
      if [ "$name" = munged ] || ! wait_gone "$pid" 100; then kill "$pid" 2>/dev/null || true; fi
      if ! wait_gone "$pid" 100; then
        kill -9 "$pid" 2>/dev/null || true
        wait_gone "$pid" 50 || echo "$0: $name (pid $pid) did not stop" >&2
      fi
      rm -f "$dir/$name.pid"
    fi
  done
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
if [ "$cmd" != start ]; then
  echo "$0: unknown command '$cmd' (start or stop)" >&2
  exit 2
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "$0: slurm-wlm and munge are not installed, and installing them needs root" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >"$dir.apt.log" 2>&1 || {
    apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >"$dir.apt.log" 2>&1
  } || { echo "$0: apt-get install slurm-wlm munge failed (see $dir.apt.log)" >&2; exit 1; }
fi

mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chmod 700 "$dir/munge"
# munged: its own key and socket, so nothing of a system munge is used or touched.
if [ ! -f "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
  chmod 400 "$dir/munge/munge.key"
fi
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"

host=$(hostname -s)
cat >"$dir/slurm.conf" <<CONF
ClusterName=souplab-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
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
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MinJobAge=600
# Eight job slots whatever the cores: the tests run a few small jobs at once on small machines.
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=1000 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

export SLURM_CONF="$dir/slurm.conf"
slurmctld
slurmd
i=0
while :; do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
  case "$state" in
    idle*|mixed*|allocated*) break ;;
  esac
  i=$((i + 1))
  if [ $i -gt 150 ]; then
    echo "$0: the node did not come up (state '$state'); see $dir/slurmctld.log and $dir/slurmd.log" >&2
    stop
    exit 1
  fi
  sleep 0.2
done
echo "$dir/slurm.conf"
