"""``ringlib parity``: prove that the new code computes what the old code computed.

Thin command-line front end of ``ringlib_parity.check``: parses the options, prints the
rich table, writes JSON/JUnit and exits 1 on any failure (2 on bad options). With
``--record DIR -- COMMAND`` / ``--compare DIR -- COMMAND`` it checks a user's script instead
(``ringlib_parity.usercode.command``).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def _split(values: Optional[List[str]]) -> list[str]:
    """``--names a,b --names c`` -> ``[a, b, c]``."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def main(
    names: Optional[List[str]] = typer.Option(
        None, "--names", help="Legacy names (registry key, name or old dotted path) or canonical patterns "
                              "(ringlib.Dilated, ...), comma-separated or repeated. Default: all."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda (cuda:N)."),
    dtype: str = typer.Option("float32", "--dtype", help="Comma-separated: float64,float32,bfloat16,float16."),
    against: Optional[str] = typer.Option(
        None, "--against", help="The original dilated_attention_pytorch: a directory holding the package "
                                "(or the package directory), or a module name it is vendored under."),
    backends: Optional[str] = typer.Option(None, "--backends", help="Comma-separated backends to test "
                                           "(default: sdpa; flex on CUDA; ring under torchrun)."),
    json_file: Optional[Path] = typer.Option(None, "--json", help="Write every result as JSON."),
    junit_file: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML (one test case per result)."),
    no_grads: bool = typer.Option(False, "--no-grads", help="Forward only (gradients are checked by default)."),
    record: Optional[Path] = typer.Option(
        None, "--record", help="Run COMMAND (after --) and record its attention calls in this directory."),
    compare: Optional[Path] = typer.Option(
        None, "--compare", help="Run COMMAND (after --) and compare its attention calls with this record."),
    full: bool = typer.Option(False, "--full", help="--record: also store full output tensors."),
    grads: bool = typer.Option(False, "--grads", help="--record: also store the gradients of the calls' inputs."),
    seed: Optional[int] = typer.Option(None, "--seed", help="--record: seed torch and random at start-up "
                                       "(--compare reuses the recorded seed)."),
    semantics: Optional[str] = typer.Option(
        None, "--semantics", help="--compare: the --semantics the code was migrated with (preserve, intended)."),
    command: Optional[List[str]] = typer.Argument(None, help="With --record/--compare: the command to run."),
) -> None:
    """Check every legacy name: shim == codemod rewrite (bitwise); every backend vs the float64
    reference (flash-attn rule); optionally the original implementation (--against).
    Or, with --record/--compare DIR -- COMMAND, check a script of yours before and after migration."""
    from rich.console import Console

    if record or compare or command:
        raise typer.Exit(_user_code(command or [], record, compare, full=full, grads=grads, seed=seed,
                                    semantics=semantics, json_file=json_file, junit_file=junit_file))
    import torch

    import ringlib_parity as parity
    from ringlib_parity.runner import DTYPES

    console = Console()
    dtypes = _split([dtype])
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        console.print(f"[red]--dtype must list some of {sorted(DTYPES)}, got {dtype!r}[/]")
        raise typer.Exit(2)
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        console.print(f"[red]--device: {exc}[/]")
        raise typer.Exit(2) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        console.print("[red]--device cuda: no CUDA device is available[/]")
        raise typer.Exit(2)
    _init_torchrun_group(dev)
    with console.status("running parity checks") as status:
        def progress(result):
            status.update(f"{result.name}  {result.check} {result.backend} {result.dtype}")
        report = parity.check(_split(names) or None, device=dev, dtypes=dtypes, against=against,
                              backends=_split([backends]) if backends else None, grads=not no_grads,
                              on_result=progress)
    if _rank() == 0:
        report.render(console)
        if json_file:
            report.write_json(json_file)
        if junit_file:
            report.write_junit(junit_file)
    raise typer.Exit(0 if report.ok else 1)


def _user_code(command: list[str], record: Optional[Path], compare: Optional[Path], **options) -> int:
    """``--record DIR -- COMMAND`` / ``--compare DIR -- COMMAND``; 2 on bad options."""
    from rich.console import Console

    from ringlib_parity.usercode import command as script_parity
    from ringlib_parity.usercode.store import RecordError

    console = Console()
    if bool(record) == bool(compare) or not command:
        console.print("[red]give exactly one of --record DIR or --compare DIR, then -- and the command to run[/]")
        return 2
    if options["semantics"] not in (None, "preserve", "intended"):
        console.print(f"[red]--semantics must be preserve or intended, got {options['semantics']!r}[/]")
        return 2
    try:
        if record:
            return script_parity.record(command, record, full=options["full"], grads=options["grads"],
                                        seed=options["seed"], console=console)
        return script_parity.compare(command, compare, semantics=options["semantics"],
                                     json_file=options["json_file"], junit_file=options["junit_file"],
                                     console=console)
    except RecordError as error:
        console.print(f"[red]{error}[/]")
        return 2


def _init_torchrun_group(device) -> None:
    """Under torchrun (WORLD_SIZE > 1) join the process group so the ring backend is tested."""
    import os

    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            import torch

            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
