"""One measurement from whichever provider a metric names.

``measure`` never raises for what can go wrong outside the operator (an unreachable server, a refused
credential, a missing Secret, an answer of the wrong shape, a missing argument): it returns a
Measurement with ``error`` set, which never counts as success. It never blocks the event loop (HTTP
through aiohttp, boto3 in a worker thread) and gives up after the provider's timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping

import pydantic

from shiftlane.analysis import cloudwatch, job, prometheus, web
from shiftlane.analysis.arguments import MissingArgument, substitute_model
from shiftlane.analysis.measurement import Measurement, ProviderContext, ProviderError
from shiftlane.api.analysis_providers import CloudWatch, Job, MetricProvider, Prometheus, Web
from shiftlane.api.durations import seconds_of

log = logging.getLogger(__name__)

# Beyond a provider's own timeout: reading Secrets and signing come before its request.
TIMEOUT_MARGIN = 5.0


async def measure(provider: MetricProvider, args: Mapping[str, str], context: ProviderContext) -> Measurement:
    try:
        config = substitute_model(provider, args).config
    except MissingArgument as error:
        return Measurement(error=str(error))
    except pydantic.ValidationError as error:
        return Measurement(error=f"after argument substitution the provider is invalid: {_first(error)}")
    query = _query_of(config, context)
    timeout = _timeout_of(config, context) + TIMEOUT_MARGIN
    try:
        async with asyncio.timeout(timeout):
            measurement = await _measure(config, context)
    except ProviderError as error:
        return Measurement(query=query, error=str(error))
    except TimeoutError:
        return Measurement(query=query, error=f"no measurement within {timeout:g}s")
    except Exception as error:  # a fault of ours must not stop the run: it counts as an error and is logged
        log.exception("measuring %s failed", query)
        return Measurement(query=query, error=f"{type(error).__name__}: {error}")
    return dataclasses.replace(measurement, query=query)


async def _measure(config: Prometheus | CloudWatch | Web | Job, context: ProviderContext) -> Measurement:
    if isinstance(config, Prometheus):
        return await prometheus.measure(config, context)
    if isinstance(config, CloudWatch):
        return await cloudwatch.measure(config, context)
    if isinstance(config, Web):
        return await web.measure(config, context)
    return await job.measure(config, context)


def _query_of(config: Prometheus | CloudWatch | Web | Job, context: ProviderContext) -> str:
    if isinstance(config, Prometheus):
        return prometheus.query_of(config)
    if isinstance(config, CloudWatch):
        return cloudwatch.query_of(config)
    if isinstance(config, Web):
        return web.query_of(config)
    return job.query_of(context)


def _timeout_of(config: Prometheus | CloudWatch | Web | Job, context: ProviderContext) -> float:
    own = None if isinstance(config, Job) else seconds_of(config.timeout)
    return own or context.timeout


def _first(error: pydantic.ValidationError) -> str:
    problem = error.errors()[0]
    return f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
