"""`factory fix`: a patcher model proposes spec patches until the conversations pass (`loop`), each
patch validated and applied in the spec's folder (`patch`), guarded by held-out conversations
(`holdout`), and reported (`report`). Its modules are its API."""

__all__: list[str] = []
