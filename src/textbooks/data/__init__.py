"""The data layer every stage shares: datasets, record schemas, sources, dedup, embeddings."""
