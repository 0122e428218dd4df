"""Rebuild src/textbooks/tokenizer/tokenizer.json: the codegen-350M-mono tokenizer phi-1 uses.

It is GPT-2's byte-level BPE (50,257 tokens, `<|endoftext|>` = 50256) plus 38 added whitespace
tokens, so that Python indentation costs one token per run instead of one per space:
runs of 31 down to 2 spaces take ids 50257..50286, runs of 9 down to 2 tabs take 50287..50294.
Like every added token they are matched before the BPE, longest run first, and are not special.

    python scripts/build_tokenizer.py [--assets DIR] [--out FILE]

DIR holds vocab.json and merges.txt (the GPT-2 files; see shared/assets/SOURCES.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ASSETS = REPO.parent / "shared" / "assets" / "tokenizer"
DEFAULT_OUT = REPO / "src" / "textbooks" / "tokenizer" / "tokenizer.json"

EOS = "<|endoftext|>"
WHITESPACE_RUNS = [" " * n for n in range(31, 1, -1)] + ["\t" * n for n in range(9, 1, -1)]


def build_tokenizer(vocab: Path, merges: Path) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE.from_file(str(vocab), str(merges)))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.add_special_tokens([AddedToken(EOS, special=True, normalized=False)])
    tokenizer.add_tokens([
        AddedToken(run, special=False, normalized=False, lstrip=False, rstrip=False, single_word=False)
        for run in WHITESPACE_RUNS
    ])
    return tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=Path, default=DEFAULT_ASSETS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    tokenizer = build_tokenizer(args.assets / "vocab.json", args.assets / "merges.txt")
    added = [tokenizer.token_to_id(run) for run in WHITESPACE_RUNS]
    assert tokenizer.token_to_id(EOS) == 50256 and added == list(range(50257, 50295)), added
    tokenizer.save(str(args.out), pretty=False)
    print(f"wrote {args.out} ({tokenizer.get_vocab_size()} tokens)")


if __name__ == "__main__":
    main()
