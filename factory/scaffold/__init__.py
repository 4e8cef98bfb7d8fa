"""`factory init`: the files of a new project. Its modules are its API."""

__all__: list[str] = []
