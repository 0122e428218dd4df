"""Do the two dedup paths agree on real code? datatrove's (corpus scale) against NearDedup's (in memory).

    python benchmarks/dedup_agreement.py [--threshold 0.7] [--workers 2]

Corpora: `encodings` + `email` + `json` as they are (codec tables: many near duplicates), and
every standard-library source that passes cleaning (no tests), as `bench_curate.py` reads them.
Not a speed claim: it prints, per corpus, the LSH candidate pairs each path judges and how many
fall below the threshold, then the files each removes and the files each puts in a duplicate
pair, with how many both share (see `tests/dedup_judges.py`).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import sysconfig
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))  # the judges the tests compare with


def main() -> None:
    from bench_curate import stdlib_texts, write_dataset
    from dedup_judges import datatrove_verdicts, near_dedup_verdicts

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    codecs = sorted(itertools.chain.from_iterable((stdlib / p).rglob("*.py") for p in ("encodings", "email", "json")))
    corpora = {
        "encodings+email+json": [p.read_text("utf-8", "replace") for p in codecs],
        "cleaned stdlib": stdlib_texts(),
    }
    for name, texts in corpora.items():
        rows = [{"id": f"f{i}", "text": text} for i, text in enumerate(texts)]
        with tempfile.TemporaryDirectory(prefix="dedup-agreement-") as work:
            dataset = write_dataset(rows, Path(work) / "raw", rows_per_shard=max(1, len(rows) // 4))
            theirs = near_dedup_verdicts(dataset, args.threshold)
            ours = datatrove_verdicts(dataset, Path(work) / "dedup", args.threshold, args.workers)
        print(f"\n{name}: {len(rows)} files, threshold {args.threshold}")
        print(f"{'':<34}{'datatrove':>10}{'NearDedup':>10}{'both':>8}{'either':>8}")
        print(f"{'LSH candidate pairs':<34}{ours.candidate_pairs:>10}{theirs.candidate_pairs:>10}")
        print(f"{'  below the threshold (rejected)':<34}{ours.rejected_pairs:>10}{theirs.rejected_pairs:>10}")
        for label, a, b in (("files removed", ours.removed, theirs.removed),
                            ("files in a duplicate pair", ours.members, theirs.members)):
            print(f"{label:<34}{len(a):>10}{len(b):>10}{len(a & b):>8}{len(a | b):>8}")


if __name__ == "__main__":
    main()
