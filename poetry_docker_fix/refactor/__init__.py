"""The engine: document model, edits, project facts, the pipeline, diff and writer."""
