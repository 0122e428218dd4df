"""The codegen-350M-mono tokenizer that phi-1 uses, shipped as `tokenizer.json`.

GPT-2's byte-level BPE plus 38 added whitespace-run tokens (built by scripts/build_tokenizer.py;
the BPE files are MIT-licensed, see LICENSE here). Encoding and decoding round-trip any text
exactly; `<|endoftext|>` separates documents.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from tokenizers import Tokenizer

TOKENIZER_JSON = Path(__file__).with_name("tokenizer.json")
EOS_TOKEN = "<|endoftext|>"
EOS_ID = 50256
VOCAB_SIZE = 50295  # 50,257 BPE tokens + 38 whitespace runs
PADDED_VOCAB_SIZE = 51200  # phi-1's embedding rows: VOCAB_SIZE rounded up to a multiple of 1024


@functools.cache
def load_tokenizer() -> Tokenizer:
    """The shared tokenizer (cached; `tokenizers.Tokenizer` is safe to use from many threads)."""
    return Tokenizer.from_file(str(TOKENIZER_JSON))


def save_hf_tokenizer(directory: Path) -> Path:
    """Write the files `transformers.AutoTokenizer.from_pretrained(directory)` loads; returns it.

    The generic fast class reads tokenizer.json as it is, so transformers gives the same ids.
    `clean_up_tokenization_spaces` stays off: it would delete spaces before punctuation and break
    the exact round trip code needs.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    load_tokenizer().save(str(directory / "tokenizer.json"))
    special = {"bos_token": EOS_TOKEN, "eos_token": EOS_TOKEN, "unk_token": EOS_TOKEN}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 2048,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        **special,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (directory / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    return directory
