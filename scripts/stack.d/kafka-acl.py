#!/usr/bin/env python3
"""Create Kafka ACL bindings for scripts/stack, without a JVM.

Sends one CreateAcls request (v1, the oldest version Kafka 4.x still serves, KIP-896) to a
listener whose principal may alter ACLs (the stack's PLAINTEXT listener: User:ANONYMOUS is a
super user there). Creating a binding that exists already succeeds, so this is idempotent.

Usage: kafka-acl.py HOST PORT BINDING...
  BINDING = allow|deny:PRINCIPAL:KIND:NAME, PRINCIPAL like User:alice or User:*,
  KIND = topic, topic-prefix, group or group-prefix; the operation is always All, any host.
  e.g. deny:User:denied:topic-prefix:denied-
"""
import socket
import struct
import sys
import time

API_CREATE_ACLS, VERSION = 30, 1
RESOURCE = {"topic": 2, "group": 3}              # ResourceType
PATTERN = {False: 3, True: 4}                    # PatternType LITERAL, PREFIXED
OPERATION_ALL = 2                                # AclOperation ALL
PERMISSION = {"deny": 2, "allow": 3}             # AclPermissionType


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def parse_binding(text):
    try:
        perm, ptype, pname, kind, name = text.split(":", 4)
        resource, _, prefix = kind.partition("-")
        if prefix not in ("", "prefix"):
            raise ValueError
        return struct.pack(">b", RESOURCE[resource]) + string(name) + struct.pack(">b", PATTERN[bool(prefix)]) \
            + string(f"{ptype}:{pname}") + string("*") + struct.pack(">bb", OPERATION_ALL, PERMISSION[perm])
    except (ValueError, KeyError):
        raise SystemExit(f"bad binding {text!r}: want allow|deny:User:NAME:topic|topic-prefix|group|group-prefix:NAME")


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return buf


def create_acls(host, port, creations):
    client_id = b"kscore-stack"
    header = struct.pack(">hhih", API_CREATE_ACLS, VERSION, 11, len(client_id)) + client_id
    request = header + struct.pack(">i", len(creations)) + b"".join(creations)
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", read_exact(sock, 4))
        resp = read_exact(sock, size)
    _corr, _throttle, n = struct.unpack_from(">iii", resp, 0)
    off, errors = 12, []
    for _ in range(n):
        (code, mlen) = struct.unpack_from(">hh", resp, off)
        off += 4
        message = resp[off:off + max(mlen, 0)].decode()
        off += max(mlen, 0)
        if code:
            errors.append(f"error {code}: {message}")
    return errors


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    host, port = sys.argv[1], int(sys.argv[2])
    creations = [parse_binding(b) for b in sys.argv[3:]]
    deadline = time.monotonic() + 30
    while True:  # the authorizer may still be loading just after the broker first answers
        try:
            errors = create_acls(host, port, creations)
        except OSError as exc:
            errors = [str(exc)]
        if not errors:
            print(f"created {len(creations)} ACL binding(s)")
            return
        if time.monotonic() > deadline:
            raise SystemExit("CreateAcls failed: " + "; ".join(errors))
        time.sleep(0.5)


if __name__ == "__main__":
    main()
