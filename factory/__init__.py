"""The toolchain: the spec language (`factory.language`), the compiler, `factory build`, the client,
the test runner (`factory.testing`), the fix loop (`factory.fix`) and the command line (`factory.cli`).
Its subpackages are its API."""

__all__: list[str] = []
