"""OpenAPI 3.0.3 -> JSON Schema, for checking emulated responses against Spotify's spec.

The conformance test (test_conformance.py) asks this module one question:
"is this body a valid answer of METHOD PATH with STATUS according to the spec?"
To answer it, the spec's schemas are translated once into plain JSON Schema
(draft 7, validated by Debian's python3-jsonschema):

- `$ref: '#/components/schemas/X'` becomes `#/definitions/X`; references to
  `#/components/responses/...` and `#/components/parameters/...` are resolved
  in place.
- `nullable: true` allows null (OpenAPI 3.0 has no `type: null`).
- `allOf` is flattened: Spotify's spec builds objects by composition
  (SimplifiedAlbumObject = AlbumBase + {artists}) and uses `allOf: [$ref]` to
  attach a description to a reference. Merging the parts into one object lets
  the next rule work.
- Objects are CLOSED (`additionalProperties: false`) when `closed=True`: the
  spec never forbids extra fields, but the emulator must not invent fields, so
  every field it sends must be one the spec names (or one the test's allow-list
  names explicitly).
- Documentation-only keywords (`description`, `example`, `deprecated`,
  `discriminator`, `x-*`, ...) are dropped; `format: date-time` is checked.

Known differences between the spec and Spotify's 2026 behaviour are applied as
named *patches* to the OpenAPI document BEFORE translation (so a patch on a base
schema reaches every schema composed from it). A patch that does not match the
spec exactly (property missing, already nullable, not required...) raises
SpecError, so a stale allow-list entry cannot silently widen anything.
"""
import copy
import re

import jsonschema
import yaml

DRAFT = "http://json-schema.org/draft-07/schema#"

# Keywords that document but do not constrain; dropped in translation.
_DOC_KEYWORDS = {"description", "example", "examples", "deprecated", "discriminator",
                 "externalDocs", "xml", "title", "readOnly", "writeOnly"}
# Keywords JSON Schema draft 7 understands with the same meaning as OpenAPI 3.0.
_PLAIN_KEYWORDS = {"type", "enum", "format", "minimum", "maximum", "exclusiveMinimum",
                   "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems",
                   "maxItems", "uniqueItems", "minProperties", "maxProperties",
                   "multipleOf", "required", "default"}

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class SpecError(Exception):
    """The spec (or a patch applied to it) is not what this module expects."""


def format_checker():
    """A FormatChecker for the formats Spotify's spec uses that mean something.

    jsonschema's own date-time check needs rfc3339-validator, which Debian does
    not ship by default; RFC 3339 date-times are simple enough to match here.
    `float`, `int64` are informative in OpenAPI and not checked."""
    fc = jsonschema.FormatChecker(formats=())

    @fc.checks("date-time")
    def _is_date_time(value):
        if not isinstance(value, str):
            return True
        return _DATE_TIME.match(value) is not None

    return fc


# --------------------------------------------------------------------------
# Patches (the allow-list mechanism)
# --------------------------------------------------------------------------

class Patch:
    """One named, justified change to the spec.

    kind:
      'drop'     - the property is gone (Spotify stopped sending it): removed from
                   `properties` and `required`, so with closed objects it must be ABSENT.
      'nullable' - the property may be null although the spec does not say so.
      'extra'    - a property the spec lacks, with the JSON (OpenAPI) schema `value`.
      'response' - one operation's answer is described by components.responses[value]
                   instead of what the spec says there.
    target: 'SchemaName.property' (a key of components.schemas and one of its
            properties, looking into its inline allOf parts), or for 'response'
            'METHOD /path/template STATUS'.
    """

    KINDS = ("drop", "nullable", "extra", "response")

    def __init__(self, name, kind, target, reason, value=None):
        if kind not in self.KINDS:
            raise ValueError(f"patch {name}: unknown kind {kind!r}")
        if kind == "response":
            if len(target.split(" ")) != 3 or not isinstance(value, str):
                raise ValueError(f"patch {name}: target must be 'METHOD /path STATUS' and value "
                                 f"a components.responses name, got {target!r}, {value!r}")
        else:
            if target.count(".") != 1:
                raise ValueError(f"patch {name}: target must be 'Schema.property', got {target!r}")
            if (kind == "extra") != (value is not None):
                raise ValueError(f"patch {name}: 'extra' needs a value schema, other kinds none")
        self.name, self.kind, self.target, self.reason, self.value = name, kind, target, reason, value

    def __repr__(self):
        return f"Patch({self.name}: {self.kind} {self.target})"

    def apply(self, doc):
        """Applies the patch to an OpenAPI document (modified in place)."""
        if self.kind == "response":
            self._apply_response(doc)
        else:
            self._apply_schema(doc.setdefault("components", {}).setdefault("schemas", {}))

    def _apply_response(self, doc):
        method, path, status = self.target.split(" ")
        op = doc.get("paths", {}).get(path, {}).get(method.lower())
        if op is None or status not in op.get("responses", {}):
            raise SpecError(f"patch {self.name}: the spec has no {self.target}")
        if self.value not in doc.get("components", {}).get("responses", {}):
            raise SpecError(f"patch {self.name}: no components.responses.{self.value}")
        ref = "#/components/responses/" + self.value
        if op["responses"][status].get("$ref") == ref:
            raise SpecError(f"patch {self.name}: {self.target} already is {self.value}")
        op["responses"][status] = {"$ref": ref}

    def _apply_schema(self, schemas):
        schema_name, prop = self.target.split(".")
        if schema_name not in schemas:
            raise SpecError(f"patch {self.name}: no schema {schema_name} in the spec")
        top = schemas[schema_name]
        # The object parts of the schema: itself and its inline allOf members.
        parts = [top] + [p for p in top.get("allOf", []) if "$ref" not in p]
        owners = [p for p in parts if prop in p.get("properties", {})]
        if self.kind == "extra":
            if owners:
                raise SpecError(f"patch {self.name}: {self.target} already exists in the spec")
            dest = next((p for p in parts if "properties" in p), top)
            dest.setdefault("properties", {})[prop] = copy.deepcopy(self.value)
            return
        if not owners:
            raise SpecError(f"patch {self.name}: {self.target} is not in the spec")
        if self.kind == "nullable":
            for p in owners:
                if p["properties"][prop].get("nullable"):
                    raise SpecError(f"patch {self.name}: {self.target} is already nullable")
                p["properties"][prop]["nullable"] = True
            return
        # drop
        for p in owners:
            del p["properties"][prop]
        for p in parts:
            if prop in p.get("required", []):
                p["required"] = [r for r in p["required"] if r != prop]


# --------------------------------------------------------------------------
# Translation
# --------------------------------------------------------------------------

class _Translator:
    def __init__(self, schemas, closed):
        self.src = schemas
        self.closed = closed
        self.flat = {}        # name -> translated, flattened, still open
        self.in_progress = set()

    def definition(self, name):
        if name in self.flat:
            return self.flat[name]
        if name not in self.src:
            raise SpecError(f"$ref to unknown schema {name}")
        if name in self.in_progress:
            raise SpecError(f"allOf cycle through {name}")
        self.in_progress.add(name)
        self.flat[name] = self.schema(self.src[name])
        self.in_progress.discard(name)
        return self.flat[name]

    @staticmethod
    def ref_name(ref):
        prefix = "#/components/schemas/"
        if not ref.startswith(prefix):
            raise SpecError(f"unsupported $ref {ref}")
        return ref[len(prefix):]

    def schema(self, node):
        """Translates one OpenAPI schema object into an (open) JSON Schema."""
        if not isinstance(node, dict):
            raise SpecError(f"schema must be an object, got {node!r}")
        if "$ref" in node:
            # OpenAPI 3.0 ignores siblings of $ref (descriptions, mostly).
            name = self.ref_name(node["$ref"])
            self.definition(name) if name not in self.in_progress else None
            return {"$ref": "#/definitions/" + name}
        out = {}
        for key, val in node.items():
            if key in _DOC_KEYWORDS or key.startswith("x-") or key in ("nullable", "allOf"):
                continue
            if key in _PLAIN_KEYWORDS:
                out[key] = copy.deepcopy(val)
            elif key == "properties":
                out[key] = {k: self.schema(v) for k, v in val.items()}
            elif key == "items":
                out[key] = self.schema(val)
            elif key in ("oneOf", "anyOf"):
                out[key] = [self.schema(v) for v in val]
            elif key == "not":
                out[key] = self.schema(val)
            elif key == "additionalProperties":
                out[key] = val if isinstance(val, bool) else self.schema(val)
            else:
                raise SpecError(f"untranslated OpenAPI keyword {key!r}")
        if "allOf" in node:
            out = self.merge([self.flat_part(p) for p in node["allOf"]] + [out])
        if node.get("nullable"):
            out = self.nullable(out)
        return out

    def flat_part(self, node):
        """An allOf member as an inline object schema (references expanded)."""
        if "$ref" in node:
            return copy.deepcopy(self.definition(self.ref_name(node["$ref"])))
        return self.schema(node)

    @staticmethod
    def merge(parts):
        """Merges allOf parts into one object schema."""
        out, props, required = {}, {}, []
        for part in parts:
            for key, val in part.items():
                if key == "properties":
                    for pk, pv in val.items():
                        props[pk] = pv if pk not in props else {"allOf": [props[pk], pv]}
                elif key == "required":
                    required += [r for r in val if r not in required]
                elif key in out and out[key] != val:
                    raise SpecError(f"allOf parts disagree on {key}: {out[key]!r} vs {val!r}")
                else:
                    out[key] = val
        if props:
            out["properties"] = props
        if required:
            out["required"] = required
        return out

    @staticmethod
    def nullable(s):
        t = s.get("type")
        if isinstance(t, str) and set(s) <= _PLAIN_KEYWORDS | {"properties", "items",
                                                             "additionalProperties"}:
            s = dict(s)
            s["type"] = [t, "null"]
            if "enum" in s and None not in s["enum"]:
                s["enum"] = list(s["enum"]) + [None]
            return s
        return {"anyOf": [s, {"type": "null"}]}

    def close(self, s):
        """Returns s with every object that lists properties closed."""
        if isinstance(s, list):
            return [self.close(x) for x in s]
        if not isinstance(s, dict):
            return s
        out = {}
        for k, v in s.items():
            if k == "properties":
                out[k] = {pk: self.close(pv) for pk, pv in v.items()}
            elif k in ("items", "not", "additionalProperties", "oneOf", "anyOf", "allOf"):
                out[k] = self.close(v)
            else:
                out[k] = v
        if self.closed and "properties" in out and "additionalProperties" not in out:
            # A required name with no property schema (PagingObject's `items`)
            # must stay allowed.
            for r in out.get("required", []):
                out["properties"].setdefault(r, {})
            out["additionalProperties"] = False
        return out


class Spec:
    """A loaded OpenAPI document, translated to JSON Schema.

    Spec.load(path, patches=(), closed=True); then validate(method, path, status, body)
    returns a list of readable error strings (empty when the body conforms)."""

    def __init__(self, doc, patches=(), closed=True):
        if not str(doc.get("openapi", "")).startswith("3.0"):
            raise SpecError("not an OpenAPI 3.0 document")
        self.doc = copy.deepcopy(doc)
        self.patches = list(patches)
        for p in self.patches:
            p.apply(self.doc)
        schemas = self.doc.get("components", {}).get("schemas", {})
        self._tr = _Translator(schemas, closed)
        for name in schemas:
            self._tr.definition(name)
        self.definitions = {n: self._tr.close(s) for n, s in self._tr.flat.items()}
        jsonschema.Draft7Validator.check_schema({"definitions": self.definitions})
        self._validators = {}
        self._fc = format_checker()

    @classmethod
    def load(cls, path, patches=(), closed=True):
        with open(path, encoding="utf-8") as f:
            return cls(yaml.safe_load(f), patches=patches, closed=closed)

    # -- lookup ------------------------------------------------------------

    def _resolve(self, node, kind):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if ref is None:
            return node
        prefix = f"#/components/{kind}/"
        if not ref.startswith(prefix):
            raise SpecError(f"unsupported $ref {ref} (expected {prefix}...)")
        return self.doc["components"][kind][ref[len(prefix):]]

    def match_path(self, path):
        """The spec's path template for a concrete path ('/playlists/x/items' ->
        '/playlists/{playlist_id}/items'); literal segments win over parameters.
        None when no template matches. `path` has no /v1 prefix and no query."""
        segs = path.strip("/").split("/")
        best, best_score = None, -1
        for tmpl in self.doc["paths"]:
            tsegs = tmpl.strip("/").split("/")
            if len(tsegs) != len(segs):
                continue
            score = 0
            for t, s in zip(tsegs, segs):
                if t.startswith("{") and t.endswith("}"):
                    if not s:
                        break
                elif t == s:
                    score += 1
                else:
                    break
            else:
                if score > best_score:
                    best, best_score = tmpl, score
        return best

    def operation(self, method, template):
        try:
            return self.doc["paths"][template][method.lower()]
        except KeyError:
            raise SpecError(f"the spec has no {method.upper()} {template}") from None

    def documented_statuses(self, method, template):
        return sorted(self.operation(method, template).get("responses", {}))

    def response_schema(self, method, template, status):
        """The translated JSON Schema of the body of that answer, or None when
        the spec documents that status without a body. SpecError when the spec
        does not document the status at all."""
        responses = self.operation(method, template).get("responses", {})
        resp = responses.get(str(status)) or responses.get("default")
        if resp is None:
            raise SpecError(f"{method.upper()} {template}: status {status} is not documented "
                            f"(documented: {', '.join(sorted(responses))})")
        return self._body_schema(self._resolve(resp, "responses"), f"{method.upper()} {template} {status}")

    def component_response_schema(self, name):
        """Like response_schema, for components.responses[name] (e.g. 'NotFound')."""
        resp = self.doc.get("components", {}).get("responses", {}).get(name)
        if resp is None:
            raise SpecError(f"the spec has no components.responses.{name}")
        return self._body_schema(resp, f"components.responses.{name}")

    def _body_schema(self, resp, where):
        content = resp.get("content")
        if not content:
            return None
        media = content.get("application/json")
        if media is None or "schema" not in media:
            raise SpecError(f"{where}: no application/json schema")
        return self._tr.close(self._tr.schema(media["schema"]))

    # -- validation --------------------------------------------------------

    def _validator(self, key, make_schema):
        if key not in self._validators:
            schema = make_schema()
            if schema is None:
                self._validators[key] = None
            else:
                jsonschema.Draft7Validator.check_schema(schema)
                root = dict(schema)
                root["$schema"] = DRAFT
                root["definitions"] = self.definitions
                self._validators[key] = jsonschema.Draft7Validator(root, format_checker=self._fc)
        return self._validators[key]

    def validator(self, method, template, status):
        """A jsonschema validator for that answer's body (None: no body documented)."""
        return self._validator((method.upper(), template, str(status)),
                               lambda: self.response_schema(method, template, status))

    def validate(self, method, path, status, body):
        """Errors (strings) of `body` (parsed JSON, or None/'' for an empty body)
        as the answer `status` to METHOD PATH (concrete path, no /v1, no query)."""
        template = self.match_path(path)
        if template is None:
            return [f"{method} {path}: no such path in the spec"]
        try:
            v = self.validator(method, template, status)
        except SpecError as e:
            return [str(e)]
        return _errors(v, body, f"{method.upper()} {template} -> {status}")

    def validate_component(self, name, body, where):
        """Errors of `body` against components.responses[name]; `where` prefixes them."""
        try:
            v = self._validator(("#component", name), lambda: self.component_response_schema(name))
        except SpecError as e:
            return [str(e)]
        return _errors(v, body, f"{where} (as components.responses.{name})")


def _errors(v, body, where):
    if v is None:
        if body not in (None, "", b""):
            return [f"{where}: the spec documents no body, got {str(body)[:200]!r}"]
        return []
    if body is None:
        return [f"{where}: the spec documents a JSON body, got none"]
    return [f"{where}: {describe(e)}" for e in
            sorted(v.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])]


def json_path(error):
    out = "$"
    for p in error.absolute_path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def describe(error, depth=0):
    """One readable line (plus the best sub-errors of a oneOf/anyOf)."""
    msg = error.message
    if len(msg) > 300:
        msg = msg[:300] + "..."
    line = f"{json_path(error)}: {msg}"
    if error.context and depth < 3:
        # For oneOf/anyOf: the branch errors that got deepest into the instance.
        deepest = max(len(list(e.absolute_path)) for e in error.context)
        subs = [e for e in error.context if len(list(e.absolute_path)) == deepest][:3]
        line += " [" + "; ".join(describe(e, depth + 1) for e in subs) + "]"
    return line
