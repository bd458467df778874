#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes a promtool rule-test file (JSON, which is YAML) from real scrapes taken once per test-clock minute, with the alerts the scenario expects.
"""usage: gen_rule_tests.py RULES SCRAPE_DIR MINUTES EXPECT_FILE > tests.json

SCRAPE_DIR holds WHO-K.prom for K in 0..MINUTES-1, WHO being master or a
mirror name; each becomes a Prometheus target (job blsync-master or
blsync-mirror, instance WHO:PORT). Every sample of the families named in the
EXPECT_FILE's "series" lines becomes an input series with one value per
minute. EXPECT_FILE lines:
  series NAME...                     families to feed to promtool
  none MINUTE ALERT                  ALERT must not fire at MINUTE
  fire MINUTE ALERT WHO SERIES       ALERT fires at MINUTE, once, with the
                                     labels of WHO's SERIES (name{labels} as
                                     scraped) and annotations rendered from
                                     RULES with that series' value then
The values are the daemons' own; nothing here invents one.
"""
import json
import os
import re
import sys


def parse_prom(path):
    out = {}
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            key, val = line.rsplit(None, 1)
            out[key] = float(val)
    return out


def target(who):
    if who == "master":
        return "blsync-master", "master:9153"
    return "blsync-mirror", who + ":9154"


def with_target(key, who):
    job, inst = target(who)
    extra = 'job="%s",instance="%s"' % (job, inst)
    if "{" in key:
        name, rest = key.split("{", 1)
        rest = rest[:-1]
        return "%s{%s%s%s}" % (name, rest, "," if rest else "", extra)
    return "%s{%s}" % (key, extra)


def labels_of(key, who):
    job, inst = target(who)
    labels = {"job": job, "instance": inst}
    if "{" in key:
        for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', key.split("{", 1)[1]):
            labels[k] = v
    return labels


def rules(path):
    """alert -> {severity, summary, description} from rules.yml (one-line quoted strings)."""
    out, cur = {}, None
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*- alert:\s*(\S+)", line)
            if m:
                cur = out.setdefault(m.group(1), {})
                continue
            m = re.match(r'\s*(severity|summary|description):\s*"?(.*?)"?\s*$', line)
            if cur is not None and m:
                cur[m.group(1)] = m.group(2).replace('\\"', '"')
    return out


def humanize_duration(v):
    # Prometheus' humanizeDuration for values of at least one second.
    if v == 0 or abs(v) < 1:
        return "%.4gs" % v
    s = int(v)
    d, h, m, sec = s // 86400, s // 3600 % 24, s // 60 % 60, s % 60
    if d:
        return "%dd %dh %dm %ds" % (d, h, m, sec)
    if h:
        return "%dh %dm %ds" % (h, m, sec)
    if m:
        return "%dm %ds" % (m, sec)
    return "%ds" % sec


def render(tmpl, labels, value):
    def sub(m):
        expr = m.group(1).strip()
        if expr.startswith("$labels."):
            return labels.get(expr[8:], "")
        if expr == "$value | humanizeDuration":
            return humanize_duration(value)
        if expr == "$value":
            return str(int(value)) if value == int(value) else repr(value)
        raise SystemExit("template not supported here: " + expr)

    return re.sub(r"\{\{(.*?)\}\}", sub, tmpl)


def main():
    rules_path, sdir, minutes, expect = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    R = rules(rules_path)
    scr = {}
    for fn in os.listdir(sdir):
        m = re.match(r"(.+)-(\d+)\.prom$", fn)
        if m:
            scr[(m.group(1), int(m.group(2)))] = parse_prom(os.path.join(sdir, fn))
    whos = sorted({w for w, _ in scr})
    families, tests = [], []
    for line in open(expect):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        if f[0] == "series":
            families += f[1:]
        elif f[0] == "none":
            tests.append({"eval_time": "%sm" % f[1], "alertname": f[2], "exp_alerts": []})
        elif f[0] == "fire":
            k, alert, who, key = int(f[1]), f[2], f[3], f[4]
            if key not in scr[(who, k)]:
                raise SystemExit("%s at minute %d has no %s" % (who, k, key))
            labels = labels_of(key, who)
            labels["severity"] = R[alert]["severity"]
            v = scr[(who, k)][key]
            ann = {a: render(R[alert][a], labels, v) for a in ("summary", "description")}
            tests.append({"eval_time": "%dm" % k, "alertname": alert,
                          "exp_alerts": [{"exp_labels": labels, "exp_annotations": ann}]})
    series = []
    for who in whos:
        keys = sorted({key for (w, _), d in scr.items() if w == who for key in d
                       if key.split("{")[0] in families})
        for key in keys:
            vals = []
            for k in range(minutes):
                d = scr.get((who, k), {})
                vals.append("_" if key not in d else ("%.17g" % d[key]))
            series.append({"series": with_target(key, who), "values": " ".join(vals)})
    doc = {"rule_files": [os.path.abspath(rules_path)], "evaluation_interval": "1m",
           "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": tests}]}
    json.dump(doc, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
