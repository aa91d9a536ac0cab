# shellcheck shell=bash
# scripts/stack.d/verify.sh: `scripts/stack verify`, sourced by scripts/stack.
#
# Real clients against the secured servers: kcat (librdkafka), Kafka's own Java client
# (the broker's classpath, already downloaded), redis-cli, curl. Every refusal is checked for
# its reason (the error text), so that a server that is merely down does not pass as "refused".
# The kcat checks run side by side (a refused kcat waits out its metadata timeout).

VERIFY_DIR=""
VERIFY_N=0

expect() { # expect ok|refused PATTERN LABEL -- command...: run in the background, judge later
  local want="$1" pattern="$2" label="$3" out
  shift 4
  out="$VERIFY_DIR/$(printf '%03d' "$VERIFY_N")"
  VERIFY_N=$((VERIFY_N + 1))
  (
    if "$@" >> "$out.log" 2>&1; then got=ok; else got=refused; fi
    if [[ "$got" == "$want" ]] && { [[ -z "$pattern" ]] || grep -Eqi -- "$pattern" "$out.log"; }; then
      printf '  ok    %s\n' "$label"
    else
      printf '  FAIL  %s (wanted %s%s, got %s: %s)\n' "$label" "$want" "${pattern:+ matching /$pattern/}" \
        "$got" "$(grep -v '^$' "$out.log" | tail -n 2 | tr '\n' ' ' | cut -c1-240)"
    fi > "$out.result"
  ) &
}

verify_results() { # wait for the checks, print them in order; status 1 if any failed
  wait
  cat "$VERIFY_DIR"/*.result
  ! grep -q '^  FAIL' "$VERIFY_DIR"/*.result
}

java_client_conf() { # java_client_conf MECHANISM USER PASSWORD: a client.properties for SASL_SSL
  cat <<EOF
security.protocol=SASL_SSL
sasl.mechanism=$1
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$2" password="$3";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.pem
EOF
}

java_scram() { # java_scram MECHANISM USER PASSWORD: an Admin request over SASL_SSL with Kafka's own client
  local conf="$VERIFY_DIR/java-$1-$2-$3.properties"
  java_client_conf "$@" > "$conf"
  timeout 60 java -Xmx128m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$HERE/tools-log4j2.xml" \
    -cp "$KAFKA_HOME/lib/*" kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_SASL_SSL_PORT" \
    --command-config "$conf" --describe --entity-type users
}

kcat_roundtrip() { # kcat_roundtrip TOPIC: produce one record over SASL_SSL and read it back
  local topic="$1" word="verify-$RANDOM$RANDOM"
  echo "$word" | kcat_secure sasl_ssl -- -P -t "$topic" -m 10 || return 1
  kcat_secure sasl_ssl -- -C -t "$topic" -o -1 -c 1 -e -q -m 10 | grep -qx "$word"
}

kcat_denied_produce() { # the ACL-denied user tries to write to a topic it is denied
  echo probe | kcat_secure sasl_ssl "$DENIED_USER" "$DENIED_PASSWORD" -- -P -t "$1" -m 5 -X message.timeout.ms=5000
}

redis_tls_as() { # redis_tls_as CA [redis-cli args...]: ping over TLS, trusting CA
  local ca="$1"; shift
  local out
  out="$(timeout 5 redis-cli --tls --cacert "$ca" -h 127.0.0.1 -p "$REDIS_TLS_PORT" --no-auth-warning "$@" ping 2>&1)"
  printf '%s\n' "$out"
  [[ "$out" == PONG ]]
}

curl_registry() { # curl_registry URL [curl args...]: GET subjects, fails unless HTTP 200
  local url="$1"; shift
  local code
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url/apis/ccompat/v7/subjects")" || return $?
  echo "HTTP $code"
  [[ "$code" == 200 ]]
}

registry_tls_roundtrip() { # register a schema through nginx, read it back by id, delete it
  local base="https://127.0.0.1:$REGISTRY_TLS_PORT/apis/ccompat/v7" subject="stack-verify-$RANDOM-value" id
  local c=(curl -sS --fail --max-time 10 --cacert "$TLS/ca.pem" -u "$SECURE_USER:$SECURE_PASSWORD")
  id="$("${c[@]}" -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    -d '{"schema":"{\"type\":\"record\",\"name\":\"V\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"}' \
    "$base/subjects/$subject/versions" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')"
  [[ -n "$id" ]] || return 1
  "${c[@]}" "$base/schemas/ids/$id" | grep -q '"name\\*":\\*"V' || return 1
  "${c[@]}" -X DELETE "$base/subjects/$subject" > /dev/null
  "${c[@]}" -X DELETE "$base/subjects/$subject?permanent=true" > /dev/null
  echo "schema id $id registered, read back, deleted"
}

cmd_verify() {
  load_state
  [[ -f "$TLS/.complete" ]] || die "no certificates in $TLS: 'scripts/stack up' first"
  command -v kcat >/dev/null || die "verify needs kcat (apt-get install kcat)"
  cmd_status > /dev/null || die "not every server answers ('scripts/stack status'): verify needs them all"
  VERIFY_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kscore-stack-verify.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: the folder is known now
  trap "rm -rf '$VERIFY_DIR'" EXIT
  local u="$SECURE_USER" p="$SECURE_PASSWORD" t="$TLS" wrong_topic="${DENIED_PREFIX}verify"
  local reg="https://127.0.0.1:$REGISTRY_TLS_PORT" wrong_reg="https://127.0.0.1:$REGISTRY_WRONG_HOST_PORT"

  echo "Kafka, kcat $(kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9.]*\).*/(librdkafka \1)/p'):"
  expect ok '' "SASL_SSL, PLAIN as $u: produce a record and consume it back" -- kcat_roundtrip stack-verify
  expect ok '' "SSL with the client certificate (mTLS): metadata" -- kafka_ssl_ready
  expect ok '' "SASL_PLAINTEXT, PLAIN as $u: metadata" -- kafka_sasl_plaintext_ready
  expect refused 'invalid credentials|authentication' "SASL_SSL, wrong password: refused" -- \
    kcat_secure sasl_ssl "$u" wrong-password -- -L -m 3
  expect refused 'certificate verify failed' "SASL_SSL, client trusts another CA: refused" -- \
    kcat_secure sasl_ssl -- -L -m 3 -X "ssl.ca.location=$t/other-ca.pem"
  expect refused 'alert|certificate|handshake' "SSL (mTLS) without a client certificate: refused" -- \
    kcat -L -m 3 -b "127.0.0.1:$KAFKA_SSL_PORT" -X security.protocol=SSL -X "ssl.ca.location=$t/ca.pem"
  expect refused 'alert|certificate|handshake' "SSL (mTLS), client certificate from an untrusted CA: refused" -- \
    kcat -L -m 3 -b "127.0.0.1:$KAFKA_SSL_PORT" -X security.protocol=SSL -X "ssl.ca.location=$t/ca.pem" \
      -X "ssl.certificate.location=$t/untrusted-client.pem" -X "ssl.key.location=$t/untrusted-client.key"
  expect refused 'certificate verify failed' "wrong-host listener (certificate for wrong.example): refused" -- \
    kcat -L -m 3 -b "127.0.0.1:$KAFKA_WRONG_HOST_PORT" -X security.protocol=SSL -X "ssl.ca.location=$t/ca.pem"
  expect ok '' "wrong-host listener with hostname verification off: accepted (only the name is wrong)" -- \
    kcat -L -m 5 -b "127.0.0.1:$KAFKA_WRONG_HOST_PORT" -X security.protocol=SSL -X "ssl.ca.location=$t/ca.pem" \
      -X ssl.endpoint.identification.algorithm=none
  expect refused 'authorization failed' "user $DENIED_USER writes to $wrong_topic: refused by ACL" -- \
    kcat_denied_produce "$wrong_topic"
  verify_results > "$VERIFY_DIR/kafka.txt" || true
  cat "$VERIFY_DIR/kafka.txt"; rm -f "$VERIFY_DIR"/*.result

  echo "Kafka, its own Java client $KAFKA_VERSION (librdkafka < 2.6.1 cannot do SCRAM with Kafka 4):"
  expect ok "user-principal '$u'" "SASL_SSL, SCRAM-SHA-256 as $u: DescribeUserScramCredentials" -- java_scram SCRAM-SHA-256 "$u" "$p"
  wait
  expect ok "user-principal '$u'" "SASL_SSL, SCRAM-SHA-512 as $u: DescribeUserScramCredentials" -- java_scram SCRAM-SHA-512 "$u" "$p"
  wait
  expect refused 'invalid credentials|Authentication failed' "SASL_SSL, SCRAM-SHA-512, wrong password: refused" -- \
    java_scram SCRAM-SHA-512 "$u" wrong-password
  verify_results > "$VERIFY_DIR/java.txt" || true
  cat "$VERIFY_DIR/java.txt"; rm -f "$VERIFY_DIR"/*.result

  echo "Redis TLS, $(redis-cli --version):"
  expect ok '' "TLS, ACL user $u" -- redis_tls_as "$t/ca.pem" --user "$u" --pass "$p"
  expect ok '' "TLS, default user with its password" -- redis_tls_as "$t/ca.pem" -a "$p"
  expect ok '' "TLS with the client certificate (optional mTLS)" -- \
    redis_tls_as "$t/ca.pem" --cert "$t/client.pem" --key "$t/client.key" --user "$u" --pass "$p"
  expect refused 'WRONGPASS' "TLS, wrong password: refused" -- redis_tls_as "$t/ca.pem" --user "$u" --pass wrong-password
  expect refused 'NOAUTH' "TLS, no password: refused" -- redis_tls_as "$t/ca.pem"
  expect refused 'certificate verify failed' "client trusts another CA: refused" -- redis_tls_as "$t/other-ca.pem" --user "$u" --pass "$p"
  expect refused 'I/O error|closed the connection' "client certificate from an untrusted CA: refused" -- \
    redis_tls_as "$t/ca.pem" --cert "$t/untrusted-client.pem" --key "$t/untrusted-client.key" --user "$u" --pass "$p"
  expect refused 'I/O error|closed|reset' "plaintext to the TLS port: refused" -- \
    sh -c "timeout 5 redis-cli -h 127.0.0.1 -p $REDIS_TLS_PORT ping | grep -qx PONG"
  verify_results > "$VERIFY_DIR/redis.txt" || true
  cat "$VERIFY_DIR/redis.txt"; rm -f "$VERIFY_DIR"/*.result

  echo "Schema registry through nginx, $(curl --version | head -n 1 | cut -d' ' -f1-2):"
  expect ok 'HTTP 200' "HTTPS, basic auth as $u: GET subjects" -- curl_registry "$reg" --cacert "$t/ca.pem" -u "$u:$p"
  expect ok 'registered' "HTTPS, basic auth as $u: register a schema, read it back" -- registry_tls_roundtrip
  expect refused 'HTTP 401' "HTTPS, wrong password: refused" -- curl_registry "$reg" --cacert "$t/ca.pem" -u "$u:wrong-password"
  expect refused 'HTTP 401' "HTTPS, no credentials: refused" -- curl_registry "$reg" --cacert "$t/ca.pem"
  expect refused 'certificate' "client trusts another CA: refused" -- curl_registry "$reg" --cacert "$t/other-ca.pem" -u "$u:$p"
  expect refused 'subject name|does not match|certificate' "wrong-host server (certificate for wrong.example): refused" -- \
    curl_registry "$wrong_reg" --cacert "$t/ca.pem" -u "$u:$p"
  expect ok 'HTTP 200' "wrong-host server reached as wrong.example: accepted (only the name is wrong)" -- \
    curl_registry "https://wrong.example:$REGISTRY_WRONG_HOST_PORT" --resolve "wrong.example:$REGISTRY_WRONG_HOST_PORT:127.0.0.1" \
      --cacert "$t/ca.pem" -u "$u:$p"
  verify_results > "$VERIFY_DIR/registry.txt" || true
  cat "$VERIFY_DIR/registry.txt"

  ! grep -qh '^  FAIL' "$VERIFY_DIR"/*.txt || die "verify: some checks failed"
  say "verify: every check holds"
}
