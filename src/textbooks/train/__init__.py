"""Training: token shards (pack), batches (loader), the trainer with its schedule and checkpoints."""
