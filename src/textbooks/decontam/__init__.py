"""`textbooks decontam`: keep the benchmarks out of the training data, and prove it.

Tiers, cheapest first (phi-1 section 5, plus llm-decontaminator's judge):
  ngrams.py      word 13-grams and normalised-code-token n-grams shared with a benchmark problem
  statement.py   a problem's statement (its copy flags a record whatever the code) and a record's prose
  embedding.py   nearest benchmark problems by embedding (cosine and L2), exact and chunked
  ast_match.py   the AST match rate of a candidate pair: the paper's tau applies to it
  behaviour.py   a record's functions against a problem's own tests, in the sandbox
  judge.py       optional: a teacher LLM says whether a record rephrases a problem
records.py reads the input and finds each record's code; scoring.py runs the tiers on a chunk;
pipeline.py runs the chunks (resumable) and writes OUT/: matches.parquet, split.json, pruned/ and
report.md (report.py); calibrate.py measures unrelated pairs; planted.py builds recall test sets;
config.py is `DecontamConfig`, the command's typed config.
"""
