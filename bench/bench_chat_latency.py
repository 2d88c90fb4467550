"""How long the chat adapters take to answer one activity, in-process, Teams beside Slack.

Each adapter is the real app served over loopback HTTP with its vendor stand-in in the same
process (tests/support/: the Bot Connector and its OpenID issuer for Teams, the Slack Web API
for Slack), on one SQLite database. The activity timed is the same for both: the "What does
this mean?" button on the first criteria question, which loads the conversation, asks the
engine and renders the question with its guidance and source.

- Teams: an ``adaptiveCard/action`` invoke (``Action.Execute``) signed by the loopback issuer;
  timed until the HTTP answer carrying the refreshed card (the SDK validates the token first).
- Slack: a signed ``block_actions`` request; timed until the answer reaches the response_url
  (Bolt acks first and answers afterwards, as Slack's 3-second rule asks).

    python bench/bench_chat_latency.py --runs 200 [--json]

Run by hand; never a pass/fail test. Prints p50 and p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handlers.slack import ids
from handlers.slack.app import build_app as build_slack
from handlers.slack.assistant import SlackAssistant
from handlers.slack.payloads import help_value
from handlers.teams import cards
from handlers.teams.app import build_app as build_teams
from handlers.teams.assistant import TeamsAssistant
from store.db import make_engine, upgrade
from tests.slack_harness import SECRET, BoltServer
from tests.support.slack_api import SlackApi
from tests.support.teams import TeamsServer, TeamsWorld, card_action

USER = "6f1c0d2e-0000-4000-8000-00000000b002"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50_ms": round(cut[49] * 1000, 2), "p99_ms": round(cut[98] * 1000, 2),
            "min_ms": round(ordered[0] * 1000, 2), "runs": len(ordered)}


def bench_teams(folder: Path, runs: int) -> dict[str, float]:
    world = TeamsWorld()
    settings = world.settings(folder / "teams")
    engine = make_engine(f"sqlite:///{folder / 'teams.db'}")
    upgrade(engine)
    assistant = TeamsAssistant(settings, engine, settings.criteria())
    server = TeamsServer(build_teams(assistant), settings.teams_http_port, world).start()
    flow = assistant.tree.flow("notification")
    first = flow.next_question({}, include_optional=True)
    activity = card_action(USER, cards.HELP, {"flow": "notification", "question": first},
                           service_url=world.connector.service_url)
    token = world.connector.token(settings.teams_app_id or "")
    samples = []
    try:
        for index in range(runs + 5):
            start = time.perf_counter()
            response = server.post(activity, token=token)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200 and response.json()["type"] == cards.CONTENT_TYPE
            if index >= 5:  # warm-up: JWKS fetched, caches filled
                samples.append(elapsed)
    finally:
        server.stop()
        world.close()
    return percentiles(samples)


async def bench_slack(folder: Path, runs: int) -> dict[str, float]:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.settings import load_settings

    fake = SlackApi()
    fake.start()
    settings = load_settings(data_dir=folder / "slack", slack_bot_token="xoxb-bench", slack_signing_secret=SECRET,
                             slack_mode="http")
    engine = make_engine(f"sqlite:///{folder / 'slack.db'}")
    upgrade(engine)
    assistant = SlackAssistant(settings, engine, settings.criteria())
    server = BoltServer(build_slack(assistant, client=AsyncWebClient(token="xoxb-bench", base_url=fake.base_url)),
                        assistant=assistant)
    await server.start()
    flow = assistant.tree.flow("notification")
    first = flow.next_question({}, include_optional=True)
    samples = []
    try:
        for index in range(runs + 5):
            before = len(fake.of("response_url"))
            start = time.perf_counter()
            status, _ = await server.action(fake, ids.HELP, help_value("notification", first))
            assert status == 200
            while len(fake.of("response_url")) <= before:
                await asyncio.sleep(0.0005)
            elapsed = time.perf_counter() - start
            if index >= 5:
                samples.append(elapsed)
    finally:
        await server.stop()
        fake.stop()
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sgbot-bench-chat-") as tmp:
        folder = Path(tmp)
        results = {"teams": bench_teams(folder, args.runs), "slack": asyncio.run(bench_slack(folder, args.runs))}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, figures in results.items():
        print(f"{name:6} p50 {figures['p50_ms']:7.2f} ms   p99 {figures['p99_ms']:7.2f} ms   "
              f"(min {figures['min_ms']:.2f} ms, {figures['runs']} runs)")


if __name__ == "__main__":
    main()
