"""The paper's experiments, one command each: `textbooks experiment data-quality|pruning CONFIG`."""
