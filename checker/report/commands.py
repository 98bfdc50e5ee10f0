"""``kcheck report`` and ``kcheck post``: argument parsing and the two commands.

``kcheck report [SHARD ...] [--baseline BASE ...]`` merges shards into ``<out>/results.jsonl``,
``junit.xml``, ``summary.md`` (the PR comment) and ``verdict.json``, prints the terminal view and
exits 1 when the ``--fail-on`` policy finds something (default: new failures, golden changes,
unreadable shards), else 0; 2 for usage errors.

``kcheck post`` publishes ``summary.md``: the sticky PR comment (with a token), the step summary
and ``::error`` annotations for new failures (in GitHub Actions). Its exit status is the
verdict's (the tests'), also when there is no token; 3 when posting failed while the tests
passed; 2 for usage errors (no verdict, no PR number).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from checker.report import junit, summary, verdict
from checker.report.atomic import write_atomic
from checker.report.baseline import DEFAULT_FAIL_ON, classify, parse_fail_on
from checker.report.merge import merge, read_shards


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report`` and ``post`` on the ``kcheck`` subcommand parser."""
    rep = sub.add_parser(
        "report",
        help="merge shards, compare with a baseline, write junit.xml, summary.md, verdict.json",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    rep.add_argument(
        "shards",
        nargs="*",
        type=Path,
        help="results.jsonl files, directories or zip artifacts (default: <out>/results.jsonl)",
    )
    rep.add_argument(
        "--baseline",
        action="append",
        type=Path,
        default=[],
        help="the base branch's results (file, directory or zip artifact); repeatable",
    )
    rep.add_argument("--out", type=Path, default=Path("reports"), help="output directory (default reports)")
    rep.add_argument(
        "--fail-on",
        default=",".join(sorted(f.value for f in DEFAULT_FAIL_ON)),
        help="what exits 1: comma list of new, golden, corrupt, flaky, pre-existing, or none "
        "(default: corrupt,golden,new)",
    )
    rep.add_argument(
        "--artifact", default=summary.DEFAULT_ARTIFACT, help="artifact name the comment points to"
    )
    rep.add_argument("--comment-id", default="kcheck", help="marker id: one sticky comment per id")
    rep.add_argument("--commit", help="commit shown in the comment (default $GITHUB_SHA)")
    rep.add_argument("--run-url", help="run link shown in the comment (default: from $GITHUB_* variables)")
    rep.add_argument("--quiet", action="store_true", help="no terminal view")

    post = sub.add_parser(
        "post",
        help="post reports/summary.md as the sticky PR comment, step summary and annotations",
        description=__doc__.split("\n\n")[2] if __doc__ else None,
    )
    post.add_argument("--reports-dir", type=Path, default=Path("reports"))
    post.add_argument("--repo", default=os.environ.get("GITHUB_REPOSITORY"), help="owner/name")
    post.add_argument("--pr", type=int, help="PR number (default: from the event at --event)")
    post.add_argument(
        "--event",
        type=Path,
        default=Path(os.environ["GITHUB_EVENT_PATH"]) if os.environ.get("GITHUB_EVENT_PATH") else None,
        help="event payload (default $GITHUB_EVENT_PATH); pull_request or workflow_run",
    )
    post.add_argument(
        "--api-url", default=os.environ.get("GITHUB_API_URL", "https://api.github.com"), help="REST API URL"
    )
    post.add_argument(
        "--token-env",
        default="GITHUB_TOKEN",
        help="environment variable holding the token (never an argument)",
    )
    post.add_argument("--login", help="author login of the sticky comment (default: the token's own)")
    post.add_argument("--comment-id", default="kcheck")
    post.add_argument("--artifact", default=summary.DEFAULT_ARTIFACT)
    post.add_argument(
        "--annotations",
        choices=("auto", "on", "off"),
        default="auto",
        help="::error annotations for new failures: auto = when $GITHUB_ACTIONS is true",
    )
    post.add_argument("--no-comment", action="store_true", help="step summary and annotations only")


def run_report(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> int:
    """``kcheck report``; returns the exit status."""
    try:
        fail_on = parse_fail_on(args.fail_on)
        info = summary.RunInfo.from_env(
            env,
            commit=args.commit,
            run_url=args.run_url,
            artifact=args.artifact,
            comment_id=args.comment_id,
            baseline_source=", ".join(str(p) for p in args.baseline) or None,
        )
        summary.marker(args.comment_id)
    except ValueError as exc:
        print(f"kcheck report: {exc}", file=sys.stderr)
        return 2
    paths = args.shards or [args.out / "results.jsonl"]
    run = merge(read_shards(paths))
    base = merge(read_shards(args.baseline)) if args.baseline else None
    for entry in run.corrupt:
        print(f"kcheck report: report-corrupt: {entry.describe()}", file=sys.stderr)
    for dup in run.duplicate_shards:
        print(f"kcheck report: skipped duplicate shard {dup}", file=sys.stderr)
    if base is not None:
        for entry in base.corrupt:
            print(f"kcheck report: baseline unreadable: {entry.describe()}", file=sys.stderr)
        if not base.records:
            print("kcheck report: the baseline has no readable records", file=sys.stderr)
            return 2
    if not run.records and not run.corrupt:
        print("kcheck report: no records", file=sys.stderr)
        return 2
    result = classify(run, base)
    out: Path = args.out
    decided = verdict.of(result, fail_on)
    # The merged records first: the shards may be <out>/results.jsonl itself, read above.
    write_atomic(out / "results.jsonl", "".join(r.to_json() + "\n" for r in run.records).encode())
    statuses = {c.key: c.status.value for c in result.cases}
    junit.write(run.records, out / "junit.xml", corrupt=run.corrupt, statuses=statuses)
    write_atomic(out / "summary.md", summary.render(result, info).encode("utf-8", "surrogatepass"))
    verdict.write(decided, out / "verdict.json")
    if not args.quiet:
        from checker.report.actions import print_untrusted
        from checker.report.terminal import render_classification

        view = render_classification(result, color=sys.stdout.isatty())
        if env.get("GITHUB_ACTIONS") == "true":
            print_untrusted(view, sys.stdout)  # kernel messages must not act as workflow commands
        else:
            print(view, end="")
    reasons = "; ".join(decided.fail_reasons) or "nothing in --fail-on"
    print(
        f"kcheck report: {len(run.records)} records ({len(result.cases)} cases, {run.reruns} reruns) "
        f"from {len(run.shards)} shard(s) -> {out}/summary.md, junit.xml, results.jsonl, verdict.json; "
        f"exit {decided.exit_code}: {reasons}",
        file=sys.stderr,
    )
    return decided.exit_code


def run_post(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> int:
    """``kcheck post``; returns the exit status."""
    from checker.report import actions, github

    try:
        decided = verdict.read(args.reports_dir / "verdict.json")
        body = (args.reports_dir / "summary.md").read_text(encoding="utf-8")
        mark = summary.marker(args.comment_id)
    except (ValueError, OSError) as exc:
        print(f"kcheck post: {exc}", file=sys.stderr)
        return 2
    tests_code = decided.exit_code
    # The comment must carry this post's marker, whatever id summary.md was rendered with.
    lines = body.split("\n", 1)
    if lines[0].startswith("<!-- kcheck-report:"):
        body = lines[1] if len(lines) > 1 else ""
    body = f"{mark}\n{body}"
    if env.get("GITHUB_STEP_SUMMARY"):
        actions.write_step_summary(body, Path(env["GITHUB_STEP_SUMMARY"]), args.artifact)
    if args.annotations == "on" or (args.annotations == "auto" and env.get("GITHUB_ACTIONS") == "true"):
        actions.emit_annotations(decided.findings, sys.stdout)
    if args.no_comment:
        return tests_code
    token = env.get(args.token_env, "")
    if not token:
        print(
            f"kcheck post: no token in ${args.token_env}: nothing posted (a fork PR's job has none; "
            "post from a workflow_run job). Exit status is the tests'.",
            file=sys.stderr,
        )
        return tests_code
    note = (
        f"> [!NOTE]\n> Cut to GitHub's {summary.COMMENT_CHAR_LIMIT:,}-character comment limit; the full "
        f"report is in artifact `{args.artifact}`."
    )
    body = summary.fit(body, note, summary.COMMENT_CHAR_LIMIT, summary.COMMENT_BYTE_LIMIT)
    try:
        if not args.repo:
            raise github.PostError("no repository: pass --repo owner/name or set $GITHUB_REPOSITORY")
        gh = github.client(token, args.api_url)
        number = args.pr
        if number is None:
            if args.event is None:
                raise github.PostError("no PR number: pass --pr N or --event PATH ($GITHUB_EVENT_PATH)")
            number = github.pr_number(github.load_event(args.event), gh, args.repo)
        result = github.post_comment(gh, args.repo, number, body, mark, login=args.login)
    except github.PostError as exc:
        print(f"kcheck post: {exc}", file=sys.stderr)
        return tests_code or 3
    print(f"kcheck post: {result.action} comment {result.comment_id} on {args.repo}#{number}: {result.url}")
    return tests_code
