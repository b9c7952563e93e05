"""One cloud's parts, built from the settings: its Keystone tokens, its API client and budget,
its readers, and the poller that schedules them.

Every secret the cloud brings (its credentials, each token as it is issued) is handed to the
process's redactor here, where the parts that hold them are made.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from exporter import config
from exporter.logs import Redactor
from exporter.model import plan
from exporter.model.capabilities import Capabilities
from exporter.octavia import failures, l7
from exporter.octavia.auth import Cloud, KeystoneTokens
from exporter.octavia.changes import FEED_PAGE_SIZE, ChangeReader
from exporter.octavia.client import OctaviaClient
from exporter.octavia.failures import KEYSTONE
from exporter.octavia.fetch import Fetcher
from exporter.octavia.limiter import Limiter
from exporter.octavia.lists import ListReader
from exporter.octavia.projects import ProjectNames, cycles_between
from exporter.poll.scheduler import CloudScheduler
from exporter.runtime.service import Poller, Publish
from exporter.telemetry import Telemetry


def rules(settings: config.Settings) -> plan.Rules:
    """What tier 2 reads of each load balancer, and how often."""
    return plan.Rules(
        shard=settings.shard, member_details=settings.member_details,
        listener_stats=settings.listener_stats,
        stats_via_amphorae=settings.stats_via_amphorae and settings.amphorae,
        amphora_stats=settings.amphora_stats and settings.amphorae,
        healthy_tree_interval=settings.healthy_tree_interval,
        stats_interval=settings.stats_interval)


def limiter(settings: config.Settings, telemetry: Telemetry, cloud: str) -> Limiter:
    """The cloud's API budget, its limits and state exported as gauges."""
    metrics = telemetry.for_cloud(cloud)
    decreases = metrics.api_limit_decreases
    for reason in ("latency", "429", "503", "timeout"):
        decreases.labels(reason)
    budget = Limiter(rate=settings.api_max_rate, ceiling=settings.concurrency,
                     adaptive=settings.adaptive_concurrency,
                     on_decrease=lambda reason: decreases.labels(reason).inc())
    metrics.api_concurrency_limit.labels().set_function(lambda: budget.limit)
    metrics.api_in_flight.labels().set_function(lambda: budget.in_flight)
    metrics.api_rate_limit.labels().set(settings.api_max_rate)
    return budget


def build(settings: config.Settings, cloud: Cloud, telemetry: Telemetry, redactor: Redactor,
          publish: Publish, *, after_lists: Callable[[], None] | None = None,
          ) -> tuple[OctaviaClient, Poller]:
    """The cloud's API client (the caller closes it) and its poller, not started."""
    redactor.add(cloud.secrets)
    metrics = telemetry.for_cloud(cloud.name)
    tokens = KeystoneTokens(cloud, on_auth=metrics.auth_recorder())
    redactor.add(tokens.secrets)
    client = OctaviaClient(
        cloud.name, tokens, telemetry,
        concurrency=settings.concurrency, request_timeout=settings.request_timeout,
        retries=settings.retries, max_body_bytes=settings.max_body_bytes,
        ssl=cloud.ssl_context(), limiter=limiter(settings, telemetry, cloud.name),
    )
    capabilities = Capabilities(amphorae=settings.amphorae,
                                amphora_stats=settings.amphora_stats,
                                floating_ips=settings.floating_ips,
                                project_names=settings.project_names_interval > 0)
    names = ProjectNames(
        cloud.name, tokens, capabilities,
        every=cycles_between(settings.project_names_interval, settings.interval),
        on_error=functools.partial(metrics.poll_error, KEYSTONE))
    page_size = (config.DEFAULT_PAGE_SIZE if settings.page_size is None
                 else settings.page_size)
    cloud_rules = rules(settings)
    poller = CloudScheduler(
        ListReader(client, telemetry, capabilities, shard=settings.shard,
                   page_size=page_size,
                   first_page_size=0 if settings.page_size is None else None,
                   names=names, feed=settings.changes_feed,
                   startup_share=settings.startup_share),
        Fetcher(client, telemetry, cloud_rules, capabilities, page_size=page_size),
        cloud_rules, capabilities, telemetry, publish,
        interval=settings.interval, lists_share=settings.lists_share,
        cycle_timeout=settings.cycle_timeout,
        max_staleness=settings.max_staleness, workers=settings.concurrency,
        after_lists=after_lists,
        rule_reader=l7.RuleReader(
            client, page_size=page_size, healthy_interval=settings.l7_rules_interval,
            concurrency=settings.concurrency,
            on_error=functools.partial(failures.report, metrics)),
        feed=ChangeReader(client, capabilities, shard=settings.shard,
                          page_size=min(page_size or FEED_PAGE_SIZE, FEED_PAGE_SIZE))
        if settings.changes_feed else None,
        reconcile_interval=settings.reconcile_interval)
    metrics.detail_backlog.labels().set_function(lambda: poller.backlog)
    return client, poller
