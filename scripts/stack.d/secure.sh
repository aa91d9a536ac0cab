# shellcheck shell=bash
# scripts/stack.d/secure.sh: the secured servers beside the plaintext ones, sourced by scripts/stack.
#
#   Kafka      extra listeners on the same broker: SASL_SSL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER
#              with unsigned test tokens), SSL with
#              required client certificates, SASL_PLAINTEXT, and WRONG_HOST (SSL, presents a
#              certificate for wrong.example only); StandardAuthorizer, every principal allowed
#              where no ACL exists, ACLs deny the user `denied` all topics prefixed `denied-`
#   Redis      a second redis-server, TLS only, password for the default user, ACL user kscore
#   registry   nginx in front of Apicurio: TLS + HTTP basic auth; a second server block presents
#              the wrong-host certificate
#
# TEST-ONLY credentials, fixed so that tests can rely on them. The same password serves the
# Redis default user (requirepass).
SECURE_USER=kscore
SECURE_PASSWORD=kscore-secret
DENIED_USER=denied            # authenticates everywhere, but may not touch topics $DENIED_PREFIX*
DENIED_PASSWORD=denied-secret
DENIED_PREFIX=denied-

# ---------------------------------------------------------------- Kafka
# SCRAM users go into the metadata when the storage is formatted (KIP-900)
kafka_scram_args() {
  local mech user
  for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
    for user in "$SECURE_USER=$SECURE_PASSWORD" "$DENIED_USER=$DENIED_PASSWORD"; do
      printf -- '--add-scram\n%s=[name=%s,password=%s]\n' "$mech" "${user%%=*}" "${user#*=}"
    done
  done
}

kafka_secure_listeners() { # the extra NAME://HOST:PORT entries of listeners/advertised.listeners
  printf 'SASL_SSL://127.0.0.1:%s,SSL://127.0.0.1:%s,SASL_PLAINTEXT://127.0.0.1:%s,WRONG_HOST://127.0.0.1:%s' \
    "$KAFKA_SASL_SSL_PORT" "$KAFKA_SSL_PORT" "$KAFKA_SASL_PLAINTEXT_PORT" "$KAFKA_WRONG_HOST_PORT"
}

kafka_secure_properties() { # appended to server.properties
  local name mech plain="org.apache.kafka.common.security.plain.PlainLoginModule required"
  plain+=" user_$SECURE_USER=\"$SECURE_PASSWORD\" user_$DENIED_USER=\"$DENIED_PASSWORD\";"
  cat <<EOF
# secured listeners (scripts/stack.d/secure.sh); TLS from $TLS, PEM stores
ssl.keystore.type=PEM
ssl.keystore.location=$TLS/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS/ca.pem
listener.name.ssl.ssl.client.auth=required
listener.name.wrong_host.ssl.keystore.location=$TLS/wrong-host-keystore.pem
# a client certificate's CN is its principal: CN=kscore -> User:kscore
ssl.principal.mapping.rules=RULE:^CN=([^,]+)(,.*)?\$/\$1/,DEFAULT
# OAUTHBEARER with Kafka's unsecured validator: tokens are unsigned JWTs (alg none), test only
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
# authorisation: ACLs only where tests want a refusal; the plaintext and controller
# listeners authenticate nobody (User:ANONYMOUS), which stays a super user
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=true
super.users=User:ANONYMOUS
EOF
  for name in sasl_ssl sasl_plaintext; do
    echo "listener.name.$name.plain.sasl.jaas.config=$plain"
    for mech in scram-sha-256 scram-sha-512; do
      echo "listener.name.$name.$mech.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    done
    echo "listener.name.$name.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
  done
}

kafka_has_secured_listeners() { grep -q '^listeners=.*SASL_SSL://' "$RUN/kafka/server.properties" 2>/dev/null; }

kafka_secure_setup() { # after Kafka answers: the ACLs (idempotent: an existing binding is kept)
  python3 "$HERE/kafka-acl.py" 127.0.0.1 "$KAFKA_PORT" \
    "allow:User:*:topic-prefix:$DENIED_PREFIX" "deny:User:$DENIED_USER:topic-prefix:$DENIED_PREFIX" \
    > "$RUN/kafka-acl.log" 2>&1 || { cat "$RUN/kafka-acl.log" >&2; die "creating Kafka's ACLs failed"; }
}

# kcat is librdkafka 2.0.2 on Debian 12: its SCRAM is refused by Kafka 4.x (a client bug fixed in
# librdkafka 2.6.1), so the SASL readiness checks use PLAIN; `verify` checks SCRAM with Kafka's
# own Java client.
kcat_secure() { # kcat_secure sasl_ssl|ssl|sasl_plaintext [user password] -- kcat args...
  local kind="$1"; shift
  local args=() user="$SECURE_USER" pass="$SECURE_PASSWORD"
  if [[ "${1:-}" != -- ]]; then user="$1" pass="$2"; shift 2; fi
  shift
  case "$kind" in
    sasl_ssl) args=(-b "127.0.0.1:$KAFKA_SASL_SSL_PORT" -X security.protocol=SASL_SSL -X "ssl.ca.location=$TLS/ca.pem") ;;
    ssl) args=(-b "127.0.0.1:$KAFKA_SSL_PORT" -X security.protocol=SSL -X "ssl.ca.location=$TLS/ca.pem"
               -X "ssl.certificate.location=$TLS/client.pem" -X "ssl.key.location=$TLS/client.key") ;;
    sasl_plaintext) args=(-b "127.0.0.1:$KAFKA_SASL_PLAINTEXT_PORT" -X security.protocol=SASL_PLAINTEXT) ;;
  esac
  [[ "$kind" == ssl ]] || args+=(-X sasl.mechanisms=PLAIN -X "sasl.username=$user" -X "sasl.password=$pass")
  kcat "${args[@]}" "$@"
}
kafka_meta_ok() { grep -q '"brokers":\[{'; }
tls_probe() { # tls_probe PORT [openssl s_client args...]: a verified TLS handshake with 127.0.0.1
  local port="$1"; shift
  timeout 5 openssl s_client -connect "127.0.0.1:$port" -CAfile "$TLS/ca.pem" -verify_return_error \
    -verify_ip 127.0.0.1 "$@" < /dev/null > /dev/null 2>&1
}
# without kcat (not installable: not root), the readiness of a secured listener is its TLS handshake
kafka_sasl_ssl_ready() {
  if command -v kcat >/dev/null; then kcat_secure sasl_ssl -- -L -m 3 -J 2>/dev/null | kafka_meta_ok
  else tls_probe "$KAFKA_SASL_SSL_PORT"; fi
}
kafka_ssl_ready() {
  if command -v kcat >/dev/null; then kcat_secure ssl -- -L -m 3 -J 2>/dev/null | kafka_meta_ok
  else tls_probe "$KAFKA_SSL_PORT" -cert "$TLS/client.pem" -key "$TLS/client.key"; fi
}
kafka_sasl_plaintext_ready() {
  if command -v kcat >/dev/null; then kcat_secure sasl_plaintext -- -L -m 3 -J 2>/dev/null | kafka_meta_ok
  else port_busy "$KAFKA_SASL_PLAINTEXT_PORT"; fi
}
kafka_secure_ready() { kafka_sasl_ssl_ready && kafka_ssl_ready && kafka_sasl_plaintext_ready; }

# ---------------------------------------------------------------- Redis with TLS
redis_tls_pid() { pid_of redis-tls "redis-server 127.0.0.1:$REDIS_TLS_PORT "; }
redis_tls_cli() { # redis_tls_cli [redis-cli args...]: as kscore, trusting ca.pem
  timeout 5 redis-cli --tls --cacert "$TLS/ca.pem" -h 127.0.0.1 -p "$REDIS_TLS_PORT" \
    --user "$SECURE_USER" --pass "$SECURE_PASSWORD" --no-auth-warning "$@"
}
redis_tls_ready() { [[ "$(redis_tls_cli ping 2>/dev/null)" == PONG ]]; }

start_redis_tls() { # no persistence: nothing of the project's lives only here
  if redis_tls_pid >/dev/null; then return 0; fi
  say "starting Redis (TLS only) on 127.0.0.1:$REDIS_TLS_PORT"
  rm -f "$RUN/redis-tls.pid"
  : > "$RUN/redis-tls.log"
  (cd "$RUN" && redis-server --port 0 --tls-port "$REDIS_TLS_PORT" --bind 127.0.0.1 \
    --tls-cert-file "$TLS/server.pem" --tls-key-file "$TLS/server.key" \
    --tls-ca-cert-file "$TLS/ca.pem" --tls-auth-clients optional \
    --requirepass "$SECURE_PASSWORD" --user "$SECURE_USER" on ">$SECURE_PASSWORD" '~*' '&*' '+@all' \
    --save '' --appendonly no --daemonize yes --pidfile "$RUN/redis-tls.pid" \
    --logfile "$RUN/redis-tls.log" --dir "$RUN") > /dev/null 2>&1 < /dev/null 8>&- 9>&-
}

# ---------------------------------------------------------------- registry behind nginx
NGINX_DIR="$RUN/nginx"
registry_tls_pid() { pid_of registry-tls "$NGINX_DIR/nginx.conf"; }
registry_tls_code() { # the HTTP status of an authenticated GET through nginx (000: no answer)
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$TLS/ca.pem" \
    -u "$SECURE_USER:$SECURE_PASSWORD" "https://127.0.0.1:$REGISTRY_TLS_PORT/apis/ccompat/v7/subjects"
}
registry_tls_ready() { [[ "$(registry_tls_code)" == 200 ]]; }
registry_tls_alive() { [[ "$(registry_tls_code)" != 000 ]]; }   # nginx answers, maybe with 502

nginx_conf() { # the whole configuration: every path in the run folder, nothing system-wide
  local t="$NGINX_DIR/tmp" proxy
  proxy="proxy_pass http://127.0.0.1:$REGISTRY_PORT;
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_read_timeout 30s;"
  cat <<EOF
# written by scripts/stack up: TLS + basic auth in front of Apicurio (test only)
daemon off;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $RUN/registry-tls.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $t/body;
  proxy_temp_path $t/proxy;
  fastcgi_temp_path $t/fastcgi;
  uwsgi_temp_path $t/uwsgi;
  scgi_temp_path $t/scgi;
  client_max_body_size 16m;
  ssl_protocols TLSv1.2 TLSv1.3;
  auth_basic "kscore stack registry";
  auth_basic_user_file $NGINX_DIR/htpasswd;
  server {
    listen 127.0.0.1:$REGISTRY_TLS_PORT ssl;
    ssl_certificate $TLS/server.pem;
    ssl_certificate_key $TLS/server.key;
    location / {
      $proxy
    }
  }
  server { # presents a certificate for wrong.example: hostname verification must refuse it
    listen 127.0.0.1:$REGISTRY_WRONG_HOST_PORT ssl;
    ssl_certificate $TLS/wrong-host.pem;
    ssl_certificate_key $TLS/wrong-host.key;
    location / {
      $proxy
    }
  }
}
EOF
}

start_registry_tls() {
  if registry_tls_pid >/dev/null; then return 0; fi
  local nginx
  nginx="$(command -v nginx || echo /usr/sbin/nginx)"
  mkdir -p "$NGINX_DIR/tmp"
  # the workers (nobody, when started by root) read the password file on every request
  printf '%s:%s\n' "$SECURE_USER" "$(openssl passwd -apr1 "$SECURE_PASSWORD")" > "$NGINX_DIR/htpasswd"
  chmod 644 "$NGINX_DIR/htpasswd"
  nginx_conf > "$NGINX_DIR/nginx.conf"
  local out
  if ! out="$("$nginx" -t -q -p "$NGINX_DIR" -e "$RUN/registry-tls.log" -c "$NGINX_DIR/nginx.conf" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "nginx refused $NGINX_DIR/nginx.conf"
  fi
  say "starting nginx (TLS + basic auth for the registry) on 127.0.0.1:$REGISTRY_TLS_PORT"
  spawn registry-tls "$RUN/registry-tls.log" "$nginx" -p "$NGINX_DIR" -e "$RUN/registry-tls.log" \
    -c "$NGINX_DIR/nginx.conf"
}
