#!/usr/bin/env python3
"""Runs the scim2-tester conformance checks against one SCIM base URL.

    conformance.py NAME BASE_URL TOKEN OUT_DIR

Run by scripts/conformance.sh with the interpreter of .cache/venv-scim2. Every check of
scim2-tester's check_server() runs (no tag or resource-type filter). Writes
OUT_DIR/NAME.results.json (every check result) and OUT_DIR/NAME.http.jsonl (every HTTP
exchange), prints every result that is not SUCCESS and one summary line, and exits 1 when a
check failed (ERROR or CRITICAL) or an excluded check did not see the answer it is excluded for.
"""

import json
import sys
from collections import Counter
from dataclasses import dataclass

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

EXTENSION_8X8 = "urn:ietf:params:scim:schemas:extension:8x8:1.1:User"
FAILED = {Status.ERROR, Status.CRITICAL}


@dataclass(frozen=True)
class Exclusion:
    """A check where scim2-tester contradicts the RFC, and the answer the gateway must give.

    The result is counted as EXCLUDED only if every PATCH the checker sent with this
    operation and path was answered 400 with `scimType` `mutability`; otherwise it stays a
    failure, so an exclusion can never hide a different gateway bug.
    """

    check: str
    resource_type: str
    op: str
    path: str
    why: str


# The custom 8x8 extension declares `site` immutable (mappings/schemas/8x8-user.json).
# RFC 7643 section 2.2: an immutable attribute "MAY be defined at resource creation ... or at
# record replacement ... The attribute SHALL NOT be updated." RFC 7644 section 3.5.2 and
# table 9 (section 3.12): such a modification is answered 400 with scimType "mutability"
# ("modification of an 'immutable' attribute with an existing value"). scim2-tester 0.5.2
# selects immutable attributes for its PATCH add loop and its extension-wide remove.
EXCLUSIONS = [
    Exclusion(
        check="check_add_attribute",
        resource_type="User",
        op="add",
        path=f"{EXTENSION_8X8}:site",
        why="adds a second value to the immutable site, which the same check set one step "
        "earlier through the extension (RFC 7643 2.2, RFC 7644 3.5.2)",
    ),
    Exclusion(
        check="check_remove_attribute",
        resource_type="User",
        op="remove",
        path=EXTENSION_8X8,
        why="removes the whole 8x8 extension, which removes the immutable site "
        "(RFC 7643 2.2, RFC 7644 3.5.2)",
    ),
]


def body(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def main(name, base_url, token, out_dir):
    exchanges = []

    def record(response):
        response.read()
        request = response.request
        exchanges.append(
            {
                "method": request.method,
                "url": str(request.url),
                "request": body(request.content.decode() if request.content else ""),
                "status": response.status_code,
                "response": body(response.text),
            }
        )

    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        event_hooks={"response": [record]},
        timeout=30,
    )
    results = check_server(SyncSCIMClient(http), raise_exceptions=False)

    counts = Counter()
    broken_exclusions = []
    dump = []
    for result in results:
        status = result.status.name
        exclusion = find_exclusion(result)
        if exclusion is not None:
            if refused_for_mutability(exchanges, exclusion):
                status = "EXCLUDED"
            else:
                broken_exclusions.append(exclusion)
        counts[status] += 1
        dump.append(
            {
                "status": status,
                "title": result.title,
                "resource_type": result.resource_type,
                "reason": result.reason,
                "excluded_because": exclusion.why if status == "EXCLUDED" else None,
            }
        )
        if status != "SUCCESS":
            line = f"  {status:9s} {result.resource_type or '-':5s} {result.title}: {result.reason}"
            if status == "EXCLUDED":
                line += f"\n            excluded: {exclusion.why}"
            print(line)

    with open(f"{out_dir}/{name}.results.json", "w") as f:
        json.dump(dump, f, indent=1)
    with open(f"{out_dir}/{name}.http.jsonl", "w") as f:
        for exchange in exchanges:
            f.write(json.dumps(exchange) + "\n")

    failed = sum(1 for r in results if r.status in FAILED and find_exclusion(r) is None)
    failed += len(broken_exclusions)
    summary = " ".join(
        f"{key}={counts.get(key, 0)}" for key in ["SUCCESS", "ERROR", "SKIPPED", "EXCLUDED"]
    )
    others = sorted(set(counts) - {"SUCCESS", "ERROR", "SKIPPED", "EXCLUDED"})
    summary += "".join(f" {key}={counts[key]}" for key in others)
    print(f"scim2-tester 0.5.2 against {name}: {len(results)} checks: {summary}")
    for exclusion in broken_exclusions:
        print(
            f"  excluded check {exclusion.check} ({exclusion.op} {exclusion.path}) was not "
            "answered 400 mutability: counted as a failure"
        )
    return 1 if failed else 0


def find_exclusion(result):
    if result.status not in FAILED or not isinstance(result.data, dict):
        return None
    for exclusion in EXCLUSIONS:
        if (
            result.title == exclusion.check
            and result.resource_type == exclusion.resource_type
            and result.data.get("urn") == exclusion.path
        ):
            return exclusion
    return None


def refused_for_mutability(exchanges, exclusion):
    """Every PATCH with the exclusion's operation and path got 400 mutability (and one came)."""
    matching = [
        e
        for e in exchanges
        if e["method"] == "PATCH"
        and f"/{exclusion.resource_type}s/" in e["url"]
        and isinstance(e["request"], dict)
        and [(op.get("op"), op.get("path")) for op in e["request"].get("Operations", [])]
        == [(exclusion.op, exclusion.path)]
    ]
    return bool(matching) and all(
        e["status"] == 400
        and isinstance(e["response"], dict)
        and e["response"].get("scimType") == "mutability"
        for e in matching
    )


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
