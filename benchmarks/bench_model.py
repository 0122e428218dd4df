"""Our `Phi` against transformers' `PhiForCausalLM` on the same weights and inputs (CPU).

    python benchmarks/bench_model.py [--preset tiny] [--threads 2] [--repeats 5]

  training step       forward + backward + AdamW on a batch x seq of random tokens: tokens/s
  greedy generation   a batch of left-padded prompts (the longest `--prompt-len` tokens), exactly
                      `--new-tokens` new tokens per row (ours: no EOS stop; transformers: sdpa,
                      use_cache, min_new_tokens = max_new_tokens): new tokens/s

Each is timed `--repeats` times after one warmup, ours and transformers taking turns; the table
shows medians and ours/transformers.
The greedy outputs of the two are compared too (same weights: they should be identical).
"""

import argparse
import copy
import statistics
import sys
import tempfile
import time

import torch
import transformers

from textbooks.model.generate import generate_tokens
from textbooks.model.hf import export_hf
from textbooks.model.phi import Phi, PhiConfig
from textbooks.tokenizer import EOS_ID, VOCAB_SIZE


def interleaved_medians(steps: list, repeats: int) -> list[tuple[float, float]]:
    """(median wall seconds, median CPU seconds of this process) of each step.

    The steps take turns, so that load from other processes falls on all of them alike, and the
    order flips every repeat, so that neither always runs on the memory the other just freed. CPU
    time is the steadier measure on a shared machine (it leaves out time spent waiting for a core).
    """
    for step in steps:
        step()  # warmup: allocator, kernels, lazy initialisation
    times = [[] for _ in steps]
    for repeat in range(repeats):
        turns = list(zip(steps, times))
        for step, record in turns if repeat % 2 == 0 else reversed(turns):
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            record.append((time.perf_counter() - wall, time.process_time() - cpu))
    return [(statistics.median(w for w, _ in record), statistics.median(c for _, c in record)) for record in times]


def training_step(model, ids: torch.Tensor, is_ours: bool):
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        # Both losses are the mean next-token cross-entropy over the batch, in fp32.
        if is_ours:
            _, loss = model(ids[:, :-1], targets=ids[:, 1:])
        else:
            loss = model(ids[:, :-1], labels=ids[:, :-1]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def left_padded(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, prompts))
    ids = torch.tensor([[EOS_ID] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--prompt-len", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--only", choices=["train", "generate"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    ours = Phi(PhiConfig.from_preset(args.preset))
    with tempfile.TemporaryDirectory() as folder:
        export_hf(ours, folder)
        theirs = transformers.AutoModelForCausalLM.from_pretrained(folder, attn_implementation="sdpa")
    generator = torch.Generator().manual_seed(1)
    rows = []

    if args.only in (None, "train"):
        ids = torch.randint(0, VOCAB_SIZE, (args.batch, args.seq + 1), generator=generator)
        tokens = args.batch * args.seq
        steps = [training_step(copy.deepcopy(model), ids, is_ours) for model, is_ours in ((ours, True), (theirs, False))]
        rows.append((f"training step, {args.batch} x {args.seq}, fwd+bwd+AdamW (tokens/s)", tokens,
                     interleaved_medians(steps, args.repeats)))

    if args.only in (None, "generate"):
        # Prompt lengths spread over the last quarter below --prompt-len: real left padding.
        lengths = [args.prompt_len - (i * args.prompt_len // 4) // max(args.batch - 1, 1) for i in range(args.batch)]
        prompts = [torch.randint(0, VOCAB_SIZE, (n,), generator=generator).tolist() for n in lengths]
        ids, mask = left_padded(prompts)
        ours.eval()
        theirs.eval()
        outputs = {}

        def ours_generate() -> None:
            outputs["ours"] = generate_tokens(ours, prompts, max_new_tokens=args.new_tokens, eos_id=None)

        def theirs_generate() -> None:
            with torch.inference_mode():
                out = theirs.generate(ids, attention_mask=mask, do_sample=False, use_cache=True,
                                      max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                                      pad_token_id=EOS_ID, eos_token_id=EOS_ID)
            outputs["theirs"] = out[:, ids.shape[1]:].tolist()

        timings = interleaved_medians([ours_generate, theirs_generate], args.repeats)
        same = "identical" if outputs["ours"] == outputs["theirs"] else "DIFFERENT"
        rows.append((f"greedy generation, {args.batch} prompts of {min(lengths)}-{max(lengths)} tokens "
                     f"+ {args.new_tokens} new (new tokens/s; outputs {same})", args.batch * args.new_tokens, timings))

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, python {sys.version.split()[0]}, "
          f"{args.threads} threads, preset {args.preset} ({ours.num_parameters():,} parameters), "
          f"median of {args.repeats} after 1 warmup\n")
    print("| benchmark | ours | transformers | ours / transformers | same, by CPU time |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, tokens, ((ours_wall, ours_cpu), (theirs_wall, theirs_cpu)) in rows:
        print(f"| {name} | {tokens / ours_wall:.0f} | {tokens / theirs_wall:.0f} | {theirs_wall / ours_wall:.2f}x "
              f"| {theirs_cpu / ours_cpu:.2f}x |")


if __name__ == "__main__":
    main()
