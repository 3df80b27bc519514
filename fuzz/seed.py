#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/corpus/<target>/seed-*: real IdP filters,
PATCH paths and bodies from the shared acceptance cases (../shared/acceptance/cases.json),
plus hand-picked edge cases and the shipped mapping files. Re-run after the cases change:

    python3 fuzz/seed.py
"""
import hashlib
import json
import pathlib
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASES = ROOT.parent / "shared" / "acceptance" / "cases.json"
CORPUS = ROOT / "fuzz" / "corpus"

FILTERS = [
    'userName eq "bjensen"',
    'externalId eq jdoe',
    'emails[type eq "work"].value eq "jamie.doe@example.com"',
    'emails[type eq "work" and value co "@example.com"]',
    'id eq "u-1" and manager eq "u-2"',
    'not (userName sw "a") or (title pr and active eq true)',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"',
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'x eq "quote \\" and \\\\ backslash" and y eq null and z ge 1.5e3',
    'displayName eq "Support Team"',
    'members[value eq "u-1002"]',
    'userName Eq "\\u00e9+ )"',
]
PATHS = [
    'members[value eq "u-1002"]',
    'emails[type eq "work"].value',
    'phoneNumbers[type eq "mobile"].value',
    'name.familyName',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value',
    'manager[value eq "u-2002"]',
    'addresses[type eq "work" and primary eq true].streetAddress',
    'active',
]


def write(target, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    (folder / name).write_bytes(data)


def main():
    filters, paths, bodies = list(FILTERS), list(PATHS), []
    if CASES.exists():
        for case in json.loads(CASES.read_text()):
            steps = [case.get("request")] + case.get("setup", []) + case.get("verify", [])
            for step in filter(None, steps):
                query = urllib.parse.urlsplit(step.get("path", "")).query
                for key, value in urllib.parse.parse_qsl(query):
                    if key.lower() == "filter":
                        filters.append(value.replace("{{run}}", "r1"))
                body = step.get("body")
                if isinstance(body, dict):
                    bodies.append(body)
                    for op in body.get("Operations", []):
                        if isinstance(op, dict) and isinstance(op.get("path"), str):
                            paths.append(op["path"])
    for text in filters:
        write("filter", text.encode())
    for text in paths:
        write("patch_path", text.encode())
    for body in bodies:
        text = json.dumps(body).replace("{{run}}", "r1").encode()
        is_group = b"Group" in text or b"members" in text
        write("request_body", bytes([1 if is_group else 0]) + text)
    for selector, name in [(0, "users.yaml"), (1, "groups.yaml")]:
        for backend in ["demo", "json-server"]:
            text = (ROOT / "mappings" / backend / name).read_bytes()
            write("mapping_file", bytes([selector]) + text)


if __name__ == "__main__":
    main()
