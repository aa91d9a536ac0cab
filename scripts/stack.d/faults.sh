# shellcheck shell=bash
# scripts/stack.d/faults.sh: fault controls for tests, sourced by scripts/stack.
#
#   stop NAME     TERM, wait up to 30 s, then KILL; data kept       (a clean shutdown)
#   kill NAME     KILL at once; data kept                           (a crash)
#   freeze NAME   STOP: the process stays, its sockets accept, nothing answers (a hung server)
#   thaw NAME     CONT: a frozen server carries on
#   start NAME    start NAME again, same ports, same data; wait until it answers
#
# Signals go to the server's whole process group (each server leads its own: spawn uses
# setsid, Redis daemonizes so), so nginx's workers and Redis' rewrite children stop too.

SERVERS=(kafka registry redis redis-tls registry-tls)

server_fn() { echo "${1//-/_}"; }   # registry-tls -> registry_tls (registry_tls_pid, ...)

server_pid() { "$(server_fn "$1")_pid"; }

check_server_name() {
  local s
  for s in "${SERVERS[@]}"; do [[ "$s" == "$1" ]] && return 0; done
  die "unknown server '$1' (one of: ${SERVERS[*]})"
}

signal_tree() { # signal_tree SIG PID: the process group PID leads, or PID alone
  local sig="$1" pid="$2" pgid
  pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" || true
  if [[ "$pgid" == "$pid" ]]; then kill -"$sig" -- "-$pid" 2>/dev/null || true
  else kill -"$sig" "$pid" 2>/dev/null || true; fi
}

is_frozen() { # is_frozen PID: stopped by a signal (state T)
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat%% *}" == T ]]
}

wait_gone() { # wait_gone PID SECONDS
  local pid="$1" i
  for ((i = 0; i < $2 * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

data_note() { case "$1" in kafka|registry|redis) echo " (data kept)" ;; esac; }

fault_target() { # fault_target NAME: the running server's PID, or a message and status 1
  local pid
  if ! pid="$(server_pid "$1")"; then say "$1 is not running"; return 1; fi
  echo "$pid"
}

cmd_stop() {
  check_server_name "$1"
  lock_fd 8 "$RUN/.lock"
  load_state
  local pid
  pid="$(fault_target "$1")" || return 0
  stop_pids "$1:$pid"
  rm -f "$RUN/$1.pid"
  say "$1 stopped$(data_note "$1"); 'scripts/stack start $1' starts it again"
}

cmd_kill() {
  check_server_name "$1"
  lock_fd 8 "$RUN/.lock"
  load_state
  local pid
  pid="$(fault_target "$1")" || return 0
  say "killing $1 (pid $pid, SIGKILL)"
  signal_tree KILL "$pid"
  wait_gone "$pid" 10 || die "$1 (pid $pid) still there 10 s after SIGKILL"
  rm -f "$RUN/$1.pid"
  say "$1 killed$(data_note "$1"); 'scripts/stack start $1' starts it again"
}

cmd_freeze() {
  check_server_name "$1"
  load_state
  local pid
  pid="$(fault_target "$1")" || exit 1
  signal_tree STOP "$pid"
  say "$1 frozen (pid $pid, SIGSTOP; 'scripts/stack thaw $1' resumes it)"
}

cmd_thaw() {
  check_server_name "$1"
  load_state
  local pid
  pid="$(fault_target "$1")" || exit 1
  signal_tree CONT "$pid"
  say "$1 thawed (pid $pid, SIGCONT)"
}

thaw_frozen() { # before `up` waits for answers: a frozen server would never give one
  local s pid
  for s in "${SERVERS[@]}"; do
    if pid="$(server_pid "$s")" && is_frozen "$pid"; then
      say "$s was frozen: thawing it"
      signal_tree CONT "$pid"
    fi
  done
}

cmd_start() {
  check_server_name "$1"
  [[ -f "$STATE" ]] || die "no stack in $RUN: 'scripts/stack up' first"
  lock_fd 8 "$RUN/.lock"
  load_state
  local name="$1" fn pid
  fn="$(server_fn "$name")"
  if pid="$(server_pid "$name")" && is_frozen "$pid"; then
    say "$name is frozen: thawing it"
    signal_tree CONT "$pid"
  fi
  preflight "$name"
  "start_$fn" keep
  case "$name" in
    kafka)
      wait_ready Kafka "$RUN/kafka.log" kafka_pid kafka_ready
      wait_ready "Kafka's secured listeners" "$RUN/kafka.log" kafka_pid kafka_secure_ready
      kafka_secure_setup ;;
    registry-tls) # answers even while the registry behind it is stopped (502)
      wait_ready nginx "$RUN/registry-tls.log" registry_tls_pid registry_tls_alive ;;
    *) wait_ready "$name" "$RUN/$name.log" "${fn}_pid" "${fn}_ready" ;;
  esac
  say "$name answers again (pid $(server_pid "$name"))"
}
