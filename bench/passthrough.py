"""The ceiling row of bench/service.ts: a pass-through copy in C, librdkafka through Python's
confluent-kafka (Debian's python3-confluent-kafka), with the same work per record as the service's
provenance (five small headers), acks=all and idempotence. It never commits: the benchmark counts
the records that reach the output topic.

    python3 bench/passthrough.py <brokers> <input topic> <output topic> <group>
"""
import signal
import sys

from confluent_kafka import Consumer, Producer

brokers, source, target, group = sys.argv[1:5]
consumer = Consumer({
    "bootstrap.servers": brokers,
    "group.id": group,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
    "isolation.level": "read_committed",
})
producer = Producer({
    "bootstrap.servers": brokers,
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 5,
    "queue.buffering.max.messages": 500000,
})
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
consumer.subscribe([source])
while running:
    batch = consumer.consume(num_messages=500, timeout=0.1)
    for m in batch:
        if m.error():
            continue
        headers = [
            ("kscore-model", b"bench"),
            ("kscore-model-version", b"1"),
            ("kscore-source-topic", source.encode()),
            ("kscore-source-partition", str(m.partition()).encode()),
            ("kscore-source-offset", str(m.offset()).encode()),
        ]
        while True:
            try:
                producer.produce(target, m.value(), m.key(), partition=m.partition(), headers=headers)
                break
            except BufferError:
                producer.poll(0.01)
    producer.poll(0)
producer.flush(10)
consumer.close()
