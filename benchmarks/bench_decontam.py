"""`textbooks decontam`: recall and precision per tier on a planted set, and wall time at scale (CPU).

    python benchmarks/bench_decontam.py [--clean 5000] [--per-kind 20] [--scale 100000]
                                        [--embed-scale 10000] [--minilm 500] [--subsample 200] [--repeats 3]
                                        [--rephrase-split test]

  (r) rephrase  benchmarks/data/rephrase (hand- and rule-made rephrasings of HumanEval and MBPP
                problems among unrelated functions; README there): recall per style and precision,
                per tier and combined, on one half (`test`; thresholds were tuned on `tune`)

  (a) planted   `--clean` procedurally generated exercises plus `--per-kind` copies of HumanEval and
                MBPP problems of each kind (verbatim, renamed, reformatted, paraphrased, partial):
                recall per kind and precision, per tier and combined (records, at the default tau)
  (a') real    MBPP's 974 human-written solutions against HumanEval(+) only: flags are false positives
  (b) scale     `--scale` clean exercises against every benchmark problem (2,107), embedding tier
                off: seconds per tier; the embedding tier alone on `--embed-scale` records with the
                hashing embedder and on `--minilm` records with all-MiniLM-L6-v2 (its cost is the
                embedder's)
  (c) pruning   AST on candidate pairs only, against AST on all pairs (records x 2,107 problems,
                rapidfuzz's cdist), on `--subsample` records of the planted set: seconds (median of
                `--repeats`) and the records each flags at tau
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from rapidfuzz.process import cdist

from textbooks.benchmarks import benchmark_problems
from textbooks.decontam.ast_match import match_rate, similarity, units
from textbooks.decontam.config import DecontamConfig
from textbooks.decontam.embedding import nearest
from textbooks.decontam.pipeline import decontaminate
from textbooks.decontam.planted import PLANT_KINDS, planted_set
from textbooks.decontam.records import code_of
from textbooks.decontam.scoring import Scorer

REPHRASE_SET = Path(__file__).parent / "data" / "rephrase" / "rephrase_set.jsonl.gz"

def write_jsonl(path: Path, records: list[dict]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def planted_recall(work: Path, problems, args) -> None:
    pool = [p for p in problems if p.benchmark in ("humaneval", "mbpp")]
    records, kinds = planted_set(pool, clean=args.clean, per_kind=args.per_kind, seed=args.seed)
    config = DecontamConfig()
    result = decontaminate(write_jsonl(work / "planted.jsonl", records), work / "planted", config, progress=False)
    matches = pq.read_table(result.out / "matches.parquet").to_pandas()
    tiers = {
        "n-gram (word 13-gram or code containment)": (matches.ngram_words > 0) | (matches.ngram_code >= config.min_code_containment),
        "  word 13-grams only": matches.ngram_words > 0,
        f"embedding (hashing, cosine >= {config.min_cosine:g})": matches.embed_cosine >= config.min_cosine,
        f"AST >= tau {config.tau:g} (on candidates)": matches.ast_match >= config.tau,
        f"combined (flagged at tau {config.tau:g})": matches.flagged,
    }
    print(f"\n(a) planted set: {args.clean:,} clean exercises, {len(kinds)} plants ({args.per_kind} per kind, "
          f"HumanEval and MBPP problems); record level\n")
    header = f"| {'tier':44} | " + " | ".join(f"{k:>11}" for k in PLANT_KINDS) + " | recall | precision |"
    print(header)
    print("|" + "|".join("-" * (len(cell) + 0) for cell in header.split("|")[1:-1]) + "|")
    for name, mask in tiers.items():
        found = set(matches.record_id[mask])
        recall = [sum(1 for i, k in kinds.items() if k == kind and i in found) / args.per_kind for kind in PLANT_KINDS]
        total = len(found & set(kinds)) / len(kinds)
        precision = len(found & set(kinds)) / len(found) if found else 1.0
        print(f"| {name:44} | " + " | ".join(f"{r:>11.0%}" for r in recall) + f" | {total:>6.0%} | {precision:>9.1%} |")
    print(f"\n{len(matches):,} candidate pairs; seconds: {result.summary['seconds']}")
    return records, kinds


def _same_problem(record: dict, benchmark: str, task_id: str) -> bool:
    """Whether (benchmark, task_id) is the problem a rephrasing was made from, in any of its sets."""
    if record["benchmark"] == "humaneval":
        return task_id == record["task_id"]
    return task_id in (record["task_id"], f"Mbpp/{record['task_id']}") and benchmark.startswith("mbpp")


def rephrase_recall(work: Path, args, config: DecontamConfig | None = None) -> dict[str, tuple[float, float]]:
    """Recall (a rephrasing flagged for its own problem) per style and precision (records), per tier."""
    from textbooks.decontam.report import tier_flags

    with gzip.open(REPHRASE_SET, "rt", encoding="utf-8") as handle:
        records = [r for r in map(json.loads, handle) if r["split"] == args.rephrase_split]
    by_id = {r["id"]: r for r in records}
    config = config or DecontamConfig(benchmarks=["humaneval", "humaneval+", "mbpp", "mbpp-sanitized", "mbpp+"])
    started = time.perf_counter()
    result = decontaminate(write_jsonl(work / f"rephrase-{args.rephrase_split}.jsonl", [{"id": r["id"], "text": r["text"]} for r in records]),
                           work / f"rephrase-{args.rephrase_split}", config, progress=False)
    wall = time.perf_counter() - started
    matches = pq.read_table(result.out / "matches.parquet")
    frame = matches.to_pandas()
    tiers = tier_flags(matches, config.tau, config.min_statement_containment)
    tiers = {
        "n-gram (word 13-gram or code containment)": ((frame.ngram_words > 0) | (frame.ngram_code >= config.min_code_containment)).to_numpy(),
        f"statement (>= {config.min_statement_containment:.0%} of its word {config.statement_ngram}-grams)": tiers["statement"],
        f"embedding ({config.embedder}, cosine >= {config.min_cosine:g})": (frame.embed_cosine >= config.min_cosine).to_numpy(),
        f"AST >= tau {config.tau:g}": tiers["ast"],
        "behaviour (passes the problem's tests)": tiers["behaviour"],
        f"combined, no judge (flagged at tau {config.tau:g})": frame.flagged.to_numpy(),
    }
    styles = sorted({r["style"] for r in records if r["label"] == "rephrasing"})
    positives = [r for r in records if r["label"] == "rephrasing"]
    negatives = [r for r in records if r["label"] == "unrelated"]
    print(f"\n(r) rephrase set, half {args.rephrase_split!r}: {len(positives)} rephrasings, {len(negatives)} unrelated functions; "
          f"record level; recall = flagged for its own problem\n")
    print("| tier | " + " | ".join(styles) + " | recall | unrelated flagged | precision |")
    print("| --- |" + " ---: |" * (len(styles) + 3))
    summary = {}
    for name, mask in tiers.items():
        hits = frame[mask]
        own = {rid for rid, b, t in zip(hits.record_id, hits.benchmark, hits.task_id)
               if by_id[rid]["label"] == "rephrasing" and _same_problem(by_id[rid], b, t)}
        flagged = set(hits.record_id)
        false = {rid for rid in flagged if by_id[rid]["label"] == "unrelated"}
        per_style = [sum(r["id"] in own for r in positives if r["style"] == s) / max(1, sum(r["style"] == s for r in positives)) for s in styles]
        recall = len(own) / len(positives)
        precision = (len(flagged) - len(false)) / len(flagged) if flagged else 1.0
        summary[name] = (recall, len(false) / len(negatives))
        print(f"| {name} | " + " | ".join(f"{x:.0%}" for x in per_style) +
              f" | {recall:.0%} | {len(false)} ({len(false) / len(negatives):.1%}) | {precision:.1%} |")
    false_ids = sorted({f"{rid} ({t})" for rid, t in zip(frame.record_id[frame.flagged], frame.task_id[frame.flagged])
                        if by_id[rid]["label"] == "unrelated"})
    caught = {rid for rid, b, t in zip(frame.record_id[frame.flagged], frame.benchmark[frame.flagged], frame.task_id[frame.flagged])
              if by_id[rid]["label"] == "rephrasing" and _same_problem(by_id[rid], b, t)}
    missed = sorted(f"{r['id']} ({r['task_id']})" for r in positives if r["id"] not in caught)
    print(f"\nrephrasings missed: {missed or 'none'}")
    print(f"\nunrelated functions flagged: {false_ids or 'none'}; seconds per tier: {result.summary['seconds']} "
          f"(wall {wall:.0f} s, {result.summary.get('behaviour_records', 0)} records run in the sandbox)")
    return summary


def human_negatives(work: Path, problems, args) -> None:
    """Real, human-written, unrelated code: MBPP's 974 problems checked against HumanEval(+) only."""
    records = [{"id": f"mbpp-{p.task_id}", "prompt": f'"""{p.prompt}"""\n', "solution": p.solution,
                "text": f'"""{p.prompt}"""\n' + p.solution} for p in problems if p.benchmark == "mbpp"]
    result = decontaminate(write_jsonl(work / "mbpp.jsonl", records), work / "negatives",
                           DecontamConfig(benchmarks=["humaneval", "humaneval+"]), progress=False)
    matches = pq.read_table(result.out / "matches.parquet").to_pandas()
    print(f"\n(a') false positives on real code: MBPP's {len(records)} solutions against HumanEval and HumanEval+ "
          f"(every flag is a false positive, or a problem both benchmarks share)\n")
    print("| tau | MBPP records flagged (AST) | share |")
    print("| --- | ---: | ---: |")
    for tau in (0.95, 0.9, 0.85, 0.8):
        flagged = matches.record_id[matches.ast_match >= tau].nunique()
        print(f"| {tau:g} | {flagged} | {flagged / len(records):.2%} |")
    config = DecontamConfig()
    for name, mask in (("statement", matches.statement >= config.min_statement_containment), ("behaviour", matches.behaviour.fillna(False).astype(bool))):
        hits = matches[mask]
        print(f"\n{name} tier: {hits.record_id.nunique()} MBPP records flagged ({hits.record_id.nunique() / len(records):.2%}): "
              f"{sorted(set(zip(hits.record_id, hits.task_id)))}")
    print(f"\n{len(matches):,} candidate pairs; word 13-gram overlaps: {matches.record_id[matches.ngram_words > 0].nunique()} records")


def scale(work: Path, problems, args) -> None:
    # 1% plants (every benchmark's problems, every kind) so that the AST tier has work at scale.
    per_kind = args.scale // 500
    records, _ = planted_set(problems, clean=args.scale - per_kind * len(PLANT_KINDS), per_kind=per_kind, seed=args.seed + 1)
    source = write_jsonl(work / "scale.jsonl", records)
    started = time.perf_counter()
    result = decontaminate(source, work / "scale", DecontamConfig(embedder="none", behaviour=False), progress=False)
    wall = time.perf_counter() - started
    seconds = result.summary["seconds"]
    print(f"\n(b) {args.scale:,} exercises (1% planted copies) x {len(problems):,} benchmark problems, embedding and behaviour "
          f"tiers off (the behaviour tier's cost: records/s in (r)); one run\n")
    print("| tier | seconds | records/s |")
    print("| --- | ---: | ---: |")
    for tier in ("ngram", "ast", "read", "write"):
        print(f"| {tier} | {seconds.get(tier, 0):.1f} | {args.scale / max(seconds.get(tier, 0), 1e-9):,.0f} |")
    print(f"| whole run (wall) | {wall:.1f} | {args.scale / wall:,.0f} |")
    print(f"\n{result.summary['pairs']:,} candidate pairs ({result.summary['pairs'] / args.scale:.2f} per record), "
          f"{result.summary['ast_records']:,} records compared on the AST tier, {result.summary['removed']:,} flagged at tau 0.9 "
          f"({per_kind * len(PLANT_KINDS):,} planted)")

    from textbooks.data.embed import get_embedder

    print("\nembedding tier alone (embed the records, then exact top-3 by chunked matrix products)\n")
    print("| embedder | records | embed s | kNN s | records/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    texts = [p.text for p in problems]
    for name, count in (("hashing", args.embed_scale), ("minilm", args.minilm)):
        if not count:
            continue
        embedder = get_embedder(name)
        problem_vectors = embedder.embed(texts)
        started = time.perf_counter()
        vectors = embedder.embed([r["text"] for r in records[:count]])
        embedded = time.perf_counter()
        nearest(vectors, problem_vectors, 3, 0.8)
        done = time.perf_counter()
        print(f"| {name} | {count:,} | {embedded - started:.1f} | {done - embedded:.2f} | {count / (done - started):,.0f} |")


def pruning(records: list[dict], kinds: dict[str, str], problems, args) -> None:
    rng = random.Random(args.seed)
    planted = [r for r in records if r["id"] in kinds]
    sample = rng.sample(planted, min(len(planted), args.subsample // 4)) + rng.sample([r for r in records if r["id"] not in kinds],
                                                                                     args.subsample - min(len(planted), args.subsample // 4))
    config = DecontamConfig(behaviour=False)  # the AST tier's pruning is measured here
    scorer = Scorer(problems, config, "exercise")
    forms = scorer.forms

    def candidates():
        table, _ = scorer.score(sample, offset=0)
        scores = np.nan_to_num(table["ast_match"].to_numpy(zero_copy_only=False), nan=-1.0)
        return {sample[i]["id"] for i in np.asarray(table["record_index"])[scores >= config.tau]}

    def all_pairs():
        flagged = set()
        dumps = [f.dump for f in forms]
        for record in sample:
            parts = [part for block in code_of(record, "exercise") for part in units(block)]
            parsed = [p.dump for p in parts if p.parsed]
            best = cdist(parsed, dumps, scorer=similarity, dtype=np.float32).max() if parsed else -1.0
            # Programs that do not parse, on either side, compare as text (as in the pipeline).
            for part in (p for p in parts if not p.parsed):
                best = max(best, max(match_rate(part, form) for form in forms))
            if best >= config.tau:
                flagged.add(record["id"])
        return flagged

    timings = {}
    for name, step in (("candidates only (ours)", candidates), ("all pairs (cdist)", all_pairs)):
        times, flagged = [], set()
        for _ in range(args.repeats):
            started = time.perf_counter()
            flagged = step()
            times.append(time.perf_counter() - started)
        timings[name] = (statistics.median(times), flagged)
    (ours, ours_flagged), (full, full_flagged) = timings.values()
    print(f"\n(c) AST tier on {len(sample)} records ({sum(r['id'] in kinds for r in sample)} planted) x {len(problems):,} "
          f"problems; median of {args.repeats}\n")
    print("| AST on | seconds | records flagged | planted flagged | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (seconds, flagged) in timings.items():
        print(f"| {name} | {seconds:.2f} | {len(flagged)} | {len(flagged & set(kinds))} | {full / seconds:.0f}x |")
    print(f"\nflagged by all pairs but not by candidates: {sorted(full_flagged - ours_flagged) or 'none'}; "
          f"all pairs on 100,000 records would take about {full / len(sample) * 100_000 / 3600:.1f} h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", type=int, default=5000)
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--embed-scale", type=int, default=10_000)
    parser.add_argument("--minilm", type=int, default=500)
    parser.add_argument("--subsample", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rephrase-split", default="test", choices=("tune", "test"))
    parser.add_argument("--skip", default="", help="Comma-separated parts to skip: rephrase, planted, negatives, scale, pruning.")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    problems = benchmark_problems()
    with tempfile.TemporaryDirectory(prefix="bench_decontam_") as tmp:
        work = Path(tmp)
        if "rephrase" not in skip:
            rephrase_recall(work, args)
        records, kinds = planted_recall(work, problems, args) if "planted" not in skip else (None, None)
        if "negatives" not in skip:
            human_negatives(work, problems, args)
        if "scale" not in skip:
            scale(work, problems, args)
        if "pruning" not in skip and records is not None:
            pruning(records, kinds, problems, args)


if __name__ == "__main__":
    main()
