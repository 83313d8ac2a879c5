#!/usr/bin/env python3
"""The generated parts of the reference docs and the SDK's types, from their one source each:

* docs/SDK.md, between ``<!-- errors:start -->`` and ``<!-- errors:end -->``: the table of
  every error code, from ``meshkit_web.core.errors.registry()`` (status, retryable, the
  sentence a person reads) and each error class's docstring (when it is raised);
* docs/GATEWAY.md, between ``<!-- errors:start -->`` and ``<!-- errors:end -->``: the same
  codes by HTTP status (status, code, retryable, what it means), for the gateway's clients;
* docs/SDK.md, between ``<!-- namespaces:start -->`` and ``<!-- namespaces:end -->``: what
  a namespace names in the browser, from ``meshkit_web.browser.namespace`` (``Names``);
* sdk/index.d.ts, between ``// errors:start`` and ``// errors:end``: the ``MeshKitErrorCode``
  union, from the registry;
* docs/PYTHON.md, between ``<!-- api:start -->`` and ``<!-- api:end -->``: every public name
  of the Python API (``meshkit_web.kit``: MeshKit, its families, the result types) with its
  signature and docstring; between ``<!-- errors:start -->`` and ``<!-- errors:end -->``:
  each code's exception class in ``meshkit_web.errors``.

``python scripts/sdk_docs.py`` rewrites those sections; ``--check`` changes nothing and
exits 1 when a committed section differs from what the sources make now (the test suite
runs the same comparison: tests/sdk/test_sdk_docs.py).
"""

import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SDK_MD = ROOT / "docs" / "SDK.md"
GATEWAY_MD = ROOT / "docs" / "GATEWAY.md"
INDEX_D_TS = ROOT / "sdk" / "index.d.ts"
PYTHON_MD = ROOT / "docs" / "PYTHON.md"


def _cell(text: str) -> str:
    """Text for one Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("``", "`").replace("|", "\\|")


def _when(cls) -> str:
    """An error class's docstring, as one sentence or two ("" when it has none)."""
    doc = cls.__dict__.get("__doc__") or ""
    return " ".join(doc.split())


def _registry() -> tuple[dict, dict]:
    """(registry(), {code: its class}): the one source of both error tables."""
    from meshkit_web.core import errors
    classes = {errors.MeshKitError.code: errors.MeshKitError}
    for cls in errors._all_error_classes():
        classes.setdefault(cls.code, cls)
    return errors.registry(), classes


def _raised_when(code: str, classes: dict) -> str:
    from meshkit_web.core.errors import MeshKitError
    return _when(classes[code]) if code != MeshKitError.code else "the base class: a failure with no more specific code"


def error_table() -> str:
    """Every code of the registry: HTTP status, retryable, the person's sentence, when."""
    table, classes = _registry()
    lines = ["| code | HTTP | retryable | what a person reads (`ERRORS[code].message`) | raised when |",
             "|---|---|---|---|---|"]
    for code, entry in table.items():
        lines.append(f"| `{code}` | {entry['status']} | {'yes' if entry['retryable'] else 'no'} | "
                     f"{_cell(entry['message'])} | {_cell(_raised_when(code, classes))} |")
    return "\n".join(lines)


def gateway_error_table() -> str:
    """Every code of the registry by HTTP status: what a gateway's client reads in a refusal."""
    table, classes = _registry()
    lines = ["| HTTP | code | retryable | meaning |", "|---|---|---|---|"]
    for code, entry in sorted(table.items(), key=lambda item: (item[1]["status"], item[0])):
        meaning = _raised_when(code, classes) or entry["message"]
        lines.append(f"| {entry['status']} | `{code}` | {'yes' if entry['retryable'] else 'no'} | {_cell(meaning)} |")
    return "\n".join(lines)


def namespace_table() -> str:
    """What the default namespace and one other ("notes") name in an origin."""
    from meshkit_web.browser.namespace import DEFAULT, Names
    rows = [("IndexedDB database (identities, keys, contacts, envelopes, outbox)", lambda n: n.database),
            ("BroadcastChannel (events between pages and the worker)", lambda n: n.channel),
            ("Web Lock of an outbox job", lambda n: n.lock("<job id>")),
            ("Background Sync tag: upload the outbox", lambda n: n.prefix + "outbox:<time>"),
            ("Background Sync and Periodic Sync tag: check the mailbox", lambda n: n.prefix + "mailbox"),
            ("Cache Storage (runtime files, for offline starts)", lambda n: n.prefix + "<BUILD>"),
            ("page <-> worker messages", lambda n: f'{{meshkit: "{n.namespace}", type: ...}}')]
    default, other = Names(DEFAULT), Names("notes")
    lines = [f'| what | namespace `"{DEFAULT}"` (the legacy names) | namespace `"notes"` |', "|---|---|---|"]
    for label, name in rows:
        lines.append(f"| {label} | `{_cell(name(default))}` | `{_cell(name(other))}` |")
    return "\n".join(lines)


def error_union() -> str:
    from meshkit_web.core.errors import registry
    return "export type MeshKitErrorCode =\n" + "\n".join(f'  | "{code}"' for code in registry()) + ";"


def python_error_table() -> str:
    """Every code with its Python class (``except meshkit_web.errors.X``)."""
    table, classes = _registry()
    lines = ["| code | class in `meshkit_web.errors` | retryable | raised when |", "|---|---|---|---|"]
    for code, entry in table.items():
        lines.append(f"| `{code}` | `{classes[code].__name__}` | {'yes' if entry['retryable'] else 'no'} | "
                     f"{_cell(_raised_when(code, classes) or entry['message'])} |")
    return "\n".join(lines)


def _doc(obj) -> str:
    """A docstring as Markdown paragraphs (its own line breaks joined)."""
    import inspect
    doc = inspect.getdoc(obj) or ""
    return "\n\n".join(" ".join(part.split()) for part in doc.split("\n\n") if part.strip())


def _signature(name: str, function) -> str:
    import inspect
    text = str(inspect.signature(function)).replace("'", "")
    text = re.sub(r"\(self, ?|\(cls, ?", "(", text).replace("(self)", "()").replace("(cls)", "()")
    text = text.replace("meshkit_web.kit.types.", "").replace("NoneType", "None")
    return f"{name}{text}"


def python_api() -> str:
    """The public names of meshkit_web.kit, from the code itself."""
    import dataclasses
    import inspect
    from meshkit_web import kit
    from meshkit_web.kit import api
    out = []
    families = {"identity": api.Identities, "contacts": api.Contacts, "devices": api.Devices,
                "send_links": api.SendLinks, "proofs": api.Proofs, "messages": api.Messages, "records": api.Records}
    for owner, cls in [("MeshKit", api.MeshKit)] + [(f"kit.{n}", c) for n, c in families.items()]:
        out.append(f"#### `{owner}`\n")
        if cls is api.MeshKit:
            out.append(_doc(cls) + "\n")
        for name, member in cls.__dict__.items():
            if name.startswith("_"):
                continue
            function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            if isinstance(member, property):
                out.append(f"- `{name}` (property): {_doc(member)}")
            elif inspect.isfunction(function):
                call = ("async " if inspect.iscoroutinefunction(function) else "") + \
                    f"{'MeshKit' if isinstance(member, classmethod) else owner.replace('MeshKit', 'kit')}." \
                    f"{_signature(name, function)}"
                out.append(f"- `{call}`" + (f": {_doc(function)}" if _doc(function) else ""))
        out.append("")
    out.append("#### Result types (`meshkit_web.kit`; frozen dataclasses)\n")
    for name in kit.__all__:
        cls = getattr(kit, name)
        if dataclasses.is_dataclass(cls):
            fields = ", ".join(f"`{f.name}`" for f in dataclasses.fields(cls) if not f.name.startswith("_"))
            base = next((b.__name__ for b in cls.__bases__ if dataclasses.is_dataclass(b)), None)
            methods = [m for m, v in cls.__dict__.items() if inspect.isfunction(v) and not m.startswith("_")
                       and m not in ("to_json",)]
            out.append(f"- `{name}`" + (f" (a `{base}`, and)" if base else "") + f": {fields}"
                       + (f"; methods {', '.join(f'`{m}()`' for m in methods)}" if methods else "")
                       + (f". {_doc(cls)}" if _doc(cls) and not _doc(cls).startswith(name + "(") else ""))
    return "\n".join(out).rstrip()


def render_python_md(text: str) -> str:
    text = _between(text, "<!-- api:start", "<!-- api:end -->", python_api(), "docs/PYTHON.md")
    return _between(text, "<!-- errors:start", "<!-- errors:end -->", python_error_table(), "docs/PYTHON.md")


def _between(text: str, start: str, end: str, body: str, where: str) -> str:
    pattern = re.compile(re.escape(start) + r"[^\n]*\n.*?" + re.escape(end), re.S)
    found = pattern.search(text)
    if not found:
        raise SystemExit(f"sdk_docs: {where} has no section {start} ... {end}")
    head = found.group(0).split("\n", 1)[0]  # the start marker's line, as written
    return text[:found.start()] + head + "\n" + body + "\n" + end + text[found.end():]


def render_sdk_md(text: str) -> str:
    text = _between(text, "<!-- errors:start", "<!-- errors:end -->", error_table(), "docs/SDK.md")
    return _between(text, "<!-- namespaces:start", "<!-- namespaces:end -->", namespace_table(), "docs/SDK.md")


def render_gateway_md(text: str) -> str:
    return _between(text, "<!-- errors:start", "<!-- errors:end -->", gateway_error_table(), "docs/GATEWAY.md")


def render_index_d_ts(text: str) -> str:
    return _between(text, "// errors:start", "// errors:end", error_union(), "sdk/index.d.ts")


TARGETS = ((SDK_MD, render_sdk_md), (GATEWAY_MD, render_gateway_md), (INDEX_D_TS, render_index_d_ts),
           (PYTHON_MD, render_python_md))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a section is stale")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    stale = []
    for path, render in TARGETS:
        text = path.read_text()
        made = render(text)
        if made != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(made)
    if args.check and stale:
        print("stale (run python scripts/sdk_docs.py): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    print(("rewrote " + ", ".join(map(str, stale))) if stale else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
