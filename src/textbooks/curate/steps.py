"""datatrove pipeline steps over our datasets: read a shard, clean, embed, score, write a shard.

Task `rank` of a stage reads shard `rank` of its input dataset and writes shard `rank` of its
output into the output's staging directory (see `textbooks.data.datasets`), so a stage is
shard-parallel on any datatrove executor and its output shards line up with its input's.
Each step counts what it does with `stat_update`; datatrove saves the counts per task and
`textbooks.curate.executor.step_counts` sums them into the manifest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.word_tokenizers import WordTokenizer

from textbooks.curate.clean import CleanConfig, clean_text
from textbooks.data.datasets import Dataset, write_shard_file
from textbooks.data.dedup import TOKEN
from textbooks.io import StagedDirectory

BATCH = 256  # documents embedded, scored or written at a time


def batched(documents: DocumentsPipeline, size: int = BATCH) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for document in documents:
        batch.append(document)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class CodeWordTokenizer(WordTokenizer):
    """The tokens `textbooks.data.dedup` shingles (words, numbers, single punctuation marks), as
    the word tokenizer datatrove's MinHash step requires (its default loads spaCy, which would
    drop code's punctuation); `dedup_steps.NearDedupSignature` shingles through `data.dedup`."""

    def __init__(self) -> None:
        super().__init__("code")

    def word_tokenize(self, text: str) -> list[str]:
        return TOKEN.findall(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return text.splitlines()

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in TOKEN.finditer(text)]


class DatasetShardReader(PipelineStep):
    """Shard `rank` of a finished dataset as documents (`id`, `text`; other columns in metadata).
    Unlike datatrove's ParquetReader, it never skips an empty text: cleaning counts those."""

    type = "📚 - TEXTBOOKS"
    name = "📖 dataset shard"

    def __init__(self, dataset: str | Path):
        super().__init__()
        self.shards = [str(path) for path in Dataset.open(dataset).shards]

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if rank >= len(self.shards):
            return
        for batch in pq.ParquetFile(self.shards[rank]).iter_batches(batch_size=BATCH):
            for row in batch.to_pylist():
                self.stat_update("documents")
                yield Document(text=row.pop("text"), id=row.pop("id"), metadata=row)


class DatasetShardWriter(PipelineStep):
    """Writes the documents of task `rank` as shard `rank` into a dataset's staging directory."""

    type = "📚 - TEXTBOOKS"
    name = "💾 dataset shard"

    def __init__(self, staged: StagedDirectory, kind: str, drop_columns: tuple[str, ...] = (),
                 column_types: dict | None = None):
        super().__init__()
        self.staged = staged
        self.kind = kind
        self.drop_columns = drop_columns
        self.column_types = column_types or {}  # e.g. embedding: list<float32> (Python floats infer float64)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        def records() -> Iterator[list[dict]]:
            for batch in batched(data):
                rows = []
                for doc in batch:
                    metadata = {k: v for k, v in doc.metadata.items() if k not in self.drop_columns}
                    rows.append({"id": doc.id, "text": doc.text, **metadata})
                self.stat_update("written", value=len(rows))
                yield rows

        write_shard_file(self.staged, rank, self.kind, records(), self.column_types)
        return
        yield  # a generator that yields nothing: the last step of a pipeline


class MetadataDefaults(PipelineStep):
    """Fills metadata keys a step sets only sometimes (datatrove's MinHash filter skips its cluster
    sizes in shards without duplicates), so every shard of a dataset has the same columns."""

    type = "📚 - TEXTBOOKS"
    name = "🧩 defaults"

    def __init__(self, **defaults) -> None:
        super().__init__()
        self.defaults = defaults

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            for key, value in self.defaults.items():
                doc.metadata.setdefault(key, value)
            yield doc


class CleanFilter(PipelineStep):
    """Drops files by the first rule they break, redacts secrets in the rest (`curate.clean`)."""

    type = "📚 - TEXTBOOKS"
    name = "🧹 clean"

    def __init__(self, config: CleanConfig):
        super().__init__()
        self.config = config

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            with self.track_time():
                verdict = clean_text(doc.text, self.config)
            if verdict.dropped is not None:
                self.stat_update(f"dropped_{verdict.dropped}")
                continue
            for kind, count in verdict.redacted.items():
                self.stat_update(f"redacted_{kind}", value=count)
            self.stat_update("kept")
            doc.text = verdict.text
            yield doc


class EmbedStep(PipelineStep):
    """Adds `embedding` (float32, unit length) from a named embedder, through the on-disk cache."""

    type = "📚 - TEXTBOOKS"
    name = "🧭 embed"

    def __init__(self, embedder: str, cache_path: str | Path):
        super().__init__()
        self.embedder = embedder
        self.cache_path = str(cache_path)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        from textbooks.data.embed import cached_embedder

        embedder = cached_embedder(self.embedder, self.cache_path)
        for batch in batched(data):
            with self.track_time("batch"):
                vectors = embedder.embed([doc.text for doc in batch])
            self.stat_update("embedded", value=len(batch))
            for doc, vector in zip(batch, vectors):
                doc.metadata["embedding"] = vector.tolist()
                yield doc


class ScoreStep(PipelineStep):
    """Adds `quality` (the classifier's probability of the positive label) and `tokens` (phi-1's
    tokenizer) and drops the embedding, which has served its purpose."""

    type = "📚 - TEXTBOOKS"
    name = "🎓 score"

    def __init__(self, classifier_dir: str | Path):
        super().__init__()
        self.classifier_dir = str(classifier_dir)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import numpy as np

        from textbooks.curate.classify import load_classifier
        from textbooks.tokenizer import load_tokenizer

        model = load_classifier(self.classifier_dir)
        tokenizer = load_tokenizer()
        for batch in batched(data):
            with self.track_time("batch"):
                vectors = np.asarray([doc.metadata.pop("embedding") for doc in batch], dtype=np.float32)
                quality = model.predict_proba(vectors)[:, 1]
                tokens = [len(e.ids) for e in tokenizer.encode_batch([doc.text for doc in batch])]
            for doc, q, n in zip(batch, quality, tokens):
                doc.metadata["quality"] = float(q)
                doc.metadata["tokens"] = n
                self.stat_update("scored")
                yield doc
