#!/usr/bin/env python3
"""Did a schemathesis pass really test each operation it selected? Reads its NDJSON event report.

Usage: tested.py REPORT.ndjson OPERATION...

OPERATION is `METHOD /path` as tests/fuzz/run selects it. For each phase that ran (examples,
coverage, fuzzing, stateful) this counts, per operation, the test cases that got a response. It
fails (exit 1), naming them, when an operation
- got no answered test case in the coverage phase or in the fuzzing phase (each must reach every
  operation; the examples phase runs only for operations whose spec has examples, and the stateful
  phase only along links), or
- was skipped or errored in either of those phases (a skip reason, or an error instead of a
  verdict), or
- is not in the report at all;
and when the report does not say the engine finished. Prints one line per phase with how many of
the selected operations it tested and how many test cases it ran. Standard library only.
"""
import collections
import json
import sys

REQUIRED = ("coverage", "fuzzing")


def main():
    path, selected = sys.argv[1], sys.argv[2:]
    cases = collections.defaultdict(collections.Counter)  # phase -> operation -> answered cases
    problems = []
    finished = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            if "EngineFinished" in event:
                finished = True
            s = event.get("ScenarioFinished")
            if s is None:
                continue
            recorder = s.get("recorder") or {}
            label = recorder.get("label")
            if s["phase"] in REQUIRED and s["status"] in ("skip", "error"):
                why = s.get("skip_reason") or s["status"]
                problems.append(f"{label}: {s['status']} in the {s['phase']} phase ({why})")
            interactions = recorder.get("interactions") or {}
            for case_id, case in (recorder.get("cases") or {}).items():
                value = case["value"]
                if (interactions.get(case_id) or {}).get("response") is not None:
                    cases[s["phase"]][f"{value['method'].upper()} {value['path']}"] += 1
    if not finished:
        problems.append("the report has no EngineFinished event (schemathesis stopped early)")
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        counted = cases.get(phase, collections.Counter())
        hit = [op for op in selected if counted[op]]
        print(f"  tested in {phase}: {len(hit)}/{len(selected)} operations, {sum(counted[op] for op in selected)} test cases")
        if phase in REQUIRED:
            for op in selected:
                if not counted[op]:
                    problems.append(f"{op}: no test case answered in the {phase} phase")
    for p in problems:
        print(f"!! not tested: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
