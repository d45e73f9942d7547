"""A git repository → one ``commit`` resource per commit, authors as people.

Reads ``git log`` (works on bare repositories). Each commit becomes a
resource with the message as content, the author time as ``created_at`` and
``metadata`` holding sha, author, e-mail, committer time, parents, files
changed and insertions/deletions. Each author becomes a ``person`` entity with
an ``authored_by`` edge from the commit. Ids derive from the commit sha, so
re-ingesting adds nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from ..exceptions import IngestError
from ..ids import stable_id
from ..output import track
from ..store import Store
from ..values import clean_text, parse_time
from .common import Batch, IngestReport, write

_REC = "\x1e"
_FLD = "\x1f"
_FORMAT = _REC + _FLD.join(["%H", "%an", "%ae", "%aI", "%cI", "%P", "%B"]) + _FLD


def _git(repo: Path, *args: str) -> bytes:
    try:
        proc = subprocess.run(
            ["git", "-c", "i18n.logOutputEncoding=UTF-8", "-C", str(repo), *args],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as e:
        raise IngestError("the git command is not installed (apt-get install git)", source=str(repo)) from e
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise IngestError(msg[-1] if msg else f"git {' '.join(args)} failed", source=str(repo))
    return proc.stdout


def parse_log(raw: bytes, repo: Path) -> list[dict[str, Any]]:
    text = raw.decode("utf-8", "replace")
    commits: list[dict[str, Any]] = []
    for rec in text.split(_REC):
        if not rec.strip():
            continue
        parts = rec.split(_FLD)
        if len(parts) < 8:
            raise IngestError("unexpected git log output", source=f"{repo}: commit record {len(commits) + 1}")
        sha, an, ae, ad, cd, parents, body, stats = parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], _FLD.join(parts[7:])
        files = []
        ins_total = del_total = 0
        for line in stats.strip().splitlines():
            cols = line.split("\t", 2)
            if len(cols) != 3:
                continue
            ins = int(cols[0]) if cols[0].isdigit() else 0
            dels = int(cols[1]) if cols[1].isdigit() else 0
            ins_total += ins
            del_total += dels
            files.append({"path": cols[2], "insertions": ins, "deletions": dels, "binary": cols[0] == "-"})
        commits.append({"sha": sha.strip(), "author": an, "email": ae, "author_date": ad, "commit_date": cd,
                        "parents": parents.split(), "message": body.strip(), "files": files,
                        "insertions": ins_total, "deletions": del_total})
    return commits


def ingest_git(
    store: Store,
    path: str | Path,
    *,
    since: str | None = None,
    until: str | None = None,
    max_count: int | None = None,
    rev: str = "HEAD",
    all_refs: bool = False,
    show_progress: bool | None = None,
) -> IngestReport:
    repo = Path(path).expanduser()
    if not repo.exists():
        raise IngestError("does not exist", source=str(repo))
    git_dir = _git(repo, "rev-parse", "--absolute-git-dir").decode("utf-8", "replace").strip()
    has_head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", "HEAD"],
                              capture_output=True, check=False).returncode == 0
    if not has_head and not all_refs:
        return IngestReport()  # an empty repository: nothing to ingest
    args = ["log", f"--format={_FORMAT}", "--numstat", "--no-color", "--no-renames"]
    if since:
        args.append(f"--since={since}")
    if until:
        args.append(f"--until={until}")
    if max_count is not None:
        args.append(f"--max-count={int(max_count)}")
    if all_refs:
        args.append("--all")
    else:
        if not rev or rev.startswith("-") or any(c in rev for c in "\n\r\0"):
            # a revision starting with '-' would reach git as an option (--output=FILE writes a file)
            raise IngestError(f"--rev {rev!r} is not a revision (a branch, tag or commit; it cannot start with '-')",
                              source=str(repo))
        args += ["--end-of-options", rev]
    args.append("--")
    commits = parse_log(_git(repo, *args), repo)
    repo_name = Path(git_dir).parent.name if Path(git_dir).name == ".git" else Path(git_dir).name
    batch = Batch()
    report = IngestReport()
    for c in track(commits, "reading commits", enabled=show_progress):
        try:
            _add_commit(batch, c, repo, git_dir, repo_name)
        except IngestError as e:  # one bad commit is named; the others are written
            report.errors.append(str(e))
    if not batch.resources:
        return report
    return write(store, batch, report)


def _add_commit(batch: Batch, c: dict[str, Any], repo: Path, git_dir: str, repo_name: str) -> None:
    place = f"{repo}: commit {c['sha'][:12]}"
    when = parse_time(c["author_date"], source=place, field="author date")
    subject = c["message"].split("\n", 1)[0].strip() or "(no commit message)"
    files_line = ", ".join(f["path"] for f in c["files"][:50])
    if len(c["files"]) > 50:
        files_line += f", … ({len(c['files']) - 50} more)"
    content = c["message"] or "(no commit message)"
    content += f"\n\nFiles changed ({len(c['files'])}, +{c['insertions']} -{c['deletions']}): {files_line}"
    rid = stable_id("git-commit", c["sha"])
    batch.resources.append({
        "_source": place,
        "id": rid,
        "name": clean_text(subject[:200], source=place, field="message"),
        "uri": f"git:{git_dir}#{c['sha']}",
        "content": clean_text(content, source=place, field="message"),
        "resource_type": "commit",
        "created_at": when,
        "updated_at": when,
        "metadata": {
            "sha": c["sha"], "repository": repo_name, "author": c["author"], "email": c["email"],
            "committed_at": c["commit_date"], "parents": c["parents"], "files": c["files"],
            "files_changed": len(c["files"]), "insertions": c["insertions"], "deletions": c["deletions"],
        },
    })
    pid = batch.person(c["author"] or c["email"] or "unknown", when=when, email=c["email"] or None)
    batch.edge(rid, pid, "authored_by", when)
