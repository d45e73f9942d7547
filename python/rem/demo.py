"""A seeded generator of a realistic week of activity with known ground truth.

The owner ("Sam") works on a vector-search engine. Each day has 3–5 work
blocks (deep work, debugging, writing, meetings, learning, infrastructure)
separated by breaks longer than the default 30-minute gap. A block leaves
traces in several sources: chat sessions with an assistant (user, assistant
and tool messages with tool calls), commits in a real git repository, notes
with front matter, documents, and ChatGPT conversations. ``ground_truth.json``
lists every block with its time span, type, topics, people and the source
keys it produced, so tests and benchmarks can score segmentation.
``rem.ingest.ingest_demo`` ingests the folder it writes.
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

ASSISTANT_OPENERS = ["Good question.", "Here is what I found.", "Let me break that down.", "Short answer first:",
                     "That matches what the profile shows.", "There are two options."]
USER_OPENERS = ["Can you help me with", "I am looking at", "Quick question about", "Next step:",
                "I think the problem is", "Let us check"]
TOOLS = ["search_docs", "run_benchmark", "read_file", "grep_repo", "run_tests"]


def _para(rng: random.Random, block: dict[str, Any], n: int) -> str:
    facts = rng.sample(block["facts"], k=min(n, len(block["facts"])))
    topic = rng.choice(block["topics"])
    extra = rng.choice([
        f"This matters for {topic}.", f"I want to keep the {topic} work moving.",
        f"Worth noting for the {topic} notes.", f"Next I will look at {rng.choice(block['topics'])}.",
    ])
    return " ".join(f[0].upper() + f[1:] + "." for f in facts) + " " + extra


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, **(env or {})})


def generate(folder: Path, *, seed: int = 7, days: int = 7, end_date: str | None = None) -> dict[str, Any]:
    """Write the demo sources into ``folder`` (replacing an earlier demo there)."""
    folder = Path(folder)
    if folder.exists():
        if not (folder / ".rem-demo").exists() and any(folder.iterdir()):
            raise FileExistsError(f"{folder} exists and is not a REM demo folder; choose another --out")
        shutil.rmtree(folder)
    (folder / "notes").mkdir(parents=True)
    (folder / "chatgpt").mkdir()
    repo = folder / "repo"
    repo.mkdir()
    (folder / ".rem-demo").write_text("generated by rem demo-data\n")
    rng = random.Random(seed)
    last = date.fromisoformat(end_date) if end_date else (datetime.now(UTC).date() - timedelta(days=1))
    first = last - timedelta(days=days - 1)

    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", OWNER[0])
    _git(repo, "config", "user.email", OWNER[1])
    _git(repo, "config", "commit.gpgsign", "false")

    chat_lines: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    conversations: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    n_commits = n_notes = 0

    for d in range(days):
        day = first + timedelta(days=d)
        if day.weekday() >= 5 and d < days - 1 and rng.random() < 0.6:
            continue  # most weekends are quiet (the last day never is: the demo dreams it)
        t = datetime(day.year, day.month, day.day, 8, 30, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 40))
        for _ in range(rng.randint(3, 5)):
            block = rng.choice(BLOCKS)
            dur = timedelta(minutes=rng.randint(45, 170)) if block["kind"] != "meeting" else timedelta(minutes=rng.randint(30, 50))
            start, end = t, t + dur
            if end.hour >= 20:
                break
            people = rng.sample(PEOPLE, k=rng.randint(1, 3)) if block["kind"] in ("meeting", "writing", "debugging") else []
            key = f"{day.isoformat()}-{len(truth) + 1:02d}"
            sources: list[str] = []
            n_events = max(3, int(dur.total_seconds() // 60 // 7))
            times = sorted(start + timedelta(seconds=rng.randint(0, int(dur.total_seconds()))) for _ in range(n_events))
            times[0], times[-1] = start, end
            # chat session (assistant work) or ChatGPT conversation (learning)
            if block["kind"] == "learning":
                conv_id = f"conv-{key}"
                mapping: dict[str, Any] = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
                parent = "root"
                for i, ts in enumerate(times):
                    role = "user" if i % 2 == 0 else "assistant"
                    node = f"n{i}"
                    text = (f"{rng.choice(USER_OPENERS)} {block['topics'][i % len(block['topics'])]}? " if role == "user"
                            else f"{rng.choice(ASSISTANT_OPENERS)} ") + _para(rng, block, 2)
                    mapping[node] = {"id": node, "parent": parent, "children": [],
                                     "message": {"id": node, "author": {"role": role}, "create_time": ts.timestamp(),
                                                 "content": {"content_type": "text", "parts": [text]}}}
                    mapping[parent]["children"].append(node)
                    parent = node
                conversations.append({"id": conv_id, "conversation_id": conv_id, "title": block["title"],
                                      "create_time": start.timestamp(), "update_time": end.timestamp(),
                                      "mapping": mapping, "current_node": parent})
                sources.append(f"chatgpt:{conv_id}")
            elif block["kind"] != "meeting":
                session = f"chat-{key}"
                for i, ts in enumerate(times[:-1]):
                    if i % 3 == 0:
                        chat_lines.append({"session": session, "session_name": f"{block['title']} ({day:%a})",
                                           "role": "user", "created_at": ts.isoformat(),
                                           "content": f"{rng.choice(USER_OPENERS)} {rng.choice(block['topics'])}. " + _para(rng, block, 1)})
                    elif i % 3 == 1:
                        tool = rng.choice(TOOLS)
                        chat_lines.append({"session": session, "role": "assistant", "created_at": ts.isoformat(),
                                           "content": rng.choice(ASSISTANT_OPENERS) + " " + _para(rng, block, 2),
                                           "tool_calls": [{"id": f"call_{key}_{i}", "type": "function",
                                                           "function": {"name": tool, "arguments": json.dumps({"query": rng.choice(block["topics"]), "limit": 10})}}]})
                    else:
                        chat_lines.append({"session": session, "role": "tool", "created_at": ts.isoformat(),
                                           "content": json.dumps({"results": [{"title": f, "score": round(rng.random(), 3)} for f in rng.sample(block["facts"], k=2)]})})
                sources.append(f"chat:{session}")
            # commits
            for ts in times[1::max(2, n_events // 2)] if block["files"] else []:
                path = repo / rng.choice(block["files"])
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as f:
                    f.write(f"// {ts.isoformat()} {rng.choice(block['facts'])}\n")
                _git(repo, "add", "-A")
                author = OWNER if rng.random() < 0.8 or not people else (people[0], people[0].split()[0].lower() + "@example.com")
                msg = f"{block['title'].split(' on ')[-1].split(' the ')[-1].capitalize()}: {rng.choice(block['facts'])}"
                iso = ts.strftime("%Y-%m-%dT%H:%M:%S+00:00")
                _git(repo, "commit", "-q", "-m", msg,
                     env={"GIT_AUTHOR_DATE": iso, "GIT_COMMITTER_DATE": iso, "GIT_AUTHOR_NAME": author[0],
                          "GIT_AUTHOR_EMAIL": author[1]})
                n_commits += 1
                sources.append(f"commit:{msg}")
            # a note for meetings, learning and some other blocks
            if block["kind"] in ("meeting", "learning") or rng.random() < 0.4:
                note_time = times[len(times) // 2]
                name = f"{key}-{block['kind']}.md"
                body = f"# {block['title']}\n\n"
                if people:
                    body += "Attendees: " + ", ".join(people) + "\n\n"
                body += "\n".join(f"- {f[0].upper() + f[1:]}" for f in rng.sample(block["facts"], k=min(3, len(block["facts"])))) + "\n"
                (folder / "notes" / name).write_text(
                    f"---\ntitle: {block['title']}\ndate: {note_time.strftime('%Y-%m-%dT%H:%M:%SZ')}\ntags: {json.dumps(block['topics'][:3])}\n---\n{body}",
                    encoding="utf-8")
                n_notes += 1
                sources.append(f"note:{name}")
            # documents for writing blocks
            if block["kind"] == "writing":
                doc_time = times[-2]
                documents.append({"id": f"doc-{key}", "name": rng.choice(block["files"]), "resource_type": "document",
                                  "uri": f"file:///work/docs/{key}.md", "created_at": doc_time.isoformat(),
                                  "content": _para(rng, block, 4) * 2})
                sources.append(f"document:doc-{key}")
            truth.append({"key": key, "title": block["title"], "kind": block["kind"], "start": start.isoformat(),
                          "end": end.isoformat(), "topics": block["topics"], "emotions": block["emotion"],
                          "people": people, "sources": sources})
            t = end + timedelta(minutes=rng.randint(45, 110))

    with (folder / "chat.jsonl").open("w", encoding="utf-8") as f:
        for line in chat_lines:
            f.write(json.dumps(line) + "\n")
    with (folder / "documents.jsonl").open("w", encoding="utf-8") as f:
        for doc in documents:
            f.write(json.dumps(doc) + "\n")
    (folder / "chatgpt" / "conversations.json").write_text(json.dumps(conversations, indent=1), encoding="utf-8")
    (folder / "ground_truth.json").write_text(json.dumps({"seed": seed, "first_day": first.isoformat(),
                                                          "last_day": last.isoformat(), "blocks": truth}, indent=2))
    return {"blocks": len(truth), "messages": len(chat_lines) + sum(len(c["mapping"]) - 1 for c in conversations),
            "commits": n_commits, "notes": n_notes, "first_day": first.isoformat(), "last_day": last.isoformat()}
