"""The use cases, one module per concern: one class each, dependencies through __init__, one execute()."""
