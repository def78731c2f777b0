#!/usr/bin/env python3
"""Example downstream consumer of Heimdall's topics, in Python.

It decodes every event from the Avro schema files alone (schemas/*.avsc, or a
copy of them), with fastavro: it reads the single-object header of the record
value, finds the writer schema by its CRC-64-AVRO fingerprint among the
files, decodes the envelope, then the payload the same way (resolved to the
newest version of its record), and prints one JSON line per event, the same
shape as deploy/examples/consumer-go. See schemas/README.md for the contract.

    python3 consume.py -brokers localhost:59092 -ca-file ../../../.stack/ca/ca.crt \\
        -schemas ../../../schemas -topic heimdall.events -from-beginning -max 10

An event of a type this consumer does not know is skipped (reported on
stderr). A record it cannot decode stops it with an error (exit status 1):
update the schema files rather than lose events. Exit status 2: bad flags.
"""

import argparse
import base64
import datetime
import decimal
import io
import json
import math
import os
import re
import signal
import ssl
import struct
import sys
import time
import uuid

from fastavro import parse_schema, schemaless_reader
from fastavro.schema import fingerprint, to_parsing_canonical_form
from kafka import KafkaConsumer, OffsetAndMetadata

# The event types this consumer knows and the record holding each one's
# payload (schemas/README.md, "Event types"). Any other type is skipped.
EVENT_TYPES = {
    "entity.observed": "heimdall.events.EntityObserved",
    "relation.observed": "heimdall.events.RelationObserved",
    "ingest.rejected": "heimdall.events.IngestRejected",
    "classification.changed": "heimdall.events.ClassificationChanged",
    "retraction.requested": "heimdall.events.RetractionRequested",
    "audit.recorded": "heimdall.events.AuditRecorded",
    "pii.decryption_audited": "heimdall.events.DecryptionAudited",
    "enrichment.recorded": "heimdall.events.EnrichmentRecorded",
    "enrichment.requested": "heimdall.events.EnrichmentRequested",
}
ENVELOPE = "heimdall.events.Envelope"

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
FILE_NAME = re.compile(r"^([a-z0-9_]+)\.v([0-9]+)\.avsc$")


class DecodeError(Exception):
    """A record that cannot be decoded with the schema files."""


# --- canonical form and fingerprint ------------------------------------------


def full_name(name, namespace):
    """The full name of name in namespace, and the namespace it sets."""
    if "." in name:
        return name, name.rsplit(".", 1)[0]
    if not namespace:
        return name, ""
    return namespace + "." + name, namespace


def _primitive_logical(typ, logical, s):
    if (typ, logical) in {
        ("string", "uuid"), ("int", "date"), ("int", "time-millis"), ("long", "time-micros"),
        ("long", "timestamp-millis"), ("long", "timestamp-micros"),
        ("long", "local-timestamp-millis"), ("long", "local-timestamp-micros"),
    }:
        return ',"logicalType":"%s"' % logical
    if (typ, logical) == ("bytes", "decimal"):
        return _decimal(s, -1)
    return ""


def _decimal(s, size):
    prec, scale = s.get("precision", 0), s.get("scale", 0)
    if not isinstance(prec, int) or not isinstance(scale, int) or prec <= 0 or scale < 0 or scale > prec:
        return ""
    if size > 0 and prec > math.floor(math.log10(2 ** (8 * size) - 1)):
        return ""
    out = ',"logicalType":"decimal","precision":%d' % prec
    if scale > 0:
        out += ',"scale":%d' % scale
    return out


def heimdall_canonical_form(s, ns=""):
    """Avro's Parsing Canonical Form, except that a logical type the Avro
    specification defines stays right after "type" (with a decimal's
    precision and scale): the form Heimdall's fingerprints are computed over
    (schemas/README.md, "Fingerprints")."""
    if isinstance(s, str):
        return json.dumps(s if s in PRIMITIVES else full_name(s, ns)[0])
    if isinstance(s, list):
        return "[" + ",".join(heimdall_canonical_form(t, ns) for t in s) + "]"
    typ = s["type"]
    if not isinstance(typ, str):
        return heimdall_canonical_form(typ, ns)
    if typ in PRIMITIVES:
        logical = _primitive_logical(typ, s.get("logicalType"), s)
        return '{"type":"%s"%s}' % (typ, logical) if logical else json.dumps(typ)
    if typ in ("record", "error", "enum", "fixed"):
        name = s["name"]
        if "namespace" in s and "." not in name:
            ns = s["namespace"]
        full, inner = full_name(name, ns)
        out = '{"name":%s,"type":"%s"' % (json.dumps(full), typ)
        if typ in ("record", "error"):
            out += ',"fields":[' + ",".join(
                '{"name":%s,"type":%s}' % (json.dumps(f["name"]), heimdall_canonical_form(f["type"], inner))
                for f in s["fields"]) + "]"
        elif typ == "enum":
            out += ',"symbols":[' + ",".join(json.dumps(x) for x in s["symbols"]) + "]"
        else:
            out += ',"size":%d' % s["size"]
            logical = s.get("logicalType")
            if logical == "duration" and s["size"] == 12:
                out += ',"logicalType":"duration"'
            elif logical == "decimal":
                out += _decimal(s, s["size"])
        return out + "}"
    if typ == "array":
        return '{"type":"array","items":%s}' % heimdall_canonical_form(s["items"], ns)
    if typ == "map":
        return '{"type":"map","values":%s}' % heimdall_canonical_form(s["values"], ns)
    return heimdall_canonical_form(typ, ns)  # {"type": "SomeNamedType"}


_CRC_EMPTY = 0xC15D213AA4D7A795
_CRC_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (_CRC_EMPTY & -(_fp & 1))
    _CRC_TABLE.append(_fp)


def crc64_avro(data):
    """CRC-64-AVRO (Rabin) of data, little-endian as on the wire."""
    fp = _CRC_EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _CRC_TABLE[(fp ^ byte) & 0xFF]
    return fp.to_bytes(8, "little")


# --- schema files ------------------------------------------------------------


class SchemaFile:
    def __init__(self, file, record, version, raw, parsed, names):
        self.file, self.record, self.version = file, record, version
        self.raw, self.parsed, self.names = raw, parsed, names


def _collect_names(s, ns, names):
    """Every named type defined in s, by full name."""
    if isinstance(s, list):
        for t in s:
            _collect_names(t, ns, names)
    elif isinstance(s, dict):
        typ = s.get("type")
        if typ in ("record", "error", "enum", "fixed"):
            name = s["name"]
            if "namespace" in s and "." not in name:
                ns = s["namespace"]
            full, ns = full_name(name, ns)
            names[full] = (s, ns)
            for f in s.get("fields", []):
                _collect_names(f["type"], ns, names)
        elif typ == "array":
            _collect_names(s["items"], ns, names)
        elif typ == "map":
            _collect_names(s["values"], ns, names)
        elif isinstance(typ, (dict, list)):
            _collect_names(typ, ns, names)


class Registry:
    """The schema files, by fingerprint; the newest version of each record
    is the reader schema."""

    def __init__(self, directory):
        self.by_fingerprint = {}
        self.newest = {}
        files = sorted(f for f in os.listdir(directory) if f.endswith(".avsc"))
        if not files:
            raise DecodeError("no *.avsc schema file in %s (-schemas)" % directory)
        for f in files:
            m = FILE_NAME.match(f)
            if not m:
                raise DecodeError("schema file %s: name is not <record>.v<N>.avsc" % f)
            with open(os.path.join(directory, f), encoding="utf-8") as fh:
                raw = json.load(fh)
            names = {}
            _collect_names(raw, "", names)
            record = full_name(raw["name"], raw.get("namespace", ""))[0]
            # Each file on its own: versions of one record share names.
            sf = SchemaFile(f, record, int(m.group(2)), raw, parse_schema(raw, named_schemas={}), names)
            # Indexed under the fingerprint Heimdall writes and under the
            # Avro specification's (they differ only where logical types are).
            heimdall_fp = crc64_avro(heimdall_canonical_form(raw).encode("utf-8"))
            spec_fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(raw), "CRC-64-AVRO"))
            for fp in (heimdall_fp, spec_fp):
                prev = self.by_fingerprint.get(fp)
                if prev is not None and prev is not sf:
                    raise DecodeError("schema files %s and %s have the same canonical form" % (prev.file, f))
                self.by_fingerprint[fp] = sf
            cur = self.newest.get(record)
            if cur is None or sf.version > cur.version:
                self.newest[record] = sf
        if ENVELOPE not in self.newest:
            raise DecodeError("no schema file for %s in %s" % (ENVELOPE, directory))

    def decode_single_object(self, record, b):
        """Decode a single-object encoding of record: bytes 0-1 are C3 01,
        bytes 2-9 the writer schema's fingerprint, the rest the body. The
        value is resolved to the newest version of the record."""
        if len(b) < 10 or b[0] != 0xC3 or b[1] != 0x01:
            raise DecodeError("not an Avro single-object encoding (want C3 01, an 8-byte fingerprint, the body)")
        fp = bytes(b[2:10])
        writer = self.by_fingerprint.get(fp)
        if writer is None:
            raise DecodeError("writer schema fingerprint %s is in no schema file: update the schema files" % fp.hex())
        if writer.record != record:
            raise DecodeError("writer schema %s is %s, want %s" % (writer.file, writer.record, record))
        reader = self.newest[record]
        try:
            value = schemaless_reader(io.BytesIO(b[10:]), writer.parsed,
                                      None if reader is writer else reader.parsed)
        except Exception as e:  # fastavro raises several kinds
            raise DecodeError("decoding %s: %s" % (writer.file, e)) from e
        return value, writer, reader

    def decode(self, value):
        """The envelope (as JSON) with its payload decoded, the envelope's
        and the payload's schema files; or a reason to skip the event."""
        try:
            env, env_schema, env_reader = self.decode_single_object(ENVELOPE, value)
        except DecodeError as e:
            raise DecodeError("envelope: %s" % e) from e
        typ = env["event_type"]
        record = EVENT_TYPES.get(typ)
        if record is None:
            return None, None, None, "unknown event type %r (event %s)" % (typ, env["event_id"])
        try:
            payload, payload_schema, payload_reader = self.decode_single_object(record, env["payload"])
        except DecodeError as e:
            raise DecodeError("%s payload: %s" % (typ, e)) from e
        out = to_json(env, env_reader.raw, env_reader.names, "")
        out["payload"] = to_json(payload, payload_reader.raw, payload_reader.names, "")
        return out, env_schema, payload_schema, None


# --- JSON output -------------------------------------------------------------


def format_time(t):
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _float32(x):
    """The shortest decimal that reads back as the same 32-bit float, as Go
    prints a float32."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    for digits in range(1, 10):
        s = float("%.*g" % (digits, x))
        try:
            if struct.unpack("<f", struct.pack("<f", s))[0] == x:
                return s
        except OverflowError:  # rounded above the largest float32
            continue
    return x


def _primitive(v, typ):
    if isinstance(v, datetime.datetime):
        return format_time(v)
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, float):
        if typ == "float":
            return _float32(v)
        if math.isnan(v) or math.isinf(v):
            return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return v


def _branch_matches(v, s, names, ns):
    if isinstance(s, str) and s not in PRIMITIVES:
        s, ns = names[full_name(s, ns)[0]]
    typ = s if isinstance(s, str) else s.get("type")
    if isinstance(typ, (dict, list)):
        return _branch_matches(v, typ, names, ns)
    return {
        "null": v is None,
        "boolean": isinstance(v, bool),
        "int": isinstance(v, (int, datetime.date, datetime.time)) and not isinstance(v, bool),
        "long": isinstance(v, (int, datetime.datetime, datetime.time)) and not isinstance(v, bool),
        "float": isinstance(v, float),
        "double": isinstance(v, float),
        "bytes": isinstance(v, (bytes, bytearray, decimal.Decimal)),
        "string": isinstance(v, (str, uuid.UUID)),
        "record": isinstance(v, dict),
        "error": isinstance(v, dict),
        "map": isinstance(v, dict),
        "array": isinstance(v, list),
        "enum": isinstance(v, str),
        "fixed": isinstance(v, (bytes, bytearray, decimal.Decimal)),
    }.get(typ, False)


def to_json(v, s, names, ns):
    """A decoded Avro value as JSON, guided by its schema: timestamps as RFC
    3339 UTC strings with microseconds, bytes as base64, floats as the
    shortest decimal of their 32 bits."""
    if isinstance(s, str):
        if s in PRIMITIVES:
            return _primitive(v, s)
        s, ns = names[full_name(s, ns)[0]]
    if isinstance(s, list):  # union: the branch the value came from
        for branch in s:
            if _branch_matches(v, branch, names, ns):
                return to_json(v, branch, names, ns)
        return _primitive(v, None)
    typ = s["type"]
    if isinstance(typ, (dict, list)):
        return to_json(v, typ, names, ns)
    if typ in PRIMITIVES:
        return _primitive(v, typ)
    if typ in ("record", "error"):
        name = s["name"]
        if "namespace" in s and "." not in name:
            ns = s["namespace"]
        _, inner = full_name(name, ns)
        return {f["name"]: to_json(v[f["name"]], f["type"], names, inner) for f in s["fields"]}
    if typ == "array":
        return [to_json(e, s["items"], names, ns) for e in v]
    if typ == "map":
        return {k: to_json(e, s["values"], names, ns) for k, e in v.items()}
    if typ in ("enum", "fixed"):
        return _primitive(v, typ)
    return to_json(v, typ, names, ns)  # {"type": "SomeNamedType"}


# --- Kafka -------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(prog="consume.py", description=__doc__.split("\n\n")[0])
    p.add_argument("-brokers", "--brokers", default=os.environ.get("HEIMDALL_KAFKA_BROKERS", ""),
                   help="comma-separated TLS bootstrap brokers, host:port (default $HEIMDALL_KAFKA_BROKERS)")
    p.add_argument("-ca-file", "--ca-file", dest="ca_file", default=os.environ.get("HEIMDALL_CA_FILE", ""),
                   help="PEM CA bundle that issued the brokers' certificates (default $HEIMDALL_CA_FILE; system roots if empty)")
    p.add_argument("-user", "--user", default=os.environ.get("HEIMDALL_KAFKA_USER", ""),
                   help="Kafka principal (SCRAM-SHA-512 user; default $HEIMDALL_KAFKA_USER); "
                        "its password is read from $HEIMDALL_KAFKA_PASSWORD, never from a flag")
    p.add_argument("-topic", "--topic", default="heimdall.events",
                   help="topic to read, or a comma-separated list")
    p.add_argument("-schemas", "--schemas", default="schemas",
                   help="directory of the <record>.v<N>.avsc schema files")
    p.add_argument("-from-beginning", "--from-beginning", dest="from_beginning", action="store_true",
                   help="start at the oldest record (default: only new records; with -group, where the group left off)")
    p.add_argument("-max", "--max", type=int, default=0,
                   help="stop after this many records (printed plus skipped); 0 reads until interrupted")
    p.add_argument("-group", "--group", default="",
                   help="consumer group; offsets are committed after the records are printed (default: no group)")
    p.add_argument("-timeout", "--timeout", type=float, default=0,
                   help="give up after this many seconds (an error if -max records did not come); 0 waits for ever")
    a = p.parse_args(argv)
    a.brokers = [b.strip() for b in a.brokers.split(",") if b.strip()]
    a.topics = [t.strip() for t in a.topic.split(",") if t.strip()]
    if not a.brokers:
        p.error("-brokers is required (or set HEIMDALL_KAFKA_BROKERS)")
    if not a.topics:
        p.error("-topic is required")
    a.password = os.environ.get("HEIMDALL_KAFKA_PASSWORD", "")
    if not a.user or not a.password:
        p.error("-user (or HEIMDALL_KAFKA_USER) and HEIMDALL_KAFKA_PASSWORD are required: the brokers authenticate every client")
    if a.max < 0:
        p.error("-max must not be negative")
    return a


def tls_context(ca_file):
    """TLS 1.3 only, verifying the brokers' names against ca_file (or the
    system roots)."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def line_for(rec, env, env_schema, payload_schema):
    ts = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(milliseconds=rec.timestamp)
    return {
        "topic": rec.topic,
        "partition": rec.partition,
        "offset": rec.offset,
        "key": (rec.key or b"").decode("utf-8", "replace"),
        "timestamp": format_time(ts),
        "headers": {k: (v or b"").decode("utf-8", "replace") for k, v in (rec.headers or [])},
        "envelope_schema": env_schema.file,
        "payload_schema": payload_schema.file,
        "event": env,
    }


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv):
    args = parse_args(argv)
    try:
        registry = Registry(args.schemas)
    except (DecodeError, OSError, ValueError, KeyError) as e:
        print("consume.py: %s" % e, file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _interrupted)
    consumer = KafkaConsumer(
        bootstrap_servers=args.brokers,
        security_protocol="SASL_SSL",
        ssl_context=tls_context(args.ca_file),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=args.user,
        sasl_plain_password=args.password,
        client_id="heimdall-example-consumer-python",
        group_id=args.group or None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
    )
    consumer.subscribe(args.topics)
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    n = 0
    out = sys.stdout
    try:
        while args.max == 0 or n < args.max:
            wait_ms = 500
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    if args.max > 0:
                        print("consume.py: timed out after %gs: %d of %d records read" % (args.timeout, n, args.max),
                              file=sys.stderr)
                        return 1
                    return 0
                wait_ms = max(1, min(wait_ms, int(left * 1000)))
            batches = consumer.poll(timeout_ms=wait_ms)
            done = {}
            for tp, records in batches.items():
                for rec in records:
                    if args.max and n >= args.max:
                        break
                    try:
                        env, env_schema, payload_schema, skip = registry.decode(rec.value)
                    except DecodeError as e:
                        print("consume.py: record %s/%d@%d: %s" % (rec.topic, rec.partition, rec.offset, e),
                              file=sys.stderr)
                        return 1
                    if skip:
                        print("consume.py: skipping record %s/%d@%d: %s" % (rec.topic, rec.partition, rec.offset, skip),
                              file=sys.stderr)
                    else:
                        out.write(json.dumps(line_for(rec, env, env_schema, payload_schema), sort_keys=True,
                                             separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n")
                        out.flush()
                    done[tp] = rec.offset + 1
                    n += 1
            if args.group and done:
                # Commit only what was printed: at-least-once; dedupe by
                # event_id downstream.
                consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in done.items()})
            if args.max and n >= args.max:
                # The rest of the batch was not printed: forget it.
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close(autocommit=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
