"""Events and predictions through Confluent's own Python serializers (confluent-kafka, PyPI).

The integration tests use it to check that kscore reads what the official clients write and
writes what they read, with schemas registered as those clients register them.

  serde.py produce  --format F --topic T --namespace NS [--strategy S]   < {"features": [...], "rows": [[...]]}
      Writes one event per row, key r<i>, features nested at payload.features (Avro record,
      Protobuf message Event at message index [1], importing a features.proto of its own and
      google/protobuf/timestamp.proto as registry references, or a JSON Schema object).
  serde.py consume  --format F --topic T --count N
      Reads N predictions from the beginning and prints {"key", "value"} lines, value decoded by
      the format's deserializer (writer schema from the registry).
  serde.py register-prediction --subject S [--without-optional]
      Registers a kscore.Prediction Protobuf schema as ProtobufSerializer would (a base64
      FileDescriptorProto) and prints its id; --without-optional leaves `optional` off score and
      label (such a schema cannot carry a prediction without a score).

The broker and registry come from KAFKA_BROKERS and SCHEMA_REGISTRY_URL.
"""
import argparse
import json
import os
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    record_subject_name_strategy,
    topic_record_subject_name_strategy,
    topic_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.common._httpx_compat import httpx  # httpx2 or httpx, as the client uses
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer, _schema_to_str
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

F = descriptor_pb2.FieldDescriptorProto
STRATEGIES = {"topic": topic_subject_name_strategy, "record": record_subject_name_strategy, "topic-record": topic_record_subject_name_strategy}


# The client waits forever on a request the registry never answers (its default has no timeout);
# with one, a stalled request fails and is sent again (registering and lookups are idempotent).
REGISTRY_TIMEOUT_S, REGISTRY_ATTEMPTS = 10, 3


def registry():
    return SchemaRegistryClient({"url": os.environ["SCHEMA_REGISTRY_URL"], "timeout": REGISTRY_TIMEOUT_S})


def retried(fn, *args):
    """fn(*args), sent again when a registry request it makes times out."""
    for attempt in range(1, REGISTRY_ATTEMPTS + 1):
        try:
            return fn(*args)
        except httpx.TimeoutException as err:
            if attempt == REGISTRY_ATTEMPTS:
                raise
            print(f"serde.py: a schema registry request timed out ({err!r}); trying again", file=sys.stderr)


def avro_serializer(client, ns, features, conf):
    fields = [{"name": f, "type": "double"} for f in features]
    schema = {
        "type": "record", "name": "Event", "namespace": ns,
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "payload", "type": {"type": "record", "name": "Payload", "fields": [
                {"name": "features", "type": {"type": "record", "name": "Features", "fields": fields}},
            ]}},
        ],
    }
    ser = AvroSerializer(client, json.dumps(schema), conf=conf)
    return lambda key, values, ctx: ser({"id": key, "at": 1_700_000_000_000, "payload": {"features": values}}, ctx)


def json_serializer(client, ns, features, conf):
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#", "title": f"{ns}.Event", "type": "object",
        "properties": {
            "id": {"type": "string"},
            "payload": {"type": "object", "properties": {"features": {
                "type": "object", "properties": {f: {"type": "number"} for f in features}, "required": list(features),
            }}, "required": ["features"]},
        },
        "required": ["id", "payload"],
    }
    ser = JSONSerializer(json.dumps(schema), client, conf=conf)
    return lambda key, values, ctx: ser({"id": key, "payload": {"features": values}}, ctx)


def message(pool, full_name):
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))


def protobuf_classes(ns, features):
    """Event in <ns>/event.proto, after a message Other (so its message index is [1]); Features in a file of its own."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    feats = descriptor_pb2.FileDescriptorProto(name=f"{ns}/features.proto", package=ns, syntax="proto3")
    fm = feats.message_type.add(name="Features")
    for i, f in enumerate(features):
        fm.field.add(name=f, number=i + 1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    pool.Add(feats)
    event = descriptor_pb2.FileDescriptorProto(
        name=f"{ns}/event.proto", package=ns, syntax="proto3",
        dependency=["google/protobuf/timestamp.proto", f"{ns}/features.proto"],
    )
    event.message_type.add(name="Other").field.add(name="note", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    em = event.message_type.add(name="Event")
    em.field.add(name="id", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    em.field.add(name="at", number=2, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL, type_name=".google.protobuf.Timestamp")
    em.field.add(name="payload", number=3, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL, type_name=f".{ns}.Event.Payload")
    pm = em.nested_type.add(name="Payload")
    pm.field.add(name="features", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL, type_name=f".{ns}.Features")
    pool.Add(event)
    return message(pool, f"{ns}.Event"), message(pool, f"{ns}.Features")


def protobuf_serializer(client, ns, features, conf):
    event_class, features_class = protobuf_classes(ns, features)
    # skip.known.types off: timestamp.proto becomes a registry reference too, as older clients did.
    ser = ProtobufSerializer(event_class, client, conf={**conf, "skip.known.types": False})

    def serialize(key, values, ctx):
        e = event_class(id=key)
        e.at.seconds = 1_700_000_000
        e.payload.features.CopyFrom(features_class(**values))
        return ser(e, ctx)
    return serialize


SERIALIZERS = {"avro": avro_serializer, "json": json_serializer, "protobuf": protobuf_serializer}


def produce(args):
    data = json.load(sys.stdin)
    features = data["features"]
    client = registry()
    serialize = SERIALIZERS[args.format](client, args.namespace, features, {"subject.name.strategy": STRATEGIES[args.strategy]})
    producer = Producer({"bootstrap.servers": os.environ["KAFKA_BROKERS"], "acks": "all"})
    ctx = SerializationContext(args.topic, MessageField.VALUE)
    for i, row in enumerate(data["rows"]):
        producer.produce(args.topic, key=f"r{i}", value=retried(serialize, f"r{i}", dict(zip(features, row)), ctx))
    if producer.flush(30) != 0:
        sys.exit("serde.py: some events were not delivered")


def prediction_file(with_optional=True):
    """kscore.Prediction as a FileDescriptorProto, as protoc would compile kscore's .proto."""
    file = descriptor_pb2.FileDescriptorProto(name="kscore/prediction.proto", package="kscore", syntax="proto3")
    m = file.message_type.add(name="Prediction")
    m.field.add(name="model", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    m.field.add(name="version", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    for number, name, t in [(3, "score", F.TYPE_DOUBLE), (4, "label", F.TYPE_STRING)]:
        f = m.field.add(name=name, number=number, type=t, label=F.LABEL_OPTIONAL)
        if with_optional:  # proto3 `optional`: a synthetic oneof per field
            f.proto3_optional = True
            f.oneof_index = len(m.oneof_decl)
            m.oneof_decl.add(name=f"_{name}")
    m.field.add(name="probabilities", number=5, type=F.TYPE_DOUBLE, label=F.LABEL_REPEATED)
    return file


def protobuf_prediction_deserializer():
    pool = descriptor_pool.DescriptorPool()
    pool.Add(prediction_file())
    ds = ProtobufDeserializer(message(pool, "kscore.Prediction"), {})

    def deserialize(value, ctx):
        p = ds(value, ctx)
        return {
            "model": p.model, "version": p.version,
            "score": p.score if p.HasField("score") else None,
            "label": p.label if p.HasField("label") else None,
            "probabilities": list(p.probabilities),
        }
    return deserialize


def consume(args):
    client = registry()
    if args.format == "avro":
        deserialize = AvroDeserializer(client)
    elif args.format == "json":
        deserialize = JSONDeserializer(None, schema_registry_client=client)
    else:
        deserialize = protobuf_prediction_deserializer()
    consumer = Consumer({
        "bootstrap.servers": os.environ["KAFKA_BROKERS"], "group.id": f"serde-{os.getpid()}-{time.time()}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })
    consumer.subscribe([args.topic])
    ctx = SerializationContext(args.topic, MessageField.VALUE)
    seen, deadline = 0, time.monotonic() + args.timeout
    try:
        while seen < args.count and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is None or m.error() is not None:
                continue
            print(json.dumps({"key": m.key().decode(), "value": retried(deserialize, m.value(), ctx)}), flush=True)
            seen += 1
    finally:
        consumer.close()
    if seen < args.count:
        sys.exit(f"serde.py: read {seen} of {args.count} predictions in {args.timeout} s")


def register_prediction(args):
    pool = descriptor_pool.DescriptorPool()
    pool.Add(prediction_file(not args.without_optional))
    schema = Schema(_schema_to_str(pool.FindFileByName("kscore/prediction.proto")), "PROTOBUF")
    print(retried(registry().register_schema, args.subject, schema))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("produce")
    pr.add_argument("--format", choices=sorted(SERIALIZERS), required=True)
    pr.add_argument("--topic", required=True)
    pr.add_argument("--namespace", required=True)
    pr.add_argument("--strategy", choices=sorted(STRATEGIES), default="topic")
    co = sub.add_parser("consume")
    co.add_argument("--format", choices=sorted(SERIALIZERS), required=True)
    co.add_argument("--topic", required=True)
    co.add_argument("--count", type=int, required=True)
    co.add_argument("--timeout", type=float, default=60)
    rp = sub.add_parser("register-prediction")
    rp.add_argument("--subject", required=True)
    rp.add_argument("--without-optional", action="store_true")
    args = p.parse_args()
    {"produce": produce, "consume": consume, "register-prediction": register_prediction}[args.command](args)


if __name__ == "__main__":
    main()
