"""``kcheck report`` and ``kcheck post``: argument parsing and the two commands.

``kcheck report [SHARD ...] [--baseline BASE ...]`` merges shards into ``<out>/results.jsonl``,
``baseline.jsonl`` (the merged baseline it compared with), ``junit.xml``, ``summary.md`` (the PR
comment), ``triage.md`` (failure groups the comment links to) and ``verdict.json``, prints the
terminal view and exits 1 when the ``--fail-on`` policy finds something (default: new failures,
golden changes, unreadable shards), 3 when a record is a checker-error, else 0; 2 for usage
errors and input it cannot read at all, 5 when ``--out`` cannot be written.

``kcheck post`` renders the comment again from ``<reports-dir>/results.jsonl`` and a baseline
(``--baseline``, else the reports' ``baseline.jsonl``), decides the verdict itself (unreadable
records always fail it) and publishes it: the sticky PR comment (with a token), the step summary
and ``::error`` annotations for new failures (in GitHub Actions). It never reads ``summary.md``
or ``verdict.json``: in a ``workflow_run`` job they come from a run of the PR's own code. Exit
status: 0 / 1 the verdict (also with no token); 2 usage errors or unusable reports; 3 posting
failed and the tests passed; 4 posting failed and the tests failed.

Both: 70 when the command itself fails unexpectedly (a bug: its traceback is printed), so that
no crash reads as 1, "the tests failed". The table of every status is in docs/reports.md.
"""

from __future__ import annotations

import argparse
import enum
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from checker.atomic import write_atomic
from checker.commands.helptext import examples, paragraph
from checker.escape import for_log, md_code
from checker.perf import section as perf_section
from checker.report import junit, summary
from checker.results import runs, verdict
from checker.results.baseline import DEFAULT_FAIL_ON, Classification, FailOn, classify, parse_fail_on
from checker.results.merge import CorruptEntry, MergedRun, merge, read_shards

#: The merged baseline ``kcheck report`` compared with, written beside results.jsonl so that
#: ``kcheck post`` can redo the comparison from records (not a shard: SHARD_GLOB skips it).
BASELINE_FILE = "baseline.jsonl"

#: Exit status of every kcheck command that reads reports (report, post, triage, compare, plot,
#: bench, ingest-log): a usage error, or input that cannot be read at all.
EXIT_USAGE = 2
#: Exit status of every such command when an output it was asked to write cannot be written
#: (``--out`` below a file, a read-only directory, a full disk): distinct from the tests' 1, the
#: checker-error 3 of report and the posting failures 3 and 4 of post.
EXIT_UNWRITABLE = 5
#: Exit status of report and post when they fail unexpectedly (a bug; sysexits' EX_SOFTWARE):
#: Python's own status for an uncaught exception is 1, which reads as "the tests failed".
EXIT_INTERNAL = 70


def unwritable(command: str, path: object, exc: OSError, env: Mapping[str, str] = os.environ) -> int:
    """Say on one line that ``path`` (the output asked for) cannot be written, naming the path
    that failed and why; return :data:`EXIT_UNWRITABLE`."""
    failed = exc.filename if isinstance(exc.filename, str) and exc.filename else path
    reason = exc.strerror or type(exc).__name__
    where = f"{path}" if str(failed) == str(path) else f"{path} ({failed})"
    _say(command, f"cannot write {where}: {reason}", env)
    return EXIT_UNWRITABLE


def _guarded(command: str, run: Callable[[], int], env: Mapping[str, str]) -> int:
    try:
        return run()
    except Exception as exc:  # a bug: shown in full, with a status no workflow takes for a verdict
        detail = "".join(traceback.format_exception(exc))
        print(for_log(detail, env), file=sys.stderr, end="")
        _say(command, f"internal error ({type(exc).__name__}): exit {EXIT_INTERNAL}", env)
        return EXIT_INTERNAL


class PostExit(enum.IntEnum):
    """Exit statuses of ``kcheck post``. The tests' verdict and a posting failure are told
    apart: a workflow that accepts 1 (the PR's tests failed, its own run shows that) still fails
    on 3 or 4 (nobody saw the comment)."""

    PASSED = 0
    TESTS_FAILED = 1
    USAGE = 2
    POST_FAILED = 3
    POST_FAILED_TESTS_FAILED = 4


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report`` and ``post`` on the ``kcheck`` subcommand parser."""
    rep = sub.add_parser(
        "report",
        help="merge shards, compare with a baseline, write junit.xml, summary.md, verdict.json",
        description=paragraph(__doc__, 1),
        epilog=examples(
            "kcheck report                                  # reports/: summary.md, verdict.json",
            "kcheck report shard-*/ --baseline base.zip     # merge shards, compare with the base branch",
            "kcheck report --fail-on new,corrupt --quiet    # exit 1 only for new failures",
        ),
    )
    rep.add_argument(
        "shards",
        nargs="*",
        type=Path,
        help="results.jsonl files, directories or zip artifacts (default: <out>/results.jsonl, "
        "the latest full run)",
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
        help="what exits 1: comma list of new, golden, corrupt, flaky, pre-existing, regression "
        "(a performance regression of a timing, docs/perf.md), or none (default: corrupt,golden,new)",
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
        description=paragraph(__doc__, 2),
        epilog=examples(
            "kcheck post --reports-dir reports --baseline base/   # in a workflow, $GITHUB_TOKEN set",
            "kcheck post --no-comment                              # step summary and annotations only",
        ),
    )
    post.add_argument(
        "--reports-dir",
        type=Path,
        default=Path("reports"),
        help="kcheck report's output: results.jsonl (and baseline.jsonl) are read, nothing else",
    )
    post.add_argument(
        "--baseline",
        action="append",
        type=Path,
        default=[],
        help="the base branch's results to compare with (file, directory or zip; repeatable); "
        f"default: <reports-dir>/{BASELINE_FILE} when present, else none (every failure is new)",
    )
    post.add_argument(
        "--fail-on",
        default=",".join(sorted(f.value for f in DEFAULT_FAIL_ON)),
        help="what exits 1, as for kcheck report; unreadable records always do",
    )
    post.add_argument(
        "--commit", help="commit shown (default: the workflow_run's head_sha, else $GITHUB_SHA)"
    )
    post.add_argument(
        "--run-url", help="run link shown (default: the workflow_run's html_url, else $GITHUB_*)"
    )
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


#: Unreadable entries named one by one on stderr; the rest are counted (all are in the reports).
MAX_PRINTED_ENTRIES = 20


def _say(command: str, message: object, env: Mapping[str, str]) -> None:
    # Messages quote record text and file names: escaped so no line of them is a workflow command.
    print(for_log(f"kcheck {command}: {message}", env), file=sys.stderr)


def _say_corrupt(command: str, what: str, entries: Sequence[CorruptEntry], env: Mapping[str, str]) -> None:
    # A forged file can hold millions of bad lines: name a few, count the rest.
    for entry in entries[:MAX_PRINTED_ENTRIES]:
        _say(command, f"{what}: {entry.describe()[:500]}", env)
    if len(entries) > MAX_PRINTED_ENTRIES:
        _say(command, f"{what}: {len(entries) - MAX_PRINTED_ENTRIES} more entries", env)


def run_report(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> int:
    """``kcheck report``; returns the exit status (0; 1 under ``--fail-on``; 3 a checker-error
    record; 2 usage errors and unreadable input; 5 ``--out`` cannot be written; 70 a bug).

    Everything it prints that holds record text (the terminal view, unreadable-shard reasons,
    shard names) goes through :func:`checker.escape.for_log`.
    """
    return _guarded("report", lambda: _report(args, env), env)


def _report(args: argparse.Namespace, env: Mapping[str, str]) -> int:
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
        _say("report", exc, env)
        return EXIT_USAGE
    paths = args.shards or [runs.default_results(args.out)]
    if not args.shards:
        runs.announce("report", paths[0], env)
    run = merge(read_shards(paths))
    base = merge(read_shards(args.baseline)) if args.baseline else None
    _say_corrupt("report", "report-corrupt", run.corrupt, env)
    for dup in run.duplicate_shards:
        _say("report", f"skipped duplicate shard {dup}", env)
    if base is not None:
        _say_corrupt("report", "baseline unreadable", base.corrupt, env)
        if not base.records:
            _say("report", "the baseline has no readable records", env)
            return EXIT_USAGE
    if not run.records and not run.corrupt:
        _say("report", "no records", env)
        return EXIT_USAGE
    result = classify(run, base)
    out: Path = args.out
    perf = perf_section.summarize(run.other, base.other if base is not None else None)
    decided = perf_section.policy(verdict.of(result, fail_on), perf, fail_on)
    try:
        _write_reports(out, run, base, result, info, perf, decided)
    except OSError as exc:
        return unwritable("report", out, exc, env)
    if not args.quiet:
        from checker.report.terminal import render_classification

        view = render_classification(result, color=sys.stdout.isatty())
        print(for_log(view, env), end="" if view.endswith("\n") else "\n")
    reasons = "; ".join(decided.fail_reasons) or "nothing in --fail-on"
    _say(
        "report",
        f"{len(run.records)} records ({len(result.cases)} cases, {run.reruns} reruns) "
        f"from {len(run.shards)} shard(s) -> {out}/summary.md, triage.md, junit.xml, results.jsonl, "
        f"verdict.json; "
        f"exit {decided.exit_code}: {reasons}",
        env,
    )
    return decided.exit_code


def _write_reports(
    out: Path,
    run: MergedRun,
    base: MergedRun | None,
    result: Classification,
    info: summary.RunInfo,
    perf: perf_section.PerfSummary,
    decided: verdict.Verdict,
) -> None:
    """Every file of ``out``.

    Raises:
        OSError: one of them cannot be written.
    """
    # The merged records first: the shards may be <out>/results.jsonl itself, read above.
    write_atomic(out / "results.jsonl", _jsonl(run))
    if base is not None:
        write_atomic(out / BASELINE_FILE, _jsonl(base))
    else:
        # A baseline.jsonl left from an earlier report would make `post` compare with it.
        (out / BASELINE_FILE).unlink(missing_ok=True)
    statuses = {c.key: c.status.value for c in result.cases}
    junit.write(run.records, out / "junit.xml", corrupt=run.corrupt, statuses=statuses)
    perf = perf_section.write_artifacts(perf, out)
    rendered = summary.render(result, info, perf=perf.markdown)
    write_atomic(out / "summary.md", rendered.encode("utf-8", "surrogatepass"))
    # Beside the comment, which links each failure group to its entry here (docs/triage.md).
    write_atomic(out / summary.TRIAGE_FILE, _triage_markdown(run, out))
    verdict.write(decided, out / "verdict.json")


def _triage_markdown(run: MergedRun, out: Path) -> bytes:
    from checker.results.group import triage
    from checker.triage.render import render_markdown

    text = render_markdown(triage([(str(out / "results.jsonl"), run.records)]))
    return text.encode("utf-8", "surrogatepass")


def _jsonl(run: MergedRun) -> bytes:
    # Timing lines (run.other) after the case records, as a run writes them.
    cases = "".join(r.to_json() + "\n" for r in run.records).encode("utf-8", "surrogatepass")
    return cases + b"".join(line + b"\n" for line in run.other)


def _load_for_post(
    args: argparse.Namespace, env: Mapping[str, str]
) -> tuple[Classification, str | None, perf_section.PerfSummary]:
    """The run's records classified against the baseline post was given (or the reports' own
    baseline.jsonl), and that baseline's name for the comment.

    Raises:
        ValueError: no results.jsonl, or a baseline without any readable record.
    """
    results = runs.default_results(args.reports_dir)
    if not results.is_file():
        raise ValueError(
            f"{results}: missing; run `kcheck report` first (post renders the comment from the "
            "records, never from summary.md)"
        )
    run = merge(read_shards([results]))
    _say_corrupt("post", "report-corrupt", run.corrupt, env)
    paths: list[Path] = list(args.baseline)
    if not paths and (args.reports_dir / BASELINE_FILE).is_file():
        paths = [args.reports_dir / BASELINE_FILE]
    base = merge(read_shards(paths)) if paths else None
    if base is not None:
        _say_corrupt("post", "baseline unreadable", base.corrupt, env)
        if not base.records:
            raise ValueError(f"the baseline ({', '.join(map(str, paths))}) has no readable records")
    perf = perf_section.summarize(run.other, base.other if base is not None else None)
    return classify(run, base), (", ".join(str(p) for p in paths) or None), perf


def run_post(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> int:
    """``kcheck post``; returns a :class:`PostExit` value (as an int).

    What is trusted: nothing in ``--reports-dir``. The comment is rendered here from
    results.jsonl (each line checked by :func:`checker.results.validate.parse_record`; a line
    that fails is an unreadable entry, listed in the comment, that fails the verdict whatever
    ``--fail-on`` says), all record text escaped by :mod:`checker.report.summary`; the verdict is
    computed here. The PR number, commit and run link come from the event. Printed text goes
    through :func:`checker.escape.for_log`. A failure of post itself (a bug) is
    :data:`EXIT_INTERNAL`, never 1, which a workflow accepts as "the tests failed".
    """
    return _guarded("post", lambda: int(_post(args, env)), env)


def _post(args: argparse.Namespace, env: Mapping[str, str]) -> PostExit:
    from checker.report import actions, github

    try:
        # An unreadable line may have been a failure: it always fails the verdict here.
        fail_on = parse_fail_on(args.fail_on) | {FailOn.CORRUPT}
        mark = summary.marker(args.comment_id)
        result, baseline_source, perf = _load_for_post(args, env)
    except ValueError as exc:
        _say("post", exc, env)
        return PostExit.USAGE
    event: dict[str, Any] | None = None
    event_error: github.PostError | None = None
    if args.event is not None:
        try:
            event = github.load_event(args.event)
        except github.PostError as exc:
            event_error = exc  # fatal only where the PR number has to come from it
    commit, run_url = github.run_of(event) if event else (None, None)
    info = summary.RunInfo.from_env(
        env,
        commit=args.commit or commit,
        run_url=args.run_url or run_url,
        artifact=args.artifact,
        comment_id=args.comment_id,
        baseline_source=baseline_source,
    )
    decided = perf_section.policy(verdict.of(result, fail_on), perf, fail_on)
    tests = PostExit.TESTS_FAILED if decided.exit_code else PostExit.PASSED
    failed_post = PostExit.POST_FAILED_TESTS_FAILED if decided.exit_code else PostExit.POST_FAILED
    try:
        body = summary.render(result, info, perf=perf.markdown)
    except ValueError as exc:  # the header alone over the limit: bounded, but never a traceback
        _say("post", exc, env)
        return PostExit.USAGE
    if not body.startswith(mark):
        raise AssertionError("render() starts the comment with its marker")
    published = True
    if env.get("GITHUB_STEP_SUMMARY"):
        try:
            actions.write_step_summary(body, Path(env["GITHUB_STEP_SUMMARY"]), args.artifact)
        except OSError as exc:
            _say("post", f"posting failed: the step summary: {exc}", env)
            published = False
    if args.annotations == "on" or (args.annotations == "auto" and env.get("GITHUB_ACTIONS") == "true"):
        actions.emit_annotations(decided.findings, sys.stdout)
    if args.no_comment:
        return tests if published else failed_post
    token = env.get(args.token_env, "")
    if not token:
        _say(
            "post",
            f"no token in ${args.token_env}: nothing posted (a fork PR's job has none; post from a "
            "workflow_run job). Exit status is the tests'.",
            env,
        )
        return tests if published else failed_post
    if not args.repo:
        _say("post", "no repository: pass --repo owner/name or set $GITHUB_REPOSITORY", env)
        return PostExit.USAGE
    if args.pr is None and event is None:
        _say("post", event_error or "no PR number: pass --pr N or --event PATH ($GITHUB_EVENT_PATH)", env)
        return PostExit.USAGE
    note = (
        f"> [!NOTE]\n> Cut to GitHub's {summary.COMMENT_CHAR_LIMIT:,}-character comment limit; the full "
        f"report is in artifact {md_code(args.artifact)}."
    )
    body = summary.fit(body, note, summary.COMMENT_CHAR_LIMIT, summary.COMMENT_BYTE_LIMIT)
    number: int | None = args.pr
    try:
        gh = github.client(token, args.api_url)
        if number is None:
            assert event is not None  # checked above
            number = github.pr_number(event, gh, args.repo)
        posted = github.post_comment(gh, args.repo, number, body, mark, login=args.login)
    except github.PostError as exc:
        _say("post", f"posting failed: {exc}", env)
        return failed_post
    except Exception as exc:
        # PyGithub, requests and urllib3 raise many types on a broken network or a malformed
        # answer; whatever it was, the job must see status 3/4 and one line, not a traceback.
        _say("post", f"posting failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", env)
        return failed_post
    print(
        for_log(
            f"kcheck post: {posted.action} comment {posted.comment_id} on {args.repo}#{number}: {posted.url}",
            env,
        )
    )
    return tests if published else failed_post
