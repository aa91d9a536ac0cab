#!/usr/bin/env python3
"""Readiness check for scripts/stack when kcat is not installed.

Sends one real Kafka Metadata request (v4, the oldest version Kafka 4.x still serves,
KIP-896) for no topics, and succeeds when the broker answers with at least one broker.
Usage: kafka-ready.py HOST PORT [TIMEOUT_SECONDS]
"""
import socket
import struct
import sys


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return buf


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    client_id = b"kscore-stack"
    correlation_id = 7
    # request header v1: api_key=3 (Metadata), api_version=4, correlation_id, client_id
    header = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id
    # body v4: topics = [] (no topics: brokers only), allow_auto_topic_creation = false
    body = struct.pack(">ib", 0, 0)
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", read_exact(sock, 4))
        resp = read_exact(sock, size)
    (got_corr, _throttle, n_brokers) = struct.unpack_from(">iii", resp, 0)
    if got_corr != correlation_id:
        raise ValueError(f"unexpected correlation id {got_corr}")
    off = 12
    brokers = []
    for _ in range(n_brokers):
        (node_id, host_len) = struct.unpack_from(">ih", resp, off)
        off += 6
        bhost = resp[off:off + host_len].decode()
        off += host_len
        (bport, rack_len) = struct.unpack_from(">ih", resp, off)
        off += 6 + max(rack_len, 0)
        brokers.append(f"{node_id}@{bhost}:{bport}")
    if not brokers:
        raise ValueError("metadata lists no broker yet")
    print("brokers: " + ", ".join(brokers))


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # any failure means: not ready
        print(f"not ready: {exc}", file=sys.stderr)
        sys.exit(1)
