#!/usr/bin/env python3
"""Bytes per event of each LMDB database of a ledger's data directory, from LMDB's own page counts.

Usage: python3 scripts/db_bytes.py DATA_DIR   (needs PyPI's `lmdb`: pip install lmdb)
"""
import os
import sys

import lmdb

path = sys.argv[1]
env = lmdb.open(path, readonly=True, lock=False, max_dbs=64, subdir=True)
txn = env.begin()
names = [key for key, _ in txn.cursor()]
stats = {}
for name in names:
    s = txn.stat(env.open_db(name, txn=txn, create=False))
    stats[name.decode()] = (s["entries"], s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"])
events = stats.get("records", (0, 0))[0] or 1
print(f"{'database':20} {'entries':>10} {'pages':>8} {'B/event':>8}")
for name, (entries, pages) in sorted(stats.items()):
    print(f"{name:20} {entries:10} {pages:8} {pages * 4096 / events:8.1f}")
size = os.path.getsize(os.path.join(path, "data.mdb"))
print(f"{'data.mdb':20} {events:10} {size // 4096:8} {size / events:8.1f}")
