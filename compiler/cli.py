"""The `archc` command: argv -> a pipeline stage -> text on stdout, diagnostics on stderr.

Exit codes: 0 valid, 1 template errors, 2 command-line misuse, 70 internal error.
`check`, `space`, `dot` and `report` never import TensorFlow or Keras.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
from pathlib import Path

from . import pipeline
from .diagnostics import ArchError, ArchErrors, ArchWarning, FileError, SourcePos, render
from .parse import decode, read_source
from .search.tuners import TUNERS
from .space import describe, format_table
from .text import plural
from .values import MAX_INT

# The stages that only some commands use (drawing, freezing, surveys, reports) are imported
# by those commands: `archc check` loads, and compiles where no bytecode is cached, only what
# checking needs.
EXIT_OK, EXIT_TEMPLATE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70
SPACE_ENUMERATION = 500  # `archc space` stays a quick listing: ~5 ms a configuration


class UsageError(Exception):
    """A command-line mistake: exit code 2."""


def parse_assignments(items: list[str] | None) -> dict[str, object]:
    """`NAME=VALUE` pairs with VALUE read as int, float, true/false or text."""
    out: dict[str, object] = {}
    for item in items or ():
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise UsageError(f"expected NAME=VALUE, found '{item}'")
        value = _scalar(raw.strip())
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise UsageError(f"--set {name.strip()}=...: {len(raw.strip()):,} digits, integers "
                             "are limited to 2**63 - 1")
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"--set {name.strip()}={raw.strip()}: expected a finite number")
        out[name.strip()] = value
    return out


def _scalar(raw: str):
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def parse_inputs(items: list[str] | None) -> dict[str, tuple]:
    """`NAME=H,W,C` pairs."""
    out = {}
    for item in items or ():
        name, sep, dims = item.partition("=")
        try:
            out[name.strip()] = tuple(int(d) for d in dims.split(","))
        except ValueError:
            raise UsageError(f"expected NAME=H,W,C with integers, found '{item}'") from None
        if not sep or not name:
            raise UsageError(f"expected NAME=H,W,C, found '{item}'")
    return out


def choose(template, hp_values: dict, seed: int | None):
    """`pipeline.choose`, with a warning for each given hyperparameter it leaves inactive."""
    arch = pipeline.choose(template, hp_values, seed)
    if seed is None:
        for name, condition in pipeline.inactive(template, hp_values, arch).items():
            print(f"warning: {name} is inactive with these choices (active when {condition}); "
                  "its value is ignored", file=sys.stderr)
    return arch


# ---------------------------------------------------------------- commands


def cmd_check(args) -> int:
    params = parse_assignments(args.set)
    results, failed = [], False
    for name in args.files:
        try:
            template = pipeline.load(name, params, import_path=args.import_path)
            warnings = [*pipeline.check_defaults(template), *pipeline.lint(template)]
        except (ArchError, ArchErrors) as exc:
            failed = True
            _report(exc)
            results.append({"file": name, "ok": False, "errors": _errors_json(exc)})
            continue
        summary = pipeline.check_summary(template)
        results.append({"file": name, "ok": True, **summary,
                        "warnings": _errors_json(ArchErrors(warnings))})
        if not args.json:
            print(_summary_line(name, summary))
        for warning in warnings:
            print(render(warning), file=sys.stderr)
    if args.json:
        print(json.dumps({"files": results}, indent=2))
    return EXIT_TEMPLATE if failed else EXIT_OK


def _summary_line(name: str, s: dict) -> str:
    if s["library"]:
        return f"{name}: ok (block library)"
    configs = "infinitely many" if s["configurations"] is None else f"{s['configurations']:,}"
    return (f"{name}: ok: template {s['template']}, {plural(len(s['inputs']), 'input')}, "
            f"{plural(len(s['outputs']), 'output')}, {plural(s['layers'], 'layer')} in the "
            f"template graph, {plural(s['hyperparameters'], 'hyperparameter')}, {configs} "
            f"configuration{'s' * (s['configurations'] != 1)}")


def cmd_space(args) -> int:
    from .identity import survey

    template = pipeline.load(args.file, parse_assignments(args.set),
                             import_path=args.import_path)
    description = describe(template)
    if args.enumerate < 0:
        raise UsageError(f"--enumerate takes a number >= 0, found {args.enumerate}")
    found = survey(template, limit=args.enumerate)
    warnings = pipeline.lint(template) + _inert_warnings(template, found)
    if args.json:
        print(json.dumps({**description, "architectures": found.as_json(),
                          "warnings": _errors_json(ArchErrors(warnings))}, indent=2))
    else:
        print(format_table(description))
        print(format_survey(found))
        for warning in warnings:
            print(render(warning), file=sys.stderr)
    return EXIT_OK


def format_survey(found) -> str:
    """What `archc space` says of the architectures: distinct and feasible ones, params and
    FLOPs."""
    if found.exact:
        head = plural(found.distinct, "distinct architecture")
    elif found.distinct is None:
        head = "infinitely many architectures (continuous floats)"
    else:
        head = (f"at most {found.distinct:,} distinct architectures (more configurations than "
                "--enumerate: sampled)")
    where = "over the space" if found.exact else f"over {found.samples} random samples"
    lines = [head, _feasible_line(found)]
    for cost, (low, high) in found.ranges.items():
        lines.append(f"{cost}: {low:,} to {high:,} ({where})")
    return "\n".join(lines)


def _feasible_line(found) -> str:
    """`N of M configurations feasible (exact)`, or an estimate with its 95 % interval."""
    if found.exact:
        return (f"{found.feasible:,} of {plural(found.configurations, 'configuration')} "
                "feasible and within budget (exact)")
    low, high = found.feasible_interval
    hits = found.samples - found.infeasible
    share = (f"{hits} of {found.samples} random samples, {100 * hits / found.samples:.0f} % "
             f"(95 % interval {100 * low:.0f} to {100 * high:.0f} %)")
    if found.configurations is None:
        return share
    return (f"about {found.feasible:,.0f} of {found.configurations:,} configurations feasible "
            f"and within budget, estimated: {share}")


def _inert_warnings(template, found) -> list:
    """A located warning for each hyperparameter that changes nothing."""
    specs = {h.name: h for h in template.hyperparameters}
    how = ("in any configuration" if found.exact
           else "in the sampled configurations it was changed in")
    return [ArchWarning(f"hyperparameter '{name}' changes nothing {how}: every value gives "
                        "the same architecture", specs[name].pos,
                        "make it a constant, or make its values differ")
            for name in found.inert
            if not (specs[name].values is not None and len(specs[name].values) == 1)]


def cmd_compile(args) -> int:
    from .lower import lower

    if args.output:
        check_output(args.output, (".keras", ".tflite"))
    template, hp_values = pipeline.load_with_settings(
        args.file, parse_assignments(args.set), parse_inputs(args.input), args.import_path)
    arch = choose(template, hp_values, args.sample)
    model = lower(arch)
    summary = pipeline.compile_summary(arch, model)
    if args.output:
        try:
            summary["file"], summary["file_bytes"] = save_model(model, args.output)
        except OSError as exc:  # checked before the work, yet a disk can fill up meanwhile
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(format_compile(summary))
    return EXIT_OK


def format_compile(s: dict) -> str:
    lines = [f"template {s['template']}"]
    if s["choices"]:
        lines.append("choices:")
        width = max(len(k) for k in s["choices"])
        lines += [f"  {k:<{width}}  {v}" for k, v in s["choices"].items()]
    lines.append(f"{'layer':<48} {'type':<24} {'output shape':<22} params")
    for layer in s["layers"]:
        dims = ("None" if d is None else str(d) for d in layer["output_shape"])
        shape = "(" + ", ".join(dims) + ")"
        shared = f" (shares {layer['shares']})" if layer["shares"] else ""
        params = f"{layer['params']:,}{shared}"
        lines.append(f"{layer['name']:<48} {layer['type']:<24} {shape:<22} {params}")
    lines.append(f"layers: {len(s['layers'])}   parameters: {s['params']:,}   "
                 f"bytes: {s['bytes']:,}   FLOPs (multiply-adds): {s['flops']:,}   "
                 f"peak activation bytes: {s['peak_activation_bytes']:,}")
    for name, shape in s["outputs"].items():
        lines.append(f"output {name}: {tuple(shape)}")
    if "file" in s:
        lines.append(f"wrote {s['file']} ({s['file_bytes']:,} bytes)")
    return "\n".join(lines)


def save_model(model, path: str) -> tuple[str, int]:
    """Save as .keras or convert to .tflite; returns the path and its size in bytes."""
    out = Path(path)
    if out.suffix == ".keras":
        model.save(out)
    elif out.suffix == ".tflite":
        from .lower import to_tflite

        out.write_bytes(to_tflite(model))
    else:
        raise UsageError(f"-o takes a .keras or .tflite file, found '{path}'")
    return str(out), out.stat().st_size


def check_output(path: str, suffixes: tuple[str, ...] = ()) -> None:
    """Before any work: `path` can be written (its folder exists and takes a new file, and it
    is not a folder itself).

    Raises:
        UsageError: it cannot, with the reason.
    """
    out = Path(path)
    if suffixes and out.suffix not in suffixes:
        raise UsageError(f"-o takes a {' or '.join(suffixes)} file, found '{path}'")
    folder = out.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(f"cannot write {path}: {folder} {what}")
    if out.is_dir():
        raise UsageError(f"cannot write {path}: it is a folder")
    try:  # a trial file proves what permission bits cannot (/proc, a read-only mount)
        import tempfile

        with tempfile.NamedTemporaryFile(dir=folder, prefix=".archc-"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_search(args) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
    settings = _settings(args)
    role = _search_role(args)
    if args.workers:
        from .search.launch import launch

        argv = args.argv[args.argv.index("search") + 1:]  # the options after the command
        return launch(argv, args.workers, log=lambda line: print(line, flush=True))
    from .search.run import search

    template = pipeline.read(args.file, args.import_path) if args.import_path else args.file
    try:
        search(template, args.data, args.dir, settings,
               log=lambda line: print(line, flush=True), role=role)
    except KeyboardInterrupt:
        print(f"interrupted: rerun the same command to resume the search in {args.dir}",
              file=sys.stderr)
        return 130
    return EXIT_OK


def _settings(args):
    """`Settings` from the options; one that pydantic refuses is a usage error naming the
    option (`--fraction: Input should be less than or equal to 1`)."""
    from pydantic import ValidationError

    from .search.settings import Settings

    try:
        return Settings(tuner=args.tuner, trials=args.trials, epochs=args.epochs,
                        patience=args.patience, seed=args.seed,
                        objective=args.objective[0] if len(args.objective or ()) == 1
                        else args.objective,
                        fraction=args.fraction, max_params=args.max_params,
                        max_bytes=args.max_bytes, max_flops=args.max_flops, keep=args.keep,
                        stop_early=args.stop_early, start_from=args.start_from,
                        params=parse_assignments(args.set), inputs=parse_inputs(args.input),
                        overwrite=args.overwrite, extend=args.extend, verbose=args.verbose,
                        strategy=args.strategy)
    except ValidationError as exc:
        problems = "; ".join(f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}"
                             for e in exc.errors())
        raise UsageError(problems) from None


def _search_role(args):
    """The process's part in a distributed search (`--chief`, `--worker`), checked."""
    import socket

    from .search.distributed import Role, check_worker_id, parse_address

    given = [name for name, on in (("--workers", args.workers), ("--chief", args.chief),
                                   ("--worker", args.worker)) if on]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)} exclude each other")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers takes a positive number")
    if args.connect_timeout <= 0 or not 0 < args.port < 65536:
        raise UsageError("--connect-timeout takes a positive number, --port one of 1..65535")
    if args.worker and not args.chief_address:
        raise UsageError("--worker needs --chief-address HOST:PORT (the chief's host and port)")
    if args.chief_address and not args.worker:
        raise UsageError("--chief-address goes with --worker")
    if args.worker and (args.overwrite or args.extend):
        raise UsageError("--overwrite and --extend are the chief's options, not a worker's")
    if args.chief:
        return Role("chief", host=args.bind, port=args.port)
    if args.worker:
        host, port = parse_address(args.chief_address)
        name = check_worker_id(args.worker_id or f"{socket.gethostname()}-{os.getpid()}")
        return Role("worker", host=host, port=port, worker_id=name,
                    connect_timeout=args.connect_timeout)
    return Role()


def cmd_landmarks(args) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # MediaPipe imports TensorFlow
    os.environ.setdefault("GLOG_minloglevel", "2")      # MediaPipe's own C++ log lines
    from .data.landmarks import extract

    summary = extract(args.images, args.out, depth_size=args.depth_size,
                      overwrite=args.overwrite, log=lambda line: print(line, flush=True))
    print(f"{summary.line()}; landmarks in {Path(args.out) / 'landmarks'}, depth maps in "
          f"{Path(args.out) / 'depth'}")
    return EXIT_OK


def cmd_dot(args) -> int:
    from .draw import render_format

    if args.output:
        check_output(args.output)
    text = _trial_dot(args) if args.trial else _template_dot(args)
    data = text.encode() if args.format == "dot" else render_format(text, args.format)
    if args.output:
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    elif args.format == "dot":
        sys.stdout.write(text)
    else:
        raise UsageError(f"--format {args.format} writes binary data: give -o FILE")
    return EXIT_OK


def _template_dot(args) -> str:
    """The template, or with --set/--sample one of its architectures."""
    from .draw import architecture_to_dot, to_dot

    if args.file is None:
        raise UsageError("dot needs a template FILE, or --trial DIR ID")
    template, hp_values = pipeline.load_with_settings(args.file, parse_assignments(args.set),
                                                      import_path=args.import_path)
    if hp_values or args.sample is not None:
        return architecture_to_dot(choose(template, hp_values, args.sample))
    return to_dot(template, compact=not args.expand, collapse=args.collapse)


def _trial_dot(args) -> str:
    """`--trial DIR ID`: that trial's architecture; with FILE, FILE with its path highlighted."""
    from .search.report import trial_dot

    if args.sample is not None:
        raise UsageError("--sample and --trial both choose the architecture: give one")
    return trial_dot(*args.trial, template=args.file, settings=parse_assignments(args.set))


def cmd_freeze(args) -> int:
    """`freeze DIR TRIAL_ID` or `freeze TEMPLATE [--set ...]`: one architecture as a
    template with no hyperparameters."""
    from .freeze import freeze
    from .search.report import trial_architecture

    if args.trial is not None:
        if args.set:
            raise UsageError("freeze DIR TRIAL_ID takes no --set: the trial fixes its values")
        arch = trial_architecture(args.source, args.trial)
    else:
        template, hp_values = pipeline.load_with_settings(args.source,
                                                          parse_assignments(args.set))
        arch = pipeline.choose(template, hp_values)
    frozen = freeze(arch, args.name)
    if args.output:
        Path(args.output).write_text(frozen)
        print(f"wrote {args.output} ({arch.params:,} params)")
    else:
        print(frozen, end="")
    return EXIT_OK


def cmd_fmt(args) -> int:
    """`fmt FILE...`: rewrite each file in the canonical layout; `--check` and `--diff` write
    nothing, and exit 1 under `--check` when a file would change; `-` is stdin to stdout."""
    from .fmt import format_source

    failed = changed = False
    for name in args.files:
        try:
            source = _fmt_read(name)
            result = format_source(source, "<stdin>" if name == "-" else name)
        except (ArchError, ArchErrors) as exc:
            failed = True
            _report(exc)
            continue
        changed |= result != source
        _fmt_output(args, name, source, result)
    return EXIT_TEMPLATE if failed or (args.check and changed) else EXIT_OK


def _fmt_read(name: str) -> str:
    if name == "-":
        return decode(sys.stdin.buffer.read(), "<stdin>")
    if not Path(name).exists():  # unlike the other commands, no bundled template by name
        raise FileError("no such file", SourcePos(name, 0, 0), "archc fmt takes .arch file paths")
    return read_source(name)


def _fmt_output(args, name: str, source: str, result: str) -> None:
    if args.diff:
        from .fmt import unified_diff

        sys.stdout.write(unified_diff(source, result, name))
    if args.check:
        if result != source:
            print(f"would reformat {name}", file=sys.stderr)
    elif name == "-":
        sys.stdout.write(result)
    elif not args.diff and result != source:
        try:
            Path(name).write_text(result, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {name}: {exc.strerror or exc}") from None
        print(f"reformatted {name}", file=sys.stderr)


def cmd_report(args) -> int:
    from .search.report import build_report, common_reference, format_report, to_json

    if args.top < 1:
        raise UsageError(f"--top takes a positive number, found {args.top}")
    reports = common_reference([build_report(d, args.top, args.size) for d in args.dirs])
    if args.plot:
        from .search.plot import plot  # matplotlib: only for a plot

        plot(reports, args.plot)
    if args.json:
        print(json.dumps(to_json(reports), indent=2, default=str))
    else:
        print("\n\n".join(format_report(r) for r in reports))
        if args.plot:
            print(f"\nwrote {args.plot}")
    return EXIT_OK


# ---------------------------------------------------------------- plumbing


def _report(exc) -> None:
    errors = exc.errors if isinstance(exc, ArchErrors) else [exc]
    for err in errors:
        print(render(err), file=sys.stderr)
    if len(errors) > 1:
        print(f"{len(errors)} errors", file=sys.stderr)


def _errors_json(exc) -> list[dict]:
    errors = exc.errors if isinstance(exc, ArchErrors) else [exc]
    return [{"file": e.pos.file if e.pos else None, "line": e.pos.line if e.pos else None,
             "column": e.pos.column if e.pos else None, "message": e.message, "hint": e.hint}
            for e in errors]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _import_path_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--import-path", action="append", default=[], metavar="DIR",
                        help="a folder that imports may name files in, besides the template's "
                             "own and the bundled templates (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The `archc` command line: one sub-parser a command (`COMMANDS`)."""
    parser = _Parser(prog="archc", description="Architecture templates for Keras.")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    return parser


def _check_parser(sub) -> None:
    """`archc check`."""
    check = sub.add_parser("check", help="check templates; one summary line per valid file")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--set", action="append", metavar="NAME=VALUE", help="set a param")
    _import_path_option(check)
    check.set_defaults(run=cmd_check)


def _space_parser(sub) -> None:
    """`archc space`."""
    space = sub.add_parser("space", help="list the hyperparameters and count configurations")
    space.add_argument("file", metavar="FILE")
    space.add_argument("--json", action="store_true", help="print one JSON object")
    space.add_argument("--set", action="append", metavar="NAME=VALUE", help="set a param")
    space.add_argument("--enumerate", type=int, default=SPACE_ENUMERATION, metavar="N",
                       help="resolve every configuration of a space of at most N for exact "
                            f"counts of distinct architectures and cost ranges (default "
                            f"{SPACE_ENUMERATION}; larger spaces are sampled)")
    _import_path_option(space)
    space.set_defaults(run=cmd_space)


def _compile_parser(sub) -> None:
    """`archc compile`."""
    comp = sub.add_parser("compile", help="build one model: defaults, --set values or --sample")
    comp.add_argument("file", metavar="FILE")
    comp.add_argument("--set", action="append", metavar="NAME=VALUE",
                      help="a hyperparameter's value or a param")
    comp.add_argument("--sample", type=int, metavar="SEED", help="a random valid configuration")
    comp.add_argument("--input", action="append", metavar="NAME=H,W,C",
                      help="override an input's shape")
    comp.add_argument("-o", "--output", metavar="OUT", help="write OUT.keras or OUT.tflite")
    comp.add_argument("--json", action="store_true", help="print one JSON object")
    _import_path_option(comp)
    comp.set_defaults(run=cmd_compile)


def _search_parser(sub) -> None:
    """`archc search`."""
    srch = sub.add_parser("search", help="search a template's space on data with Keras Tuner; "
                                         "rerun the same command to resume")
    srch.add_argument("file", metavar="FILE")
    srch.add_argument("--data", default="digits", metavar="SPEC",
                      help="digits (default), fashion_mnist[:DIR], cifar10, folder:DIR, ...")
    srch.add_argument("--dir", required=True, metavar="DIR", help="the results directory")
    srch.add_argument("--tuner", default="random", choices=tuple(TUNERS),
                      help="; ".join(f"{name}: {t.description}" for name, t in TUNERS.items()))
    srch.add_argument("--trials", type=int, default=100, metavar="N",
                      help="trials at most (default 100)")
    srch.add_argument("--epochs", type=int, default=100, metavar="N",
                      help="epochs per trial at most; Hyperband's max_epochs (default 100)")
    srch.add_argument("--patience", type=int, default=5, metavar="N",
                      help="early stopping: epochs without improvement (default 5)")
    srch.add_argument("--seed", type=int, metavar="S", help="seed the tuner, splits and weights")
    srch.add_argument("--objective", action="append", metavar="NAME[:min|max]",
                      help="a metric (val_accuracy, val_loss, ...) or params, bytes, flops; "
                           "default: val_accuracy for classification, else val_loss; "
                           "repeat it for a Pareto search (docs/search.md)")
    srch.add_argument("--set", action="append", metavar="NAME=VALUE",
                      help="fix a template param (recorded: a resume must give the same)")
    srch.add_argument("--input", action="append", metavar="NAME=H,W,C",
                      help="override an input's shape; the data is fitted to it")
    srch.add_argument("--fraction", type=float, default=1.0, metavar="F",
                      help="train on this part of train and validation (0.1, 0.4, 1)")
    srch.add_argument("--max-params", type=int, metavar="N",
                      help="reject larger candidates before any training (not counted as trials)")
    srch.add_argument("--max-bytes", type=int, metavar="N",
                      help="the same for float32 weight bytes")
    srch.add_argument("--max-flops", type=int, metavar="N",
                      help="the same for FLOPs (multiply-adds)")
    srch.add_argument("--keep", type=int, default=3, metavar="K",
                      help="keep the best K models as .keras (default 3)")
    srch.add_argument("--stop-early", default="median", choices=("never", "chance", "median"),
                      help="stop hopeless trials: never (a diverged trial is still recorded), "
                           "chance (+ a non-finite loss, accuracy at chance with a loss not "
                           "falling), median (+ below the finished trials' median; default)")
    srch.add_argument("--start-from", metavar="defaults|DIR[:TRIAL]",
                      help="the first trial: the template's defaults (its baseline), or a "
                           "trial of the search in DIR (its best unless TRIAL is given)")
    srch.add_argument("--overwrite", action="store_true", help="start afresh in DIR")
    srch.add_argument("--extend", action="store_true",
                      help="resume DIR's search with another --trials (the other settings "
                           "must match the recorded ones)")
    srch.add_argument("-v", "--verbose", action="store_true",
                      help="show Keras's per-epoch output and failed trials' tracebacks")
    _import_path_option(srch)
    _distributed_options(srch)
    srch.set_defaults(run=cmd_search)


def _distributed_options(srch) -> None:
    """`archc search`'s options of a distributed search (docs/distributed.md)."""
    dist = srch.add_argument_group("distributed search (docs/distributed.md)")
    dist.add_argument("--workers", type=int, metavar="N",
                      help="run a chief and N workers on this host, as one search")
    dist.add_argument("--chief", action="store_true",
                      help="serve the search's oracle to workers on --port")
    dist.add_argument("--port", type=int, default=8000, metavar="P",
                      help="the chief's port (default 8000)")
    dist.add_argument("--bind", default="0.0.0.0", metavar="ADDR",
                      help="the address the chief listens on (default 0.0.0.0: every one)")
    dist.add_argument("--worker", action="store_true",
                      help="train the trials of the chief at --chief-address")
    dist.add_argument("--chief-address", metavar="HOST:P", help="where a worker's chief is")
    dist.add_argument("--worker-id", metavar="NAME",
                      help="the worker's name in the results (default HOST-PID)")
    dist.add_argument("--connect-timeout", type=float, default=300.0, metavar="S",
                      help="seconds a worker waits for its chief before it gives up "
                           "(default 300)")
    dist.add_argument("--strategy", choices=("none", "mirrored"), default="none",
                      help="mirrored: train each trial on every GPU of this process "
                           "(tf.distribute.MirroredStrategy)")


def _landmarks_parser(sub) -> None:
    """`archc landmarks`."""
    marks = sub.add_parser("landmarks", help="MediaPipe Face Mesh over an image folder: "
                                             "landmark arrays and depth maps to train on")
    marks.add_argument("images", metavar="IMAGES", help="a folder of images (class sub-folders "
                                                        "are kept)")
    marks.add_argument("--out", required=True, metavar="OUT",
                       help="writes OUT/landmarks, OUT/depth and OUT/image")
    marks.add_argument("--depth-size", type=int, default=256, metavar="N",
                       help="the longer side of a depth map in pixels (default 256)")
    marks.add_argument("--overwrite", action="store_true", help="redo images already done")
    marks.set_defaults(run=cmd_landmarks)


def _dot_parser(sub) -> None:
    """`archc dot`."""
    dot = sub.add_parser("dot", help="draw the template as Graphviz DOT (or SVG/PNG)")
    dot.add_argument("file", metavar="FILE", nargs="?")
    dot.add_argument("-o", "--output", metavar="OUT")
    dot.add_argument("--format", choices=("dot", "svg", "png"), default="dot")
    dot.add_argument("--set", action="append", metavar="NAME=VALUE",
                     help="a param, or a hyperparameter's value: draws the chosen architecture")
    dot.add_argument("--sample", type=int, metavar="SEED",
                     help="draw the architecture of a random valid configuration")
    dot.add_argument("--expand", action="store_true",
                     help="draw every repetition a repeat can have (default: each repeat "
                          "once, with its range)")
    dot.add_argument("--collapse", action="append", default=[], metavar="BLOCK",
                     help="draw each call of BLOCK as one node (repeatable; `all`: every "
                          "block)")
    dot.add_argument("--trial", nargs=2, metavar=("DIR", "ID"),
                     help="draw trial ID of the search in DIR; with FILE, FILE with that "
                          "trial's path highlighted")
    _import_path_option(dot)
    dot.set_defaults(run=cmd_dot)


def _freeze_parser(sub) -> None:
    """`archc freeze`."""
    frz = sub.add_parser("freeze", help="one architecture (a trial of a search, or a template "
                                        "at --set values) as a template with no hyperparameters")
    frz.add_argument("source", metavar="DIR|TEMPLATE", help="a search's --dir, or a template")
    frz.add_argument("trial", metavar="TRIAL_ID", nargs="?", help="the trial of DIR to freeze")
    frz.add_argument("--set", action="append", metavar="NAME=VALUE",
                     help="a param, or a hyperparameter's value (with TEMPLATE)")
    frz.add_argument("--name", help="the frozen template's name (default: NAME_frozen)")
    frz.add_argument("-o", "--output", metavar="OUT.arch", help="write the template to OUT.arch")
    frz.set_defaults(run=cmd_freeze)


def _report_parser(sub) -> None:
    """`archc report`."""
    report = sub.add_parser("report", help="a search's leaderboard, choices and Pareto front")
    report.add_argument("dirs", nargs="+", metavar="DIR", help="an `archc search --dir`")
    report.add_argument("--top", type=int, default=5, metavar="N",
                        help="list the best N trials (default 5)")
    report.add_argument("--size", choices=("bytes", "params"), default="bytes",
                        help="the model size of the Pareto front and the plot (default bytes)")
    report.add_argument("--plot", metavar="FILE.png",
                        help="plot the objective against model size with the Pareto front")
    report.add_argument("--json", action="store_true", help="print one JSON object")
    report.set_defaults(run=cmd_report)


def _fmt_parser(sub) -> None:
    """`archc fmt`."""
    fmt = sub.add_parser("fmt", help="rewrite templates in the one canonical layout")
    fmt.add_argument("files", nargs="+", metavar="FILE", help="an .arch file, or - for stdin")
    fmt.add_argument("--check", action="store_true",
                     help="write nothing; list the files that would change and exit 1 if any")
    fmt.add_argument("--diff", action="store_true",
                     help="write nothing; print a unified diff of the changes")
    fmt.set_defaults(run=cmd_fmt)


def cmd_lsp(args) -> int:
    from .lsp import serve  # pygls: only for the language server

    return serve(args.import_path)


def _lsp_parser(sub) -> None:
    """`archc lsp`."""
    server = sub.add_parser("lsp", help="the language server for editors, over stdio "
                                        "(docs/editor.md)")
    _import_path_option(server)
    server.set_defaults(run=cmd_lsp)


COMMANDS = (_check_parser, _space_parser, _compile_parser, _search_parser, _landmarks_parser,
            _dot_parser, _freeze_parser, _report_parser, _fmt_parser,
            _lsp_parser)  # in `archc --help`'s order


class _ClosedSafe:
    """A stream whose reader may go away (`archc check x 2>&1 | head -1`): once a write finds
    the pipe closed, the rest of the output is dropped, so that the command still finishes
    and exits with its own status instead of a BrokenPipeError's."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()

    def _drop(self) -> None:
        """Point the file descriptor at /dev/null: the interpreter's last flush then finds
        nothing to complain about."""
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass
        self._stream = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _ClosedSafe(sys.stdout), _ClosedSafe(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = streams


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `--workers` passes it on
    try:
        return args.run(args)
    except (ArchError, ArchErrors) as exc:
        _report(exc)
        return EXIT_TEMPLATE
    except UsageError as exc:
        print(f"archc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if args.debug:
            import traceback

            traceback.print_exc()
        print(f"archc: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hint: rerun with --debug and report the traceback", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
