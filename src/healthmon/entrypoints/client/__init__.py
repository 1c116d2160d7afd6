"""The command-line client (`healthmon apply`, `export`, `list`, `show`, `add`, `rm`): the REST API only."""
