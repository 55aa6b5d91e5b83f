#!/usr/bin/python3
"""Prints the closing line of `make test`: "N passed, N failed, N skipped".

Meson's own summary counts executables, not test cases, and CI tools do not
read it. Each meson test may write a JUnit XML file to BUILDDIR/junit/NAME.xml
(cmocka via CMOCKA_XML_FILE, pytest via --junitxml); its cases are counted one
by one. A meson test without such a file counts as one case. A meson test that
failed although its JUnit file shows no failure (a crash, a sanitizer report,
a leak) counts one extra failure, so nothing is lost.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET


def junit_counts(path):
    passed = failed = skipped = 0
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main(dirs):
    passed = failed = skipped = 0
    for d in dirs:
        # `meson test --setup NAME` logs to testlog-NAME.json (run-tests.sh
        # says which through KT_TEST_SETUP).
        setup = os.environ.get("KT_TEST_SETUP")
        log = os.path.join(d, "meson-logs", f"testlog-{setup}.json" if setup else "testlog.json")
        if not os.path.exists(log):
            print(f"test-summary: {log} missing: the build or test run failed", file=sys.stderr)
            failed += 1
            continue
        with open(log) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                t = json.loads(line)
                # meson names tests "project:suite / name"; the JUnit file uses the bare name.
                name = t["name"].split(" / ", 1)[-1].replace("/", "_").replace(" ", "_")
                result = t["result"]
                counts = junit_counts(os.path.join(d, "junit", name + ".xml"))
                if counts is not None and sum(counts) > 0:
                    p, fl, s = counts
                    passed += p
                    skipped += s
                    failed += fl
                    if result not in ("OK", "SKIP", "EXPECTEDFAIL") and fl == 0:
                        print(f"test-summary: {d}: {t['name']} exited {result} after its cases passed",
                              file=sys.stderr)
                        failed += 1
                elif result in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif result == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
