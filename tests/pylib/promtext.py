"""promtext.py - a small strict parser of the Prometheus text exposition
format (version 0.0.4), for tests of GET /metrics.

parse(text) returns {family_name: Family} and raises ParseError on anything a
Prometheus server would refuse or that the format calls invalid:
  - every line is "# HELP name text", "# TYPE name type", another comment,
    or a sample "name{label="value",...} value"; the text ends with a newline;
  - metric and label names match the format's regular expressions; label
    values use only the escapes \\\\, \\" and \\n; a label name appears once
    per sample; values are floats (NaN, +Inf, -Inf allowed);
  - TYPE appears at most once per family and before its samples; HELP at
    most once; a family's samples are contiguous; no sample repeats
    (same name and labels);
  - counters' sample names end in _total and are >= 0; histograms have, per
    label set, _bucket samples with an le label in increasing order whose
    counts never decrease, a le="+Inf" bucket equal to _count, and a _sum.
Standard library only.
"""
import math
import re

METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ParseError(ValueError):
    pass


class Family:
    def __init__(self, name):
        self.name = name
        self.type = "untyped"
        self.help = None
        self.samples = []  # (sample name, {labels}, float)

    def value(self, name=None, **labels):
        """The value of the sample with exactly these labels (KeyError if none)."""
        name = name or self.name
        for n, ls, v in self.samples:
            if n == name and ls == labels:
                return v
        raise KeyError(f"{name}{labels}")

    def get(self, name=None, default=0.0, **labels):
        try:
            return self.value(name, **labels)
        except KeyError:
            return default


def _unescape_label(s, i, lineno):
    """Parses a quoted label value starting at s[i] == '"'. Returns (value, next index)."""
    if i >= len(s) or s[i] != '"':
        raise ParseError(f"line {lineno}: label value must be quoted")
    out = []
    i += 1
    while True:
        if i >= len(s):
            raise ParseError(f"line {lineno}: unterminated label value")
        c = s[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 >= len(s):
                raise ParseError(f"line {lineno}: dangling backslash")
            e = s[i + 1]
            if e == "\\":
                out.append("\\")
            elif e == '"':
                out.append('"')
            elif e == "n":
                out.append("\n")
            else:
                raise ParseError(f"line {lineno}: invalid escape \\{e}")
            i += 2
            continue
        if c == "\n":
            raise ParseError(f"line {lineno}: raw newline in label value")
        out.append(c)
        i += 1


def _parse_value(tok, lineno):
    if tok in ("+Inf", "Inf"):
        return math.inf
    if tok == "-Inf":
        return -math.inf
    if tok == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", tok):
        raise ParseError(f"line {lineno}: bad value {tok!r}")
    return float(tok)


def _parse_sample(line, lineno):
    m = METRIC_RE.match(line)
    if not m:
        raise ParseError(f"line {lineno}: bad metric name in {line!r}")
    name = m.group(0)
    i = m.end()
    labels = {}
    if i < len(line) and line[i] == "{":
        i += 1
        while True:
            if i < len(line) and line[i] == "}":
                i += 1
                break
            lm = LABEL_RE.match(line, i)
            if not lm:
                raise ParseError(f"line {lineno}: bad label name in {line!r}")
            key = lm.group(0)
            if key in labels:
                raise ParseError(f"line {lineno}: label {key} repeated")
            i = lm.end()
            if i >= len(line) or line[i] != "=":
                raise ParseError(f"line {lineno}: expected '=' after label {key}")
            value, i = _unescape_label(line, i + 1, lineno)
            labels[key] = value
            if i < len(line) and line[i] == ",":
                i += 1
                continue
            if i < len(line) and line[i] == "}":
                i += 1
                break
            raise ParseError(f"line {lineno}: expected ',' or '}}' in {line!r}")
    if i >= len(line) or line[i] != " ":
        raise ParseError(f"line {lineno}: expected a space before the value in {line!r}")
    rest = line[i + 1:].split(" ")
    if len(rest) not in (1, 2) or not rest[0]:
        raise ParseError(f"line {lineno}: expected 'value [timestamp]' in {line!r}")
    value = _parse_value(rest[0], lineno)
    if len(rest) == 2 and not re.fullmatch(r"-?\d+", rest[1]):
        raise ParseError(f"line {lineno}: bad timestamp in {line!r}")
    return name, labels, value


def _family_of(sample_name, families):
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix):
            base = sample_name[: -len(suffix)]
            if base in families and families[base].type in ("histogram", "summary"):
                return base
    return sample_name


def _check_histogram(fam):
    groups = {}
    for n, ls, v in fam.samples:
        key_labels = {k: x for k, x in ls.items() if not (n.endswith("_bucket") and k == "le")}
        key = tuple(sorted(key_labels.items()))
        g = groups.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if n == fam.name + "_bucket":
            if "le" not in ls:
                raise ParseError(f"{fam.name}: bucket without le")
            g["buckets"].append((_parse_value(ls["le"], 0), v))
        elif n == fam.name + "_sum":
            g["sum"] = v
        elif n == fam.name + "_count":
            g["count"] = v
        else:
            raise ParseError(f"{fam.name}: unexpected sample {n}")
    for key, g in groups.items():
        b = g["buckets"]
        if not b or b[-1][0] != math.inf:
            raise ParseError(f"{fam.name}{dict(key)}: the last bucket must be le=\"+Inf\"")
        for (le1, c1), (le2, c2) in zip(b, b[1:]):
            if not le1 < le2:
                raise ParseError(f"{fam.name}{dict(key)}: le not increasing")
            if c2 < c1:
                raise ParseError(f"{fam.name}{dict(key)}: buckets not cumulative")
        if g["count"] is None or g["sum"] is None:
            raise ParseError(f"{fam.name}{dict(key)}: _count and _sum are required")
        if b[-1][1] != g["count"]:
            raise ParseError(f"{fam.name}{dict(key)}: +Inf bucket {b[-1][1]} != _count {g['count']}")


def parse(text):
    if text and not text.endswith("\n"):
        raise ParseError("the text must end with a newline")
    families = {}
    seen_samples = set()
    closed = set()  # families whose samples ended (a later sample would be non-contiguous)
    current = None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not METRIC_RE.fullmatch(name):
                    raise ParseError(f"line {lineno}: bad metric name {name!r}")
                fam = families.setdefault(name, Family(name))
                if parts[1] == "TYPE":
                    t = parts[3] if len(parts) == 4 else ""
                    if t not in TYPES:
                        raise ParseError(f"line {lineno}: unknown type {t!r}")
                    if getattr(fam, "_typed", False):
                        raise ParseError(f"line {lineno}: second TYPE for {name}")
                    if fam.samples:
                        raise ParseError(f"line {lineno}: TYPE after samples of {name}")
                    fam.type = t
                    fam._typed = True
                else:
                    if fam.help is not None:
                        raise ParseError(f"line {lineno}: second HELP for {name}")
                    fam.help = parts[3] if len(parts) == 4 else ""
            continue
        name, labels, value = _parse_sample(line, lineno)
        fname = _family_of(name, families)
        if fname != current:
            if current is not None:
                closed.add(current)
            if fname in closed:
                raise ParseError(f"line {lineno}: samples of {fname} are not contiguous")
            current = fname
        fam = families.setdefault(fname, Family(fname))
        key = (name, tuple(sorted(labels.items())))
        if key in seen_samples:
            raise ParseError(f"line {lineno}: duplicate sample {name}{labels}")
        seen_samples.add(key)
        if fam.type == "counter":
            if not name.endswith("_total"):
                raise ParseError(f"line {lineno}: counter sample {name} must end in _total")
            if not value >= 0:
                raise ParseError(f"line {lineno}: negative counter {name}")
        fam.samples.append((name, labels, value))
    for fam in families.values():
        if fam.type == "histogram":
            _check_histogram(fam)
    return families
