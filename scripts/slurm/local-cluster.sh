#!/usr/bin/env bash
# A one-node Slurm cluster of its own in DIR, for tests and for trying the cluster paths on one machine.
#   eval "$(scripts/slurm/local-cluster.sh start /tmp/slurm)"   # prints `export SLURM_CONF=...`
#   sbatch --wrap hostname; squeue; ...
#   scripts/slurm/local-cluster.sh stop /tmp/slurm
# Everything lives in DIR: config, munge key and socket, spool, state, logs, pid files; the ports
# are free ones picked at start. A cluster someone already runs on the machine is not touched.
# Needs root and Debian's slurm-wlm and munge (Slurm 22.05): `apt-get install -y slurm-wlm munge`.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
ACTION=$1
DIR=$(mkdir -p "$2" && cd "$2" && pwd)
CONF=$DIR/slurm.conf

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stop_pid() {  # TERM the daemon in pid file $1, then wait for it to go (KILL after 10 s)
  [ -s "$1" ] || return 0
  local pid; pid=$(cat "$1")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

start() {
  [ "$(id -u)" = 0 ] || { echo "local-cluster: needs root (slurmd runs jobs as their users)" >&2; exit 1; }
  for tool in munged mungekey slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || { echo "local-cluster: $tool missing; apt-get install -y slurm-wlm munge" >&2; exit 1; }
  done
  [ -s "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null && {
    echo "local-cluster: already running in $DIR (stop it first)" >&2; exit 1; }
  mkdir -p "$DIR/munge" "$DIR/state" "$DIR/spool" "$DIR/log"
  rm -f "$DIR/munge/munge.key"
  mungekey --create --keyfile="$DIR/munge/munge.key"
  chmod 700 "$DIR/munge"
  # --force: munged refuses to run as root otherwise; this key and socket serve only this cluster.
  munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munge.seed"

  local cpus mem
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  cat >"$CONF" <<EOF
ClusterName=textbooks-local
SlurmctldHost=localhost
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: a requeued job may start again this many seconds after it stopped (default 120). Slurm
# holds it that long because slurmd refuses the job's credentials revoked at the requeue until then.
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# Dependent jobs and requeued jobs start within seconds, not at the next minute's scheduling pass.
SchedulerParameters=defer_batch=0,sched_min_interval=0,batch_sched_delay=0,sched_interval=2,bf_interval=2
SchedulerTimeSlice=5
MessageTimeout=10
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
  slurmctld -f "$CONF" -i
  slurmd -f "$CONF" -N localhost
  for _ in $(seq 300); do
    if SLURM_CONF=$CONF sinfo --noheader --format=%T 2>/dev/null | grep -qx idle; then
      echo "export SLURM_CONF=$CONF"
      return 0
    fi
    sleep 0.1
  done
  echo "local-cluster: the node did not become idle in 30 s; logs in $DIR/log" >&2
  stop
  exit 1
}

stop() {
  if [ -f "$CONF" ] && [ -s "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
    # Jobs first, so that no job step outlives the daemons that track it.
    SLURM_CONF=$CONF scancel --full --quiet --user=root 2>/dev/null || true
    for _ in $(seq 100); do
      [ -z "$(SLURM_CONF=$CONF squeue --noheader --states=PD,R,CG,CF,S,RQ 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  stop_pid "$DIR/slurmd.pid"
  stop_pid "$DIR/slurmctld.pid"
  stop_pid "$DIR/munge/munged.pid"
}

case $ACTION in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
