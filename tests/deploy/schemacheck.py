"""schemacheck.py - validate homestream's Kafka messages against schemas/*.schema.json.

Reusable by any test (python3 standard library plus python3-jsonschema, Debian
12 ships 4.10; newer releases work too):

    import schemacheck
    schemacheck.validate("raw", message)        # raises SchemaViolation
    problems = schemacheck.errors("dlq", text)  # [] when valid

kind is "raw", "enriched" or "dlq". message is a decoded JSON value (dict) or
the message's bytes / text, which are parsed first (bytes must be UTF-8).

As a command: python3 schemacheck.py KIND [FILE] reads one JSON message per
line (stdin without FILE, e.g. from kcat -e) and exits 1 naming every line
that does not validate.
"""

import json
import os
import sys

try:
    import jsonschema
except ImportError:  # pragma: no cover - environment problem, reported clearly
    sys.stderr.write("schemacheck: python3-jsonschema is not installed "
                     "(apt-get install python3-jsonschema)\n")
    raise

KINDS = ("raw", "enriched", "dlq")

SCHEMA_DIR = os.environ.get(
    "HS_SCHEMA_DIR",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schemas"))


class SchemaViolation(ValueError):
    """Raised by validate(); .problems lists every violation found."""

    def __init__(self, kind, problems):
        self.kind = kind
        self.problems = list(problems)
        super().__init__("%s message violates its schema: %s"
                         % (kind, "; ".join(self.problems)))


def _load_schemas():
    schemas = {}
    for kind in KINDS:
        path = os.path.join(SCHEMA_DIR, kind + ".schema.json")
        with open(path, encoding="utf-8") as f:
            schemas[kind] = json.load(f)
    return schemas


def _make_validators(schemas):
    cls = jsonschema.Draft202012Validator
    for schema in schemas.values():
        cls.check_schema(schema)
    try:
        # jsonschema >= 4.18 resolves references through `referencing`.
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ImportError:
        Registry = None
    if Registry is not None:
        registry = Registry().with_resources(
            (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012))
            for s in schemas.values())
        return {k: cls(s, registry=registry) for k, s in schemas.items()}
    store = {s["$id"]: s for s in schemas.values()}
    return {k: cls(s, resolver=jsonschema.RefResolver.from_schema(s, store=store))
            for k, s in schemas.items()}


_validators = None


def _validator(kind):
    global _validators
    if kind not in KINDS:
        raise ValueError("unknown message kind %r (expected one of %s)"
                         % (kind, ", ".join(KINDS)))
    if _validators is None:
        _validators = _make_validators(_load_schemas())
    return _validators[kind]


def _describe(error):
    where = "/".join(str(p) for p in error.absolute_path) or "(message)"
    text = error.message
    if len(text) > 200:
        # jsonschema starts such messages with the whole instance; say which
        # rule failed instead.
        text = "fails %s %s" % (error.validator, json.dumps(error.validator_value)[:150])
    return "%s: %s" % (where, text)


def errors(kind, message):
    """Returns a list of human-readable violations, empty when message is valid."""
    validator = _validator(kind)
    if isinstance(message, (bytes, bytearray)):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError as e:
            return ["(message): not UTF-8: %s" % e]
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except ValueError as e:
            return ["(message): not JSON: %s" % e]
    found = []
    for error in sorted(validator.iter_errors(message), key=lambda e: list(e.absolute_path)):
        # A failed if/then/else or anyOf reports its branches' causes in context.
        found.append(_describe(error))
        for sub in error.context or ():
            found.append("  " + _describe(sub))
    return found


def validate(kind, message):
    """Raises SchemaViolation when message is not a valid `kind` message."""
    problems = errors(kind, message)
    if problems:
        raise SchemaViolation(kind, problems)


def main(argv):
    if len(argv) not in (2, 3) or argv[1] not in KINDS:
        sys.stderr.write("usage: schemacheck.py raw|enriched|dlq [FILE]\n")
        return 2
    stream = open(argv[2], "rb") if len(argv) == 3 else sys.stdin.buffer
    bad = 0
    with stream:
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            problems = errors(argv[1], line)
            if problems:
                bad += 1
                print("line %d:" % lineno)
                for p in problems:
                    print("  " + p)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
