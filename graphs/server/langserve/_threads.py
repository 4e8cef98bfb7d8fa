"""What both runnables share: the thread a LangServe config names, and batches that respect threads."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list
from langchain_core.runnables.utils import ConfigurableFieldSpec

THREAD_SPEC = ConfigurableFieldSpec(
    id="thread_id",
    annotation=str,
    name="Thread ID",
    default="",
    description="Continue this thread (a new one when empty).",
    is_shared=True,
)


def thread_from_config(config: RunnableConfig | None) -> str | None:
    value = ((config or {}).get("configurable") or {}).get("thread_id")
    return str(value) if value else None


class OneAtATimePerThread:
    """`abatch` that runs the inputs of one thread one after another (and different threads at once):
    the default runs them all at once, and every input after the first would find its thread busy."""

    async def abatch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        configs = get_config_list(config, len(inputs))
        groups: dict[str, list[int]] = {}
        for index, one in enumerate(configs):
            groups.setdefault(thread_from_config(one) or f"\0{index}", []).append(index)
        results: list[Any] = [None] * len(inputs)

        async def run(indexes: list[int]) -> None:
            for index in indexes:
                try:
                    results[index] = await self.ainvoke(inputs[index], configs[index], **kwargs)  # type: ignore[attr-defined]
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    results[index] = exc

        await asyncio.gather(*(run(indexes) for indexes in groups.values()))
        return results
