#!/usr/bin/env python3
"""A small ctypes wrapper over libcrm_ffi.so and a workflow that checks it.

Run from the workspace root after `cargo build -p crm-ffi`:

    python3 crm-ffi/tests/python/smoke.py [path/to/libcrm_ffi.so]

Exits 0 when every check passes. The `Crm` class below is the whole binding:
one method per C function, JSON in and out, failures raised as `CrmError`.
"""

import ctypes
import json
import os
import sys
import tempfile
import threading

# crm_status values, from crm.h.
OK = 0
NULL_ARGUMENT = 1
INVALID_UTF8 = 2
INVALID_JSON = 3
UNKNOWN_OPERATION = 4
INVALID_INPUT = 5
NOT_FOUND = 6
CONFLICT = 7
TRANSITION_REFUSED = 8
GUARD_FAILED = 9
PERMISSION_DENIED = 10
STORAGE = 11
INTERNAL = 12

SYSTEM = {"type": "system"}


class CrmError(Exception):
    """A failed call: `status` is the crm_status, the text is crm_last_error()."""

    def __init__(self, status, name, message, details=None):
        super().__init__(f"{name}: {message}")
        self.status = status
        # crm_last_error_json(): entity, id, field, value, reason, path, rule.
        self.details = details or {}


def load(path):
    lib = ctypes.CDLL(path)
    engine_p = ctypes.c_void_p
    lib.crm_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(engine_p)]
    lib.crm_open.restype = ctypes.c_int
    lib.crm_close.argtypes = [engine_p]
    lib.crm_close.restype = None
    # The response is a library-owned char* we must free: take it as void*.
    lib.crm_call.argtypes = [engine_p, ctypes.c_char_p, ctypes.c_char_p,
                             ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.crm_call.restype = ctypes.c_int
    lib.crm_string_free.argtypes = [ctypes.c_void_p]
    lib.crm_string_free.restype = None
    lib.crm_last_error.argtypes = []
    lib.crm_last_error.restype = ctypes.c_char_p
    lib.crm_last_error_json.argtypes = []
    lib.crm_last_error_json.restype = ctypes.c_char_p
    lib.crm_version.argtypes = []
    lib.crm_version.restype = ctypes.c_char_p
    lib.crm_status_name.argtypes = [ctypes.c_int]
    lib.crm_status_name.restype = ctypes.c_char_p
    return lib


# With CRM_FFI_RECORD set to a file, every successful call appends
# {"op", "request", "response"} to it as one JSON line: the Rust test
# recorded_calls_match_the_schemas then checks each against the
# operation's JSON Schemas (crm-ffi/schema/), so the requests this script
# sends are schema examples too.
RECORD = os.environ.get("CRM_FFI_RECORD")
RECORD_LOCK = threading.Lock()


def record(op, request, response):
    if not RECORD:
        return
    try:
        parsed = json.loads(request)
    except ValueError:
        return
    with RECORD_LOCK, open(RECORD, "a", encoding="utf-8") as f:
        f.write(json.dumps({"op": op, "request": parsed, "response": response}) + "\n")


class Crm:
    """One engine. Usable from several threads; close it once."""

    def __init__(self, lib, path=":memory:"):
        self.lib = lib
        self.handle = ctypes.c_void_p()
        self._check(lib.crm_open(path.encode(), ctypes.byref(self.handle)))

    def _check(self, status):
        if status != OK:
            name = self.lib.crm_status_name(status).decode()
            raise CrmError(status, name, self.lib.crm_last_error().decode(),
                           json.loads(self.lib.crm_last_error_json().decode()))

    def raw(self, op, request, actor=SYSTEM):
        """Calls op with bytes for the request; returns the parsed response."""
        out = ctypes.c_void_p()
        status = self.lib.crm_call(self.handle, json.dumps(actor).encode(),
                                   op.encode(), request, ctypes.byref(out))
        try:
            self._check(status)
            response = json.loads(ctypes.string_at(out.value).decode())
            record(op, request, response)
            return response
        finally:
            self.lib.crm_string_free(out)

    def call(self, op, request=None, actor=SYSTEM):
        return self.raw(op, json.dumps(request or {}).encode(), actor)

    def close(self):
        if self.handle:
            self.lib.crm_close(self.handle)
            self.handle = ctypes.c_void_p()


failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"check failed: {what}", file=sys.stderr)


def expect(status, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except CrmError as e:
        check(e.status == status, f"{args[0]}: got status {e.status} ({e}), want {status}")
        check(str(e) != "", "a failure has a message")
        return str(e)
    check(False, f"{args[0]} should fail with {status}")
    return ""


PIPELINE = {
    "name": "Sales",
    "stages": [
        {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
        {"key": "proposal", "name": "Proposal", "probability": 50, "kind": "open",
         "guards": ["requires_amount"]},
        {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
        {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost"},
    ],
}


def workflow(crm):
    ada = crm.call("customer.create", {"kind": "person", "name": "Ada Lovelace",
                                       "emails": ["ada@example.org"]})
    check(ada["version"] == 1, "new customer at version 1")
    ada = crm.call("customer.update", {"id": ada["id"], "version": 1,
                                       "patch": {"name": "Ada King"}})
    check(ada["name"] == "Ada King" and ada["version"] == 2, "customer updated")
    pipeline = crm.call("pipeline.create", PIPELINE)
    check([s["key"] for s in pipeline["stages"]] == ["lead", "proposal", "won", "lost"],
          "pipeline stages")

    deal = crm.call("deal.create", {"customer": ada["id"], "pipeline": pipeline["id"],
                                    "title": "Engines",
                                    "amount": {"amount": "1200.00", "currency": "EUR"}})
    check(deal["stage"] == "lead", "a deal starts in the first open stage")
    deal = crm.call("deal.move", {"id": deal["id"], "version": 1, "stage": "proposal"})
    check(deal["stage"] == "proposal" and deal["version"] == 2, "deal moved")
    lost = crm.call("deal.lose", {"id": deal["id"], "version": 2, "reason": "price"})
    check(lost["stage"] == "lost", "deal lost")
    expect(TRANSITION_REFUSED, crm.call, "deal.reopen", {"id": deal["id"], "version": 3})
    expect(CONFLICT, crm.call, "deal.win", {"id": deal["id"], "version": 2})

    second = crm.call("deal.create", {"customer": ada["id"], "pipeline": pipeline["id"],
                                      "title": "More engines"})
    msg = expect(GUARD_FAILED, crm.call, "deal.move",
                 {"id": second["id"], "version": 1, "stage": "proposal"})
    check("proposal" in msg, "the guard message names the stage")
    crm.call("deal.win", {"id": second["id"], "version": 1})

    task = crm.call("activity.log", {"kind": "task", "subject": "Call back",
                                     "customer": ada["id"]})
    done = crm.call("activity.complete", {"id": task["id"], "version": 1})
    check(done["completed_at"] is not None, "task completed")

    seg = crm.call("segment.create", {"name": "Leads", "expression": "lifecycle = lead"})
    result = crm.call("segment.evaluate", {"id": seg["id"]})
    check(result["count"] == 1 and result["page"]["items"] == [ada["id"]],
          f"segment evaluates to Ada: {result}")

    report = crm.call("kpi.report")
    # One won, one lost: a win rate of one half.
    check(report["win_rate"] == {"won": 1, "lost": 1, "rate": "0.50"},
          f"win rate: {report['win_rate']}")
    # Calendar dates in an IANA zone; first responses in business hours.
    office = {"time_zone": "Europe/Berlin",
              "weekly_hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
              "holidays": []}
    zoned = crm.call("kpi.report", {"zone": "Europe/Berlin",
                                    "response": {"calendar": office, "sla_minutes": 240}})
    check(zoned["win_rate"] == report["win_rate"], f"zoned win rate: {zoned['win_rate']}")
    fr = zoned["first_response"]
    check(fr is not None and fr["leads"] == fr["answered"] + fr["unanswered"]
          and fr["sla"] is not None,
          f"first responses: {fr}")
    expect(INVALID_INPUT, crm.call, "kpi.report", {"zone": "Europe/Atlantis"})
    # Per-owner breakdowns cross as [{"owner": id-or-null, "value": ...}].
    by_owner = report["win_rate_by_owner"]
    check(sum(e["value"]["won"] for e in by_owner) == 1
          and all(set(e) == {"owner", "value"} for e in by_owner),
          f"win rate by owner: {by_owner}")

    events = crm.call("event.list", {"page": {"limit": 100}})["items"]
    # customer create + update, pipeline, deal create/move/lose,
    # second deal create/win, task log/complete, segment.
    check(len(events) == 11, f"11 events, got {len(events)}")

    # Bad input: each with its own status, nothing written.
    expect(INVALID_UTF8, crm.raw, "customer.create", b'{"kind":"person","name":"\xff"}')
    expect(INVALID_JSON, crm.raw, "customer.create", b'{"kind":')
    expect(INVALID_INPUT, crm.call, "customer.create", {"kind": "person"})
    expect(INVALID_INPUT, crm.call, "customer.create",
           {"kind": "person", "name": "Bo", "emails": ["not an email"]})
    expect(NOT_FOUND, crm.call, "deal.get", {"id": "0190d5d0-0000-7000-8000-000000000000"})
    expect(UNKNOWN_OPERATION, crm.call, "deal.explode")

    # Users: a read-only user may read but not write.
    rita = crm.call("user.create", {"name": "Rita", "email": "rita@example.com",
                                    "roles": ["read_only"]})
    as_rita = {"type": "user", "id": rita["id"]}
    check(crm.call("customer.get", {"id": ada["id"]}, actor=as_rita)["id"] == ada["id"],
          "read-only user reads")
    expect(PERMISSION_DENIED, crm.call, "customer.create",
           {"kind": "person", "name": "Bo"}, actor=as_rita)
    after = crm.call("event.list", {"page": {"limit": 100}})["items"]
    check(len(after) == 12, f"only the user creation was added, got {len(after)}")

    # Predictive models. Ada buys once for 300 EUR (the C API dates every
    # win now): nobody has a repeat purchase, so fitting is refused.
    order = crm.call("deal.create", {"customer": ada["id"], "pipeline": pipeline["id"],
                                     "title": "Order",
                                     "amount": {"amount": "300.00", "currency": "EUR"}})
    crm.call("deal.win", {"id": order["id"], "version": 1})
    obs = {"end": "2100-01-01T00:00:00Z", "currency": "EUR"}
    clv = {"horizon": 12, "discount_period": 1, "unit": "month", "discount_rate": 0.01}
    msg = expect(INVALID_INPUT, crm.call, "predict.fit", {"observation": obs, "unit": "week"})
    check("repeat purchase" in msg, f"fit refusal says why: {msg}")
    expect(INVALID_INPUT, crm.call, "predict.write_scores", {"observation": obs, "clv": clv})
    # Scores under the published CDNOW parameters, weekly and daily (alpha
    # in days is 7 times alpha in weeks): the same. Ada is alive and
    # expects the mean spend p v / (q - 1) = 6.25 * 15.44 / 2.74 = 35.22.
    cdnow = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    spend = {"p": 6.25, "q": 3.74, "v": 15.44}
    weekly = crm.call("predict.score", {"observation": obs, "unit": "week", "bg_nbd": cdnow,
                                        "gamma_gamma": spend, "clv": clv})
    daily = crm.call("predict.score", {"observation": obs, "unit": "day",
                                       "bg_nbd": dict(cdnow, alpha=4.414 * 7),
                                       "gamma_gamma": spend, "clv": clv})
    check(len(weekly) == 1 and weekly[0]["customer"] == ada["id"], f"one scored: {weekly}")
    check(weekly[0]["p_alive"] == 1.0, "a customer without repeat purchases is alive")
    check(weekly[0]["expected_spend"] == {"amount": "35.22", "currency": "EUR"},
          f"mean spend: {weekly[0]['expected_spend']}")
    check(abs(weekly[0]["expected_purchases"] - daily[0]["expected_purchases"]) < 1e-9
          and weekly[0]["clv"] == daily[0]["clv"], f"units agree: {weekly} {daily}")
    msg = expect(INVALID_INPUT, crm.call, "predict.score",
                 {"observation": obs, "bg_nbd": dict(cdnow, r=-1), "clv": clv})
    check("invalid r" in msg, f"bad parameter named: {msg}")
    check(len(crm.call("event.list", {"page": {"limit": 100}})["items"]) == 14,
          "predictive calls that fail or only read write nothing")

    # Two threads share the engine.
    errors = []

    def work(t):
        try:
            for i in range(20):
                crm.call("customer.create", {"kind": "person", "name": f"Worker {t}-{i}"})
        except CrmError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"thread errors: {errors}")
    names = [c["name"] for c in
             crm.call("customer.list", {"page": {"limit": 1000}})["items"]]
    check(sum(n.startswith("Worker ") for n in names) == 40, "40 customers from threads")


def strict(crm):
    """Misspelled fields are refused by name; errors come back structured."""
    try:
        crm.call("customer.create", {"kind": "person", "name": "Bo", "emial": "bo@example.com"})
        check(False, "a misspelled field is refused")
    except CrmError as e:
        check(e.status == INVALID_INPUT, f"unknown field: {e}")
        check("unknown field `emial`" in str(e), f"names the field: {e}")
        check(e.details.get("path") == "emial", f"path: {e.details}")
    try:
        crm.call("customer.create", {"kind": "person", "name": "Bo", "emails": ["nope"]})
        check(False, "a bad e-mail is refused")
    except CrmError as e:
        d = e.details
        check(d.get("status_name") == "CRM_STATUS_INVALID_INPUT", f"status_name: {d}")
        check(d.get("entity") == "customer" and d.get("field") == "emails[0]", f"parts: {d}")
        check(d.get("value") == "nope" and d.get("rule") is None, f"value: {d}")
    crm.call("customer.list", {})
    check(json.loads(crm.lib.crm_last_error_json().decode()) is None, "null after a success")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join("target", "debug", "libcrm_ffi.so")
    lib = load(path)
    check(lib.crm_version().decode() != "", "version")

    crm = Crm(lib)
    try:
        workflow(crm)
        strict(crm)
    finally:
        crm.close()

    # A file database keeps its records across opens.
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "crm.db")
        crm = Crm(lib, db)
        ada = crm.call("customer.create", {"kind": "person", "name": "Ada"})
        crm.close()
        crm = Crm(lib, db)
        check(crm.call("customer.get", {"id": ada["id"]})["name"] == "Ada", "reopened file")
        crm.close()

    if failures:
        print(f"smoke.py: {failures} check(s) failed", file=sys.stderr)
        return 1
    print(f"smoke.py: all checks passed (crm {lib.crm_version().decode()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
