#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for testing the Slurm launcher for real (make test-slurm).
#
#   scripts/slurm_local.sh start     # install slurm-wlm + munge if missing, start munged, slurmctld, slurmd
#   scripts/slurm_local.sh status
#   scripts/slurm_local.sh stop      # cancel its jobs, stop exactly the daemons it started, by pid
#   eval "$(scripts/slurm_local.sh env)"   # SLURM_CONF for sbatch, squeue, submitit
#
# Everything lives in $MINRNN_SLURM_DIR (default /tmp/minrnn-slurm): slurm.conf, its own munge key and
# socket, state, logs, pid files; its ports are 16817/16818. An existing Slurm or munge on this host is
# never touched: the system's config, key, socket and ports are not used. Needs root (slurmd runs jobs
# as their submitter, and apt-get installs). No accounting database: sacct answers "accounting storage
# is disabled". submitit polls sacct for job states, so start also writes $DIR/bin/sacct, a stand-in
# that answers submitit's query (sacct -o JobID,State,NodeList --parsable2 -j IDS) from scontrol, which
# remembers finished jobs for MinJobAge (10 minutes here); `env` puts it first on PATH.
set -euo pipefail

DIR=${MINRNN_SLURM_DIR:-/tmp/minrnn-slurm}
CONF=$DIR/slurm.conf
HOST=$(hostname -s)
DAEMONS=(slurmd slurmctld munged)

say() { echo "slurm_local: $*" >&2; }

pid_of() {  # the pid in $DIR/<daemon>.pid if that process is alive
	local f=$DIR/$1.pid
	[[ -s $f ]] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

install() {
	command -v slurmctld >/dev/null && command -v munged >/dev/null && return
	say "installing slurm-wlm and munge (about a minute)"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_conf() {
	local cpus mem
	cpus=$(nproc)
	mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10))  # 80% of RAM, MiB
	mkdir -p "$DIR"/{state,spool,log}
	cat >"$CONF" <<-EOF
		# written by scripts/slurm_local.sh for $HOST
		ClusterName=minrnn-local
		SlurmctldHost=$HOST
		SlurmctldPort=16817
		SlurmdPort=16818
		SlurmUser=root
		AuthType=auth/munge
		AuthInfo=socket=$DIR/munge.socket
		CredType=cred/munge
		ProctrackType=proctrack/linuxproc
		TaskPlugin=task/none
		SelectType=select/cons_tres
		SelectTypeParameters=CR_Core_Memory
		JobRequeue=1
		ReturnToService=2
		MpiDefault=none
		KillWait=10
		MinJobAge=600
		StateSaveLocation=$DIR/state
		SlurmdSpoolDir=$DIR/spool
		SlurmctldPidFile=$DIR/slurmctld.pid
		SlurmdPidFile=$DIR/slurmd.pid
		SlurmctldLogFile=$DIR/log/slurmctld.log
		SlurmdLogFile=$DIR/log/slurmd.log
		AccountingStorageType=accounting_storage/none
		JobAcctGatherType=jobacct_gather/none
		NodeName=$HOST CPUs=$cpus RealMemory=$mem State=UNKNOWN
		PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
	EOF
}

write_sacct() {
	mkdir -p "$DIR/bin"
	cat >"$DIR/bin/sacct" <<-'EOF'
		#!/usr/bin/env bash
		# sacct stand-in for a cluster without accounting (scripts/slurm_local.sh): JobID|State|NodeList
		# of the jobs given with -j, from scontrol.
		ids=""
		while (($#)); do [[ $1 == -j ]] && ids=$2 && shift; shift; done
		echo "JobID|State|NodeList"
		for id in ${ids//,/ }; do
			scontrol -o show job "${id%%_*}" 2>/dev/null | tr ' ' '\n' | awk -F= '
				/^JobId=/ {if (job) print job "|" state "|" nodes; job=$2; task=""; state=""; nodes=""}
				/^ArrayJobId=/ {array=$2}
				/^ArrayTaskId=/ {job=array "_" $2}
				/^JobState=/ {state=$2}
				/^NodeList=/ {nodes=$2}
				END {if (job) print job "|" state "|" nodes}'
		done
	EOF
	chmod +x "$DIR/bin/sacct"
}

start() {
	[[ $(id -u) == 0 ]] || { say "error: needs root (slurmd and apt-get)"; exit 2; }
	if [[ -n $(pid_of slurmctld || true) ]]; then say "already running ($DIR)"; return; fi
	install
	write_conf
	write_sacct
	if [[ ! -s $DIR/munge.key ]]; then
		head -c 1024 /dev/urandom >"$DIR/munge.key"
	fi
	chown munge:munge "$DIR/munge.key" && chmod 400 "$DIR/munge.key"
	chown munge:munge "$DIR" "$DIR/log"
	runuser -u munge -- munged --force --key-file="$DIR/munge.key" --socket="$DIR/munge.socket" \
		--pid-file="$DIR/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munged.seed"
	slurmctld -f "$CONF"
	slurmd -f "$CONF"
	export SLURM_CONF=$CONF
	for _ in $(seq 60); do  # the node idle within seconds; give it a minute
		if sinfo -h -N -o %t 2>/dev/null | grep -qx idle; then
			say "up: node $HOST idle ($(nproc) CPUs); SLURM_CONF=$CONF"
			return
		fi
		sleep 1
	done
	say "error: the node did not become idle in 60 s; logs in $DIR/log"
	stop
	exit 1
}

stop() {
	if [[ -n $(pid_of slurmctld || true) ]]; then
		SLURM_CONF=$CONF scancel --full --user=root 2>/dev/null || true
		for _ in $(seq 30); do  # let the jobs' steps end before slurmd goes
			[[ -z $(SLURM_CONF=$CONF squeue -h -t running,completing 2>/dev/null) ]] && break
			sleep 1
		done
	fi
	for d in "${DAEMONS[@]}"; do
		local pid
		pid=$(pid_of "$d" || true)
		[[ -z $pid ]] && continue
		kill -TERM "$pid"
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		say "stopped $d ($pid)"
	done
	rm -f "$DIR"/*.pid
}

status() {
	local up=0
	for d in "${DAEMONS[@]}"; do
		pid=$(pid_of "$d" || true)
		echo "$d: ${pid:-not running}"
		[[ -n $pid ]] && up=1
	done
	[[ $up == 1 ]] && SLURM_CONF=$CONF sinfo 2>/dev/null || true
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
env) echo "export SLURM_CONF=$CONF PATH=$DIR/bin:\$PATH" ;;
*)
	echo "usage: $0 start|stop|status|env" >&2
	exit 2
	;;
esac
