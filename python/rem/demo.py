"""A seeded generator of realistic activity with known ground truth.

The owner ("Sam Rivera") works on a vector-search engine. Each day of the
**week** has 3–5 different work blocks (deep work, debugging, writing,
meetings, learning, infrastructure) separated by breaks longer than the
default 30-minute gap. A block leaves traces in several sources: chat
sessions with an assistant (user, assistant and tool messages with tool
calls), commits in a real git repository (some by colleagues, some with
``Co-authored-by`` trailers), notes with front matter, documents, and
ChatGPT conversations. People a block involves are named in its activity,
and the owner's mood shows in what they write.

With ``hard_days``, six more days come before the week, each one of the
situations a plain time-gap segmentation gets wrong or a week of one
project never shows: a topic switch with no idle gap; two projects
interleaved within an hour; a long meeting with four named people; a
multi-party chat (the plain chat format's ``speaker``); a day of commits
only; names in non-Latin scripts.

``ground_truth.json`` lists every block with its time span, type, topics,
people, emotions and the ids of the sessions and resources it produced, in
the gold format ``rem eval`` reads. ``rem.ingest.ingest_demo`` ingests the
folder.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .exceptions import ConfigError
from .ids import stable_id

PEOPLE = ["Alice Chen", "Bob Okafor", "Priya Raman", "Diego Santos"]
OWNER = ("Sam Rivera", "sam@example.com")

BLOCKS: list[dict[str, Any]] = [
    {"kind": "deep_work", "title": "Deep work on DiskANN graph construction",
     "topics": ["diskann", "vamana", "rust", "vector search", "graph construction"],
     "emotion": ["focused", "productive"], "files": ["src/diskann/vamana.rs", "src/diskann/prune.rs"],
     "facts": ["the Vamana builder uses greedy search with a candidate list of 100",
               "robust pruning with alpha 1.2 keeps the out-degree under 64",
               "building the graph for 1M vectors took 41 seconds on one core",
               "medoid selection as the entry point improved recall at 10 by two points",
               "the pruning step dominates the profile, mostly distance computations"]},
    {"kind": "debugging", "title": "Debugging HNSW recall regression",
     "topics": ["hnsw", "recall", "debugging", "vector search", "benchmarks"],
     "emotion": ["frustrated", "determined"], "files": ["src/hnsw/search.rs", "bench/recall.rs"],
     "facts": ["recall at 10 dropped from 0.97 to 0.91 after the layer refactor",
               "the ef_search parameter was silently capped at 32",
               "a level-assignment off-by-one sent every node to layer zero",
               "the regression reproduces only with more than 200k vectors",
               "the fix restores recall at 10 to 0.968"]},
    {"kind": "writing", "title": "Writing the advanced search documentation",
     "topics": ["documentation", "api design", "hybrid search", "bm25"],
     "emotion": ["satisfied", "focused"], "files": ["docs/advanced-search.md", "docs/api.md"],
     "facts": ["the hybrid query combines BM25 and vector scores with reciprocal rank fusion",
               "filters are applied before the graph search, not after",
               "the API examples now cover pagination and score thresholds",
               "a section explains when to prefer DiskANN over HNSW"]},
    {"kind": "meeting", "title": "Team sync on sprint planning",
     "topics": ["sprint planning", "priorities", "roadmap"],
     "emotion": ["collaborative"], "files": [],
     "facts": ["the team agreed to ship DiskANN behind a feature flag",
               "BM25 tuning moves to the next sprint",
               "on-call rotation changes on Monday",
               "the benchmark suite must run nightly in CI"]},
    {"kind": "learning", "title": "Reading papers on graph-based ANN",
     "topics": ["research", "diskann", "hnsw", "graph algorithms", "vector search"],
     "emotion": ["curious"], "files": [],
     "facts": ["the DiskANN paper stores full vectors on SSD and compressed ones in memory",
               "NSG and Vamana differ mainly in the pruning rule",
               "product quantization trades recall for memory at a fixed ratio",
               "filtered search needs label-aware entry points"]},
    {"kind": "deep_work", "title": "BM25 hybrid ranking prototype",
     "topics": ["bm25", "hybrid search", "ranking", "rust", "tantivy"],
     "emotion": ["productive", "excited"], "files": ["src/bm25/score.rs", "src/hybrid/fuse.rs"],
     "facts": ["k1 of 1.2 and b of 0.75 gave the best NDCG on the internal set",
               "reciprocal rank fusion with k 60 beat a linear blend",
               "the inverted index build takes 3 seconds for 100k documents",
               "tokenization now folds accents"]},
    {"kind": "infrastructure", "title": "Fixing the CI pipeline",
     "topics": ["ci", "infrastructure", "github actions", "caching", "rust"],
     "emotion": ["frustrated", "relieved"], "files": [".github/workflows/ci.yml", "Makefile"],
     "facts": ["the cargo cache key ignored Cargo.lock, so builds never hit the cache",
               "the nightly benchmark job ran out of disk at 14 GB",
               "splitting the test matrix cut CI time from 38 to 17 minutes",
               "a flaky test depended on wall-clock time"]},
]

# What the owner writes when they feel so (the mood a block's gold records is in its activity).
MOODS: dict[str, list[str]] = {
    "focused": ["Heads down on this for the next hour.", "No meetings until noon, deep focus on this."],
    "productive": ["Good progress, three pieces landed already.", "That went fast, moving on to the next part."],
    "frustrated": ["This is still failing and I have no idea why, so annoying.", "Argh, the same error again."],
    "determined": ["Not giving up on this one, I will find the cause.", "Let me dig deeper until it is fixed."],
    "satisfied": ["Happy with how this reads now.", "This turned out well, I like it."],
    "collaborative": ["Good discussion with the team.", "We agreed on the plan together."],
    "curious": ["Interesting, I wonder how this compares.", "Fascinating idea, I want to learn more about it."],
    "excited": ["This is awesome, the numbers look great!", "So excited about this result!"],
    "relieved": ["Finally green, what a relief.", "Phew, it finally works."],
    "stressed": ["The deadline is tomorrow and this is urgent.", "Too much to do before the release, stressful."],
}

ASSISTANT_OPENERS = ["Good question.", "Here is what I found.", "Let me break that down.", "Short answer first:",
                     "That matches what the profile shows.", "There are two options."]
USER_OPENERS = ["Can you help me with", "I am looking at", "Quick question about", "Next step:",
                "I think the problem is", "Let us check"]
TOOLS = ["search_docs", "run_benchmark", "read_file", "grep_repo", "run_tests"]


def _sentence(s: str) -> str:
    return s[0].upper() + s[1:] + "."


def _para(rng: random.Random, block: dict[str, Any], n: int) -> str:
    facts = rng.sample(block["facts"], k=min(n, len(block["facts"])))
    topic = rng.choice(block["topics"])
    extra = rng.choice([
        f"This matters for {topic}.", f"I want to keep the {topic} work moving.",
        f"Worth noting for the {topic} notes.", f"Next I will look at {rng.choice(block['topics'])}.",
    ])
    return " ".join(_sentence(f) for f in facts) + " " + extra


def _email(name: str) -> str:
    return name.split()[0].lower() + "@example.com"


class Writer:
    """Collects the sources of a demo folder and its ground truth."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.repo = folder / "repo"
        self.chat_lines: list[dict[str, Any]] = []
        self.documents: list[dict[str, Any]] = []
        self.conversations: list[dict[str, Any]] = []
        self.truth: list[dict[str, Any]] = []
        self.n_commits = self.n_notes = 0
        (folder / "notes").mkdir(parents=True)
        (folder / "chatgpt").mkdir()
        self.repo.mkdir()
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", OWNER[0])
        self.git("config", "user.email", OWNER[1])
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        p = subprocess.run(["git", "-C", str(self.repo), *args], check=True, capture_output=True,
                           env={**os.environ, **(env or {})})
        return p.stdout.decode().strip()

    # -- sources; each returns the id REM's ingesters give it --------------------------
    def chat(self, session: str, ts: datetime, role: str, content: str, *, name: str | None = None,
             speaker: str | None = None, tool_calls: list[dict[str, Any]] | None = None) -> str:
        line: dict[str, Any] = {"session": session, "role": role, "created_at": ts.isoformat(), "content": content}
        if name:
            line["session_name"] = name
        if speaker:
            line["speaker"] = speaker
        if tool_calls:
            line["tool_calls"] = tool_calls
        self.chat_lines.append(line)
        return stable_id("chat-session", session)

    def commit(self, ts: datetime, message: str, path: str, line: str, *, author: tuple[str, str] = OWNER,
               coauthors: list[str] = ()) -> str:  # type: ignore[assignment]
        f = self.repo / path
        f.parent.mkdir(parents=True, exist_ok=True)
        with f.open("a", encoding="utf-8") as fh:
            fh.write(f"// {ts.isoformat()} {line}\n")
        self.git("add", "-A")
        if coauthors:
            message += "\n\n" + "\n".join(f"Co-authored-by: {c} <{_email(c)}>" for c in coauthors)
        iso = ts.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        self.git("commit", "-q", "-m", message, env={"GIT_AUTHOR_DATE": iso, "GIT_COMMITTER_DATE": iso,
                                                     "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]})
        self.n_commits += 1
        return stable_id("git-commit", self.git("rev-parse", "HEAD"))

    def note(self, name: str, ts: datetime, title: str, tags: list[str], body: str, **front: Any) -> str:
        path = self.folder / "notes" / name
        extra = "".join(f"{k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in front.items())
        path.write_text(f"---\ntitle: {title}\ndate: {ts.strftime('%Y-%m-%dT%H:%M:%SZ')}\ntags: {json.dumps(tags)}\n"
                        f"{extra}---\n{body}", encoding="utf-8")
        self.n_notes += 1
        return stable_id("note", str(path.resolve()))

    def document(self, doc_id: str, ts: datetime, name: str, content: str) -> str:
        self.documents.append({"id": doc_id, "name": name, "resource_type": "document",
                               "uri": f"file:///work/docs/{doc_id}.md", "created_at": ts.isoformat(), "content": content})
        return doc_id

    def conversation(self, conv_id: str, title: str, turns: list[tuple[datetime, str, str]]) -> str:
        mapping: dict[str, Any] = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
        parent = "root"
        for i, (ts, role, text) in enumerate(turns):
            node = f"n{i}"
            mapping[node] = {"id": node, "parent": parent, "children": [],
                             "message": {"id": node, "author": {"role": role}, "create_time": ts.timestamp(),
                                         "content": {"content_type": "text", "parts": [text]}}}
            mapping[parent]["children"].append(node)
            parent = node
        self.conversations.append({"id": conv_id, "conversation_id": conv_id, "title": title,
                                   "create_time": turns[0][0].timestamp(), "update_time": turns[-1][0].timestamp(),
                                   "mapping": mapping, "current_node": parent})
        return stable_id("chatgpt-conversation", conv_id)

    def block(self, *, key: str, title: str, kind: str, start: datetime, end: datetime, topics: list[str],
              emotions: list[str], people: list[str], sessions: set[str], resources: list[str],
              scenario: str = "week", events: list[dict[str, Any]] | None = None) -> None:
        self.truth.append({"key": key, "title": title, "kind": kind, "scenario": scenario, "start": start.isoformat(),
                           "end": end.isoformat(), "topics": topics, "emotions": emotions, "people": people,
                           "sessions": sorted(sessions), "resources": resources,
                           **({"events": events} if events is not None else {})})

    def finish(self, meta: dict[str, Any]) -> None:
        with (self.folder / "chat.jsonl").open("w", encoding="utf-8") as f:
            for line in self.chat_lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        with (self.folder / "documents.jsonl").open("w", encoding="utf-8") as f:
            for doc in self.documents:
                f.write(json.dumps(doc, ensure_ascii=False) + "\n")
        (self.folder / "chatgpt" / "conversations.json").write_text(
            json.dumps(self.conversations, indent=1, ensure_ascii=False), encoding="utf-8")
        self.truth.sort(key=lambda b: b["start"])
        (self.folder / "ground_truth.json").write_text(
            json.dumps({**meta, "owner": OWNER[0], "moments": self.truth}, indent=2, ensure_ascii=False), encoding="utf-8")


def _times(rng: random.Random, start: datetime, end: datetime, n: int) -> list[datetime]:
    times = sorted(start + timedelta(seconds=rng.randint(0, int((end - start).total_seconds()))) for _ in range(n))
    times[0], times[-1] = start, end
    return times


def _week_block(w: Writer, rng: random.Random, block: dict[str, Any], key: str, day: date, start: datetime,
                end: datetime) -> None:
    people = rng.sample(PEOPLE, k=rng.randint(1, 3)) if block["kind"] in ("meeting", "writing", "debugging") else []
    n_events = max(3, int((end - start).total_seconds() // 60 // 7))
    times = _times(rng, start, end, n_events)
    sessions: set[str] = set()
    resources: list[str] = []
    named: set[str] = set()
    moods = list(block["emotion"])
    # chat session (assistant work) or ChatGPT conversation (learning)
    if block["kind"] == "learning":
        turns = []
        for i, ts in enumerate(times):
            role = "user" if i % 2 == 0 else "assistant"
            text = (f"{rng.choice(USER_OPENERS)} {block['topics'][i % len(block['topics'])]}? " if role == "user"
                    else f"{rng.choice(ASSISTANT_OPENERS)} ") + _para(rng, block, 2)
            if role == "user" and i // 2 < len(moods):
                text += " " + rng.choice(MOODS[moods[i // 2]])
            turns.append((ts, role, text))
        sessions.add(w.conversation(f"conv-{key}", block["title"], turns))
    elif block["kind"] != "meeting":
        session = f"chat-{key}"
        for i, ts in enumerate(times[:-1]):
            if i % 3 == 0:
                text = f"{rng.choice(USER_OPENERS)} {rng.choice(block['topics'])}. " + _para(rng, block, 1)
                if i // 3 < len(moods):
                    text += " " + rng.choice(MOODS[moods[i // 3]])
                if people and i // 3 < len(people):
                    p = people[i // 3]
                    text += f" {p} suggested {rng.choice(block['facts'])}."
                    named.add(p)
                w.chat(session, ts, "user", text, name=f"{block['title']} ({day:%a})")
            elif i % 3 == 1:
                args = json.dumps({"query": rng.choice(block["topics"]), "limit": 10})
                w.chat(session, ts, "assistant", rng.choice(ASSISTANT_OPENERS) + " " + _para(rng, block, 2),
                       tool_calls=[{"id": f"call_{key}_{i}", "type": "function",
                                    "function": {"name": rng.choice(TOOLS), "arguments": args}}])
            else:
                w.chat(session, ts, "tool", json.dumps({"results": [{"title": f, "score": round(rng.random(), 3)}
                                                                    for f in rng.sample(block["facts"], k=2)]}))
        sessions.add(stable_id("chat-session", session))
    # commits: mostly the owner's; a colleague's, or a pairing session's co-author trailer
    for ts in times[1::max(2, n_events // 2)] if block["files"] else []:
        roll = rng.random()
        author, co = OWNER, []
        if people and roll < 0.2:
            author = (people[0], _email(people[0]))
            named.add(people[0])
        elif people and roll < 0.45:
            co = [people[-1]]
            named.add(people[-1])
        fact = rng.choice(block["facts"])
        msg = f"{block['title'].split(' on ')[-1].split(' the ')[-1].capitalize()}: {fact}"
        resources.append(w.commit(ts, msg, rng.choice(block["files"]), fact, author=author, coauthors=co))
    # a note for meetings, learning and some other blocks
    if block["kind"] in ("meeting", "learning") or rng.random() < 0.4:
        body = f"# {block['title']}\n\n"
        if people:
            body += "Attendees: " + ", ".join(people) + "\n\n"
            named.update(people)
        body += "\n".join(f"- {_sentence(f)}" for f in rng.sample(block["facts"], k=min(3, len(block["facts"])))) + "\n"
        body += "\n" + rng.choice(MOODS[moods[-1]]) + "\n"
        resources.append(w.note(f"{key}-{block['kind']}.md", times[len(times) // 2], block["title"],
                                block["topics"][:3], body))
    # documents for writing blocks
    if block["kind"] == "writing":
        resources.append(w.document(f"doc-{key}", times[-2], rng.choice(block["files"]), " ".join([_para(rng, block, 4)] * 2)))
    w.block(key=key, title=block["title"], kind=block["kind"], start=start, end=end, topics=block["topics"],
            emotions=block["emotion"], people=sorted(named), sessions=sessions, resources=resources)


def _week(w: Writer, rng: random.Random, first: date, days: int) -> None:
    for d in range(days):
        day = first + timedelta(days=d)
        if day.weekday() >= 5 and d < days - 1 and rng.random() < 0.6:
            continue  # most weekends are quiet (the last day never is: the demo dreams it)
        t = datetime(day.year, day.month, day.day, 8, 30, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 40))
        for block in rng.sample(BLOCKS, k=rng.randint(3, 5)):  # a day's blocks are different work
            dur = timedelta(minutes=rng.randint(45, 170)) if block["kind"] != "meeting" else timedelta(minutes=rng.randint(30, 50))
            start, end = t, t + dur
            if end.hour >= 20:
                break
            _week_block(w, rng, block, f"{day.isoformat()}-{len(w.truth) + 1:02d}", day, start, end)
            t = end + timedelta(minutes=rng.randint(45, 110))


# -- the hard days ------------------------------------------------------------------------------
def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)


def _topic_switch(w: Writer, rng: random.Random, day: date) -> None:
    """One chat session, no idle gap, two subjects: Kafka consumer lag, then a Terraform state migration."""
    kafka = ["consumer lag on the orders topic grew to 2 million messages", "the consumer group rebalances every few minutes",
             "max.poll.interval.ms is too low for the batch size", "adding partitions did not spread the lag"]
    tf = ["the terraform state moves to the S3 backend with DynamoDB locking", "terraform import brings the old buckets in",
          "the state migration needs a plan with no changes first", "workspaces split staging from production"]
    session, t = f"hard-switch-{day}", _at(day, 9, 0)
    s_ids, r1, r2 = set(), [], []
    for i in range(14):
        role = "user" if i % 2 == 0 else "assistant"
        text = (f"The kafka consumer lag again: {rng.choice(kafka)}." if role == "user" else f"For kafka, {rng.choice(kafka)}; check the partitions and monitoring.")
        if i == 0:
            text += " " + MOODS["frustrated"][0]
        s_ids.add(w.chat(session, t, role, text, name="Morning work"))
        if i == 6:
            r1.append(w.commit(t, "Kafka consumer: raise max.poll.interval.ms and batch size", "infra/kafka/consumer.yaml", kafka[2]))
        t += timedelta(minutes=6)
    switch = t
    for i in range(14):
        role = "user" if i % 2 == 0 else "assistant"
        text = (f"Now the terraform state migration: {rng.choice(tf)}." if role == "user" else f"For terraform, {rng.choice(tf)}; the s3 backend keeps the infrastructure state.")
        if i == 12:
            text += " " + MOODS["relieved"][1]
        w.chat(session, t, role, text)
        if i == 9:
            r2.append(w.commit(t, "Terraform: move state to the S3 backend", "infra/terraform/backend.tf", tf[0]))
        t += timedelta(minutes=6)
    end1 = switch - timedelta(minutes=6)
    w.block(key=f"{day}-switch-1", title="Chasing Kafka consumer lag", kind="debugging", start=_at(day, 9, 0), end=end1,
            topics=["kafka", "consumer lag", "partitions", "monitoring"], emotions=["frustrated"], people=[],
            sessions=s_ids, resources=r1, scenario="topic switch without a gap")
    w.block(key=f"{day}-switch-2", title="Migrating Terraform state to S3", kind="deep_work", start=switch,
            end=t - timedelta(minutes=6), topics=["terraform", "state migration", "s3 backend", "infrastructure"],
            emotions=["relieved"], people=[], sessions=s_ids, resources=r2, scenario="topic switch without a gap")


def _interleaved(w: Writer, rng: random.Random, day: date) -> None:
    """Two projects within one hour, switching every few minutes (two chats, their commits)."""
    rel = ["the changelog for release 2.4 lists the breaking API change", "the version bump touches three packages",
           "qa signed off the release candidate", "the release notes mention the new hybrid search"]
    pg = ["autovacuum falls behind on the events table", "table bloat reached 40 percent",
          "lowering autovacuum_vacuum_scale_factor to 0.02 helps", "the vacuum runs now finish in 4 minutes"]
    t = _at(day, 14, 0)
    a, b = f"hard-release-{day}", f"hard-vacuum-{day}"
    ra, rb = [], []
    sa, sb = stable_id("chat-session", a), stable_id("chat-session", b)
    span: dict[str, list[datetime]] = {a: [], b: []}
    for i in range(16):
        s_key = a if i % 2 == 0 else b
        if s_key == a:
            w.chat(a, t, "user", f"Release 2.4 checklist: {rng.choice(rel)}. Is the changelog complete?", name="Release 2.4 checklist")
            w.chat(a, t + timedelta(minutes=1), "assistant", f"For the release: {rng.choice(rel)}.")
            if i == 8:
                ra.append(w.commit(t + timedelta(minutes=1), "Release 2.4: bump version and update changelog", "CHANGELOG.md", rel[0]))
        else:
            w.chat(b, t, "user", f"Postgres vacuum tuning: {rng.choice(pg)}. What about the bloat?", name="Postgres vacuum tuning")
            w.chat(b, t + timedelta(minutes=1), "assistant", f"On autovacuum: {rng.choice(pg)}.")
            if i == 11:
                rb.append(w.commit(t + timedelta(minutes=1), "Postgres: tune autovacuum for the events table", "db/postgresql.conf", pg[2]))
        span[s_key] += [t, t + timedelta(minutes=1)]
        t += timedelta(minutes=3, seconds=45)
    w.block(key=f"{day}-interleaved-1", title="Preparing release 2.4", kind="planning", start=min(span[a]), end=max(span[a]),
            topics=["release", "changelog", "version bump", "qa"], emotions=[], people=[], sessions={sa}, resources=ra,
            scenario="two projects interleaved")
    w.block(key=f"{day}-interleaved-2", title="Tuning Postgres autovacuum", kind="debugging", start=min(span[b]), end=max(span[b]),
            topics=["postgres", "autovacuum", "bloat", "performance"], emotions=[], people=[], sessions={sb}, resources=rb,
            scenario="two projects interleaved")


def _long_meeting(w: Writer, rng: random.Random, day: date) -> None:
    """A two-hour architecture review with four named people: the owner's live notes in a chat, the minutes."""
    people = ["Alice Chen", "Mei Lin", "Jonas Berg", "Fatima Zahra"]
    points = ["we split the index into 16 shards by tenant", "capacity planning assumes 3x growth next year",
              "the migration plan moves one tenant per week", "read replicas serve the search traffic",
              "the sharding key must never change after creation"]
    session, t = f"hard-meeting-{day}", _at(day, 10, 0)
    sid = stable_id("chat-session", session)
    for i, p in enumerate(people * 2):
        w.chat(session, t, "user", f"Notes from the architecture review: {p} says {points[i % len(points)]}.",
               name="Architecture review notes")
        t += timedelta(minutes=14)
    rid = w.note(f"{day}-architecture-review.md", _at(day, 12, 0), "Architecture review",
                 ["architecture review", "sharding", "capacity planning"],
                 "# Architecture review\n\nAttendees: " + ", ".join(people) + "\n\n"
                 + "\n".join(f"- {_sentence(p)}" for p in points) + "\n\nDecided: the migration plan starts next week. "
                 + MOODS["collaborative"][1] + "\n")
    w.block(key=f"{day}-meeting", title="Architecture review on sharding", kind="meeting", start=_at(day, 10, 0),
            end=_at(day, 12, 0), topics=["architecture review", "sharding", "capacity planning", "migration plan"],
            emotions=["collaborative"], people=people, sessions={sid}, resources=[rid], scenario="long meeting, four people",
            events=[{"text": "the team decided the migration plan starts next week", "actor": OWNER[0],
                     "date": [str(day + timedelta(days=7 - day.weekday())), str(day + timedelta(days=13 - day.weekday()))]},
                    {"text": "the index is split into 16 shards by tenant", "actor": "Alice Chen", "date": None}])


def _multi_party(w: Writer, rng: random.Random, day: date) -> None:
    """A group chat (who said what: ``speaker``) about last night's outage."""
    lines = [("Tomás García", "The outage started at 02:10 when the disk on db-3 filled up."),
             ("Mei Lin", "Alerting fired 40 minutes late because the disk alert threshold was 99 percent."),
             (OWNER[0], "So the root cause is the log rotation that stopped after the upgrade?"),
             ("Tomás García", "Yes, log rotation was disabled by the new config. The incident lasted 75 minutes."),
             ("Kwame Mensah", "I will write the postmortem and add a disk alert at 85 percent."),
             (OWNER[0], "Thanks. Let us review the postmortem on Friday, the outage hurt two customers."),
             ("Mei Lin", "I also want a runbook for full disks, the on-call had to improvise."),
             ("Kwame Mensah", "Postmortem draft is up, root cause and alerting fixes are listed.")]
    session, t = f"hard-incident-{day}", _at(day, 11, 0)
    sid = stable_id("chat-session", session)
    for i, (who, text) in enumerate(lines):
        w.chat(session, t, "user", text + (" " + MOODS["stressed"][1] if i == 5 else ""), name="#incident-review",
               speaker=who)
        t += timedelta(minutes=7)
    w.block(key=f"{day}-incident", title="Incident review of the db-3 outage", kind="meeting", start=_at(day, 11, 0),
            end=t - timedelta(minutes=7), topics=["incident", "postmortem", "outage", "root cause", "alerting"],
            emotions=["stressed"], people=["Kwame Mensah", "Mei Lin", "Tomás García"], sessions={sid}, resources=[],
            scenario="multi-party chat",
            events=[{"text": "the outage started when the disk on db-3 filled up", "actor": "Tomás García", "date": str(day)},
                    {"text": "Kwame Mensah will write the postmortem and add a disk alert at 85 percent",
                     "actor": "Kwame Mensah", "date": None},
                    {"text": "Mei Lin wants a runbook for full disks", "actor": "Mei Lin", "date": None},
                    {"text": "the postmortem is reviewed on Friday", "actor": OWNER[0],
                     "date": str(day + timedelta(days=(4 - day.weekday()) % 7 or 7))}])


def _commits_only(w: Writer, rng: random.Random, day: date) -> None:
    """Three blocks of commits and nothing else."""
    plans = [
        (9, 0, "Refactoring the query parser", "deep_work", ["parser", "refactoring", "tokenizer", "tests"],
         "src/query/parser.rs", ["Parser: split the tokenizer from the grammar", "Parser: tests for nested boolean queries",
                                 "Parser: tokenizer handles quoted phrases", "Parser: remove the old recursive descent code",
                                 "Tokenizer: keep positions for highlighting"], []),
        (13, 0, "Updating the README and examples", "writing", ["documentation", "readme", "examples"],
         "README.md", ["Docs: new quick start in the README", "Docs: examples for filtered search",
                       "Docs: fix the broken links in the examples"], ["Priya Raman"]),
        (15, 30, "Fixing a crash in snapshot loading", "debugging", ["crash", "snapshot", "bug fix", "deserialization"],
         "src/snapshot/load.rs", ["Snapshot: fix crash on truncated files", "Snapshot: check the header length before reading",
                                  "Snapshot: regression test for the deserialization crash"], []),
    ]
    for hh, mm, title, kind, topics, path, msgs, co in plans:
        t = _at(day, hh, mm)
        rids, last = [], t
        for m in msgs:
            rids.append(w.commit(t, m, path, m, coauthors=co))
            last = t
            t += timedelta(minutes=rng.randint(12, 22))
        w.block(key=f"{day}-commits-{hh}", title=title, kind=kind, start=_at(day, hh, mm), end=last, topics=topics,
                emotions=[], people=list(co), sessions=set(), resources=rids, scenario="commits only")


def _non_latin(w: Writer, rng: random.Random, day: date) -> None:
    """A localization chat whose people write their names in their own scripts."""
    session, t = f"hard-i18n-{day}", _at(day, 9, 30)
    sid = stable_id("chat-session", session)
    lines = [("王伟", "The Chinese translations are done, 1,200 strings in the locale files."),
             ("Дмитрий Иванов", "Russian plural forms need the ICU message format, not simple strings."),
             ("Zoë Müller", "German umlauts break the sort order; we need unicode collation."),
             (OWNER[0], "Good. Right-to-left layout for Arabic is next on the i18n list."),
             ("王伟", "I will check the unicode normalization of the translations too.")]
    for who, text in lines:
        w.chat(session, t, "user", text, name="Localization sync", speaker=who)
        t += timedelta(minutes=9)
    rid = w.commit(t, "i18n: ICU plural rules for Russian", "locales/ru.json", "plural rules",
                   author=("Дмитрий Иванов", "dmitry@example.com"))
    nid = w.note(f"{day}-localization.md", t + timedelta(minutes=5), "Localization plan",
                 ["localization", "i18n", "translations"],
                 "# Localization plan\n\nAttendees: Ήρα Παππά, 王伟\n\n- Greek translations start next week.\n"
                 "- Right-to-left support before the 3.0 release.\n")
    w.block(key=f"{day}-i18n", title="Localization sync", kind="meeting", start=_at(day, 9, 30), end=t + timedelta(minutes=5),
            topics=["localization", "i18n", "translations", "unicode"], emotions=[],
            people=["Zoë Müller", "Дмитрий Иванов", "Ήρα Παππά", "王伟"], sessions={sid}, resources=[rid, nid],
            scenario="names in non-Latin scripts",
            events=[{"text": "王伟 will check the unicode normalization of the translations", "actor": "王伟", "date": None},
                    {"text": "the Chinese translations are done", "actor": "王伟", "date": None},
                    {"text": "Greek translations start next week", "actor": OWNER[0],
                     "date": [str(day + timedelta(days=7 - day.weekday())), str(day + timedelta(days=13 - day.weekday()))]}])


def generate(folder: Path, *, seed: int = 7, days: int = 7, end_date: str | None = None,
             hard_days: bool = False) -> dict[str, Any]:
    """Write the demo sources into ``folder`` (replacing an earlier demo there):
    ``days`` days ending ``end_date`` (default yesterday), and with
    ``hard_days`` the six scenario days before them."""
    try:
        last = date.fromisoformat(end_date.strip()) if end_date else (datetime.now(UTC).date() - timedelta(days=1))
        first = last - timedelta(days=days - 1)
        _ = first - timedelta(days=7)  # the hard days go before the week: still on the calendar
    except (ValueError, OverflowError):
        raise ConfigError(f"--end {end_date!r}: use a date like 2026-11-15 (the last day of the demo)") from None
    folder = Path(folder)
    if folder.exists():
        if not folder.is_dir() or (not (folder / ".rem-demo").exists() and any(folder.iterdir())):
            raise ConfigError(f"{folder} exists and is not a REM demo folder; choose another --out")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / ".rem-demo").write_text("generated by rem demo-data\n")
    rng = random.Random(seed)
    w = Writer(folder)
    if hard_days:
        for i, scenario in enumerate((_topic_switch, _interleaved, _long_meeting, _multi_party, _commits_only, _non_latin)):
            scenario(w, random.Random(seed * 1000 + i), first - timedelta(days=6 - i))
    _week(w, rng, first, days)
    start = (first - timedelta(days=6)) if hard_days else first
    w.finish({"seed": seed, "first_day": start.isoformat(), "last_day": last.isoformat()})
    return {"blocks": len(w.truth), "messages": len(w.chat_lines) + sum(len(c["mapping"]) - 1 for c in w.conversations),
            "commits": w.n_commits, "notes": w.n_notes, "first_day": start.isoformat(), "last_day": last.isoformat()}
