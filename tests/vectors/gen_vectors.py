#!/usr/bin/python3
"""Generates the golden packet vectors of kiteplane (see FORMAT.md).

An independent oracle: every expected byte comes from docs/forwarding.md and
the ABI headers (dataplane/abi/*.h, parsed by vectorlib), never from the C++
or BPF fast paths.  Run with Debian's /usr/bin/python3 (it has scapy):

  gen_vectors.py           rewrites the vector files beside this script
  gen_vectors.py --check   regenerates in memory; exit 1 if a committed file differs

Each vector file (vectors.json, vectors_closed.json, ...) comes with
<stem>_in.pcap (every input, in case order), <stem>_out.pcap (one frame per
"tx" case, in case order) and <stem>_index.json (case -> pcap positions).
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean when run as a test
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases_main  # noqa: E402
import cases_other  # noqa: E402
import model  # noqa: E402
import vectorlib as vl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# Drop reasons the brief requires a case for (across all files).
REQUIRED_REASONS = [
    "eth_truncated", "vlan_truncated", "vlan_stacked", "ipv4_truncated",
    "ipv4_bad_version", "ipv4_bad_ihl", "ipv4_options", "ipv4_bad_length",
    "ipv4_bad_checksum", "ipv6_truncated", "ipv6_bad_version", "ipv6_bad_length",
    "ipv6_ext_header", "udp_truncated", "udp_bad_length", "udp_bad_checksum",
    "bogon_source", "tunnel_truncated", "tunnel_bad_magic", "tunnel_bad_version",
    "tunnel_bad_family", "tunnel_unknown_session", "tunnel_wrong_source",
    "tunnel_bad_cookie", "tunnel_kite_not_in_session", "tunnel_bogon_client",
    "kite_disabled", "kite_no_session", "quota_exhausted", "rate_packets",
    "rate_bits", "mtu_exceeded", "no_nexthop", "lame_duck_closed",
]


def validate(abi, doc):
    """Checks every case's shape and that the byte-level model agrees with it."""
    names = set()
    m = model.Model(abi, doc)
    for c in doc["cases"]:
        got = m.forward(bytes.fromhex(c["input"]))
        want = (c["verdict"], c["reason"], c["kite_id"],
                bytes.fromhex(c["output"]) if "output" in c else None)
        assert got == want, "%s: model says %s, case says %s" % (
            c["name"], got[:3] + (got[3].hex() if got[3] else None,),
            want[:3] + (c.get("output"),))
        assert c["name"] not in names, "duplicate case name " + c["name"]
        names.add(c["name"])
        assert c["verdict"] in ("tx", "drop", "exception"), c["name"]
        assert c["reason"] in abi.drop_reasons, c["name"] + ": unknown reason"
        assert (c["reason"] != "none") == (c["verdict"] == "drop"), c["name"]
        assert ("output" in c) == (c["verdict"] == "tx"), c["name"]


def file_set(stem, doc):
    """Every file of one vector set: {filename: bytes}."""
    cases = doc["cases"]
    ins = [bytes.fromhex(c["input"]) for c in cases]
    outs, index, n_out = [], [], 0
    for i, c in enumerate(cases):
        entry = {"name": c["name"], "verdict": c["verdict"], "reason": c["reason"],
                 "in_index": i, "out_index": None}
        if c["verdict"] == "tx":
            outs.append(bytes.fromhex(c["output"]))
            entry["out_index"] = n_out
            n_out += 1
        index.append(entry)
    return {
        stem + ".json": (json.dumps(doc, indent=1) + "\n").encode(),
        stem + "_in.pcap": vl.pcap_bytes(ins),
        stem + "_out.pcap": vl.pcap_bytes(outs),
        stem + "_index.json": (json.dumps({"vectors": stem + ".json", "cases": index},
                                          indent=1) + "\n").encode(),
    }


def generate():
    abi = vl.Abi()
    docs = {"vectors": cases_main.build(abi)}
    docs.update(cases_other.build_all(abi))
    seen = set()
    files = {}
    for stem, doc in docs.items():
        validate(abi, doc)
        seen.update(c["reason"] for c in doc["cases"])
        files.update(file_set(stem, doc))
    missing = [r for r in REQUIRED_REASONS if r not in seen]
    assert not missing, "no case for drop reasons: %s" % missing
    return files, docs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files instead of writing them")
    ap.add_argument("--out", default=HERE, help="directory of the vector files")
    args = ap.parse_args()
    files, docs = generate()
    if args.check:
        bad = []
        for name, data in sorted(files.items()):
            path = os.path.join(args.out, name)
            try:
                with open(path, "rb") as f:
                    if f.read() != data:
                        bad.append(name + " differs")
            except FileNotFoundError:
                bad.append(name + " missing")
        for line in bad:
            print("gen_vectors --check: " + line, file=sys.stderr)
        if bad:
            print("regenerate with: /usr/bin/python3 tests/vectors/gen_vectors.py",
                  file=sys.stderr)
            return 1
        n = sum(len(d["cases"]) for d in docs.values())
        print("gen_vectors --check: %d files, %d cases, all up to date" % (len(files), n))
        return 0
    for name, data in sorted(files.items()):
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
    for stem, doc in docs.items():
        print("%s.json: %d cases" % (stem, len(doc["cases"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
