# shellcheck shell=bash
# scripts/stack.d/tls.sh: test certificates for the secured servers, sourced by scripts/stack.
#
# Made with openssl once per run folder, into $RUN/tls (kept by `down`; delete the folder
# to make new ones). TEST ONLY: the keys are unencrypted and the CA signs whatever it is asked.
# EC P-256 keys: made in milliseconds, and every client here (Java, librdkafka, Node, OpenSSL)
# speaks ECDSA. Private keys are PKCS#8 ("BEGIN PRIVATE KEY"), which Kafka's PEM stores need.
#
#   ca.pem                  the CA that signed every certificate the servers present
#   server.pem, server.key  SAN IP:127.0.0.1, DNS:localhost (Kafka, Redis TLS, nginx)
#   client.pem, client.key  client certificate (CN=kscore) for mTLS, signed by ca.pem
#   wrong-host.pem, .key    signed by ca.pem, but for DNS:wrong.example only: presented by the
#                           wrong-host listeners, where hostname verification must fail
#   other-ca.pem            a CA that signed nothing the servers present (untrusted-CA tests)
#   untrusted-client.pem, .key  a client certificate signed by other-ca.pem: mTLS must refuse it
#   server-keystore.pem, wrong-host-keystore.pem  key + chain in one file, for Kafka's PEM keystores

TLS="$RUN/tls"
TLS_DAYS=825

tls_conf() { # the openssl configuration: subject and extensions of each kind of certificate
  cat <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[wrong_host]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

tls_ssl() { # openssl, quiet unless it fails
  local out
  out="$(openssl "$@" 2>&1)" || { printf '%s\n' "$out" >&2; die "openssl $1 failed"; }
}

tls_ca() { # tls_ca DIR NAME SUBJECT: a self-signed CA, NAME.pem + NAME.key
  local dir="$1" name="$2" subject="$3"
  tls_ssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -config "$dir/openssl.cnf" -extensions ca -subj "$subject" -days 3650 \
    -keyout "$dir/$name.key" -out "$dir/$name.pem"
}

tls_leaf() { # tls_leaf DIR NAME CA EXTENSIONS SUBJECT: NAME.pem + NAME.key, signed by CA
  local dir="$1" name="$2" ca="$3" ext="$4" subject="$5"
  tls_ssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -config "$dir/openssl.cnf" -subj "$subject" -keyout "$dir/$name.key" -out "$dir/$name.csr"
  tls_ssl x509 -req -sha256 -in "$dir/$name.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca.key" \
    -set_serial "0x$(openssl rand -hex 12)" -days "$TLS_DAYS" \
    -extfile "$dir/openssl.cnf" -extensions "$ext" -out "$dir/$name.pem"
  rm -f "$dir/$name.csr"
}

make_certs() { # once per run folder; made in a temporary folder, then moved into place
  [[ -f "$TLS/.complete" ]] && return 0
  command -v openssl >/dev/null || apt_install openssl || die "openssl is needed for the test certificates"
  say "making test certificates in $TLS (once per run folder)"
  local tmp o="/O=kscore stack (test only)"
  tmp="$(mktemp -d "$RUN/tls.tmp.XXXXXX")"
  tls_conf > "$tmp/openssl.cnf"
  tls_ca "$tmp" ca "$o/CN=kscore stack test CA"
  tls_ca "$tmp" other-ca "$o/CN=kscore stack other CA (not trusted by the servers)"
  tls_leaf "$tmp" server ca server "$o/CN=127.0.0.1"
  tls_leaf "$tmp" wrong-host ca wrong_host "$o/CN=wrong.example"
  tls_leaf "$tmp" client ca client "$o/CN=kscore"
  tls_leaf "$tmp" untrusted-client other-ca client "$o/CN=kscore"
  cat "$tmp/server.key" "$tmp/server.pem" "$tmp/ca.pem" > "$tmp/server-keystore.pem"
  cat "$tmp/wrong-host.key" "$tmp/wrong-host.pem" "$tmp/ca.pem" > "$tmp/wrong-host-keystore.pem"
  rm -f "$tmp/ca.key" "$tmp/other-ca.key"   # nothing is signed later: no CA key lies around
  chmod 600 "$tmp"/*.key "$tmp"/*-keystore.pem
  touch "$tmp/.complete"
  rm -rf "$TLS" && mv "$tmp" "$TLS"
  chmod 755 "$TLS"
}
